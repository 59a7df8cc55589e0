-- Device authorization grant (RFC 8628, issue 17): kiosks and counter screens show a user code
-- that a person approves on their phone. Both codes are stored only as hashes; the polling
-- interval lives here, not in a replica's memory, so `slow_down` holds across replicas.
-- (Versions 15 and 16 are taken by other changes.) PostgreSQL.
CREATE TABLE device_codes (
    id            TEXT PRIMARY KEY,        -- SHA-256 of the device code
    user_code     TEXT NOT NULL,           -- HMAC (master key) of the normalised user code
    client_id     TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    scope         TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    interval_secs BIGINT NOT NULL,         -- grows by 5 s with each poll that came too early
    last_poll_at  BIGINT,
    slowed        INTEGER NOT NULL DEFAULT 0, -- whether the last poll came too early
    status        TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'used')),
    user_id       TEXT REFERENCES users(id) ON DELETE CASCADE,
    session_id    TEXT,                    -- the approving session: the device joins it
    decided_at    BIGINT
);
CREATE UNIQUE INDEX device_codes_user_code ON device_codes(user_code);
CREATE INDEX device_codes_expires ON device_codes(expires_at);
