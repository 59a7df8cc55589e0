-- Remote signing (issue 13): applications' signing requests, the officials' approvals as
-- Signature Activation Data (SAD), and the webhook outbox. Documents and results are sealed
-- (AES-256-GCM under a key derived from the master key) and deleted after retention.

-- Clients a unit's administrators allowed to ask the unit's people for signatures with their
-- client-credentials token (scope sign:request), naming the signer.
CREATE TABLE signing_request_clients (
    client_id  TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    unit_id    TEXT NOT NULL REFERENCES org_units(id) ON DELETE CASCADE,
    allowed_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, unit_id)
);

CREATE TABLE signing_requests (
    id            TEXT PRIMARY KEY,
    client_id     TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    title         TEXT NOT NULL,
    level         TEXT NOT NULL,
    -- sign: Tessera signs on approval; authorize: a CSC client receives the SAD (authorizeCheck)
    purpose       TEXT NOT NULL CHECK (purpose IN ('sign', 'authorize')),
    status        TEXT NOT NULL,      -- pending approved rejected expired cancelled signed failed
    callback_uri  TEXT,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    decided_at    INTEGER,
    factor        TEXT,               -- the second factor proven at approval
    finished_at   INTEGER,
    fetched_at    INTEGER,            -- every result fetched: contents may go
    purge_at      INTEGER NOT NULL,   -- retention: contents and results deleted after this
    replica       TEXT,               -- the replica that signed, for the audit
    sad_sealed    BLOB                -- purpose authorize: the SAD until the client fetched it
);
CREATE INDEX signing_requests_user ON signing_requests(user_id, status);
CREATE INDEX signing_requests_purge ON signing_requests(purge_at);

CREATE TABLE signing_documents (
    request_id  TEXT NOT NULL REFERENCES signing_requests(id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('pdf', 'data', 'hash')),
    hash_alg    TEXT NOT NULL,
    digest      BLOB NOT NULL,        -- of the content in hash_alg (for 'hash', the given hash)
    sha256      TEXT NOT NULL,        -- lower-case hex, shown to the official
    options     TEXT NOT NULL,        -- JSON: appearance, result form
    content     BLOB,                 -- sealed; NULL for 'hash' and once purged
    status      TEXT NOT NULL,        -- pending signed failed
    error       TEXT,
    result      BLOB,                 -- sealed
    result_type TEXT,
    fetched_at  INTEGER,                  -- when the application fetched the result
    PRIMARY KEY (request_id, idx)
);

-- Signature Activation Data (CSC SCAL2): what one approval allows, for 5 minutes.
CREATE TABLE signing_sads (
    id             TEXT PRIMARY KEY,  -- SHA-256 of the SAD (hex); the SAD itself is never stored
    user_id        TEXT NOT NULL,
    credential_id  TEXT NOT NULL,
    request_id     TEXT,
    client_id      TEXT NOT NULL,
    hash_alg       TEXT NOT NULL,
    hashes         TEXT NOT NULL,     -- JSON array of lower-case hex digests allowed
    factor         TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
);
CREATE INDEX signing_sads_expiry ON signing_sads(expires_at);

-- One use per hash: the primary key makes a replay fail on every replica.
CREATE TABLE signing_sad_uses (
    sad_id  TEXT NOT NULL REFERENCES signing_sads(id) ON DELETE CASCADE,
    digest  TEXT NOT NULL,
    used_at INTEGER NOT NULL,
    PRIMARY KEY (sad_id, digest)
);

-- Webhooks announcing a request's outcome; claimed with a lease like backchannel_outbox. The
-- JWT is signed at delivery time and never stored.
CREATE TABLE signing_webhooks (
    request_id   TEXT NOT NULL REFERENCES signing_requests(id) ON DELETE CASCADE,
    status       TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    uri          TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      INTEGER NOT NULL,
    lease_until  INTEGER NOT NULL DEFAULT 0,
    lease_owner  TEXT,
    give_up_at   INTEGER NOT NULL,
    delivered_at INTEGER,
    abandoned_at INTEGER,
    last_status  INTEGER,
    last_error   TEXT,
    PRIMARY KEY (request_id, status)
);
CREATE INDEX signing_webhooks_due ON signing_webhooks(next_at)
    WHERE delivered_at IS NULL AND abandoned_at IS NULL;
