-- Single logout (SQLite): why a token was revoked, and the durable outbox of back-channel
-- logout notifications (OpenID Connect Back-Channel Logout 1.0).

ALTER TABLE tokens ADD COLUMN revoke_reason TEXT;

-- One row per (ended session, client that took part in it). Written in the transaction that
-- ends the session; any replica's worker claims due rows with a lease (lease_until), so a row
-- is delivered once even with several replicas, and survives restarts. The logout token itself
-- is signed at delivery time and never stored.
CREATE TABLE backchannel_outbox (
    sid          TEXT NOT NULL,      -- the ended session's public id (the `sid` claim)
    client_id    TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL,      -- the `sub` claim
    reason       TEXT NOT NULL,      -- logout | user_disabled
    created_at   INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      INTEGER NOT NULL,   -- not attempted before this time
    lease_until  INTEGER NOT NULL DEFAULT 0,
    lease_owner  TEXT,
    give_up_at   INTEGER NOT NULL,
    delivered_at INTEGER,
    abandoned_at INTEGER,
    last_status  INTEGER,
    last_error   TEXT,
    PRIMARY KEY (sid, client_id)
);
CREATE INDEX backchannel_outbox_due ON backchannel_outbox(next_at)
    WHERE delivered_at IS NULL AND abandoned_at IS NULL;
