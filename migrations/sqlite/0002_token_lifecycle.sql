-- Token lifecycle (SQLite): refresh tokens with rotation families, client credentials,
-- private_key_jwt client authentication.

ALTER TABLE clients ADD COLUMN grant_types TEXT NOT NULL DEFAULT 'authorization_code';
ALTER TABLE clients ADD COLUMN auth_method TEXT NOT NULL DEFAULT 'client_secret_basic';
ALTER TABLE clients ADD COLUMN jwks TEXT;
ALTER TABLE clients ADD COLUMN jwks_uri TEXT;
ALTER TABLE clients ADD COLUMN refresh_idle_ttl INTEGER;
ALTER TABLE clients ADD COLUMN refresh_absolute_ttl INTEGER;

-- A chain of refresh tokens, each one replacing the previous. Re-use of a spent member revokes
-- the whole family (RFC 9700 §4.14.2).
CREATE TABLE refresh_families (
    id                 TEXT PRIMARY KEY,
    client_id          TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    user_id            TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id         TEXT,
    scope              TEXT NOT NULL,
    auth_time          INTEGER NOT NULL,
    acr                TEXT NOT NULL,
    amr                TEXT NOT NULL,
    offline            INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    revoked_at         INTEGER,
    revoke_reason      TEXT
);
CREATE INDEX refresh_families_user ON refresh_families(user_id);
CREATE INDEX refresh_families_session ON refresh_families(session_id);

CREATE TABLE refresh_tokens (
    id          TEXT PRIMARY KEY,    -- SHA-256 of the token
    family_id   TEXT NOT NULL REFERENCES refresh_families(id) ON DELETE CASCADE,
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,    -- idle expiry
    used_at     INTEGER
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);

-- Access tokens minted from a refresh family are revoked with it.
ALTER TABLE tokens ADD COLUMN family_id TEXT;
CREATE INDEX tokens_family ON tokens(family_id);
CREATE INDEX tokens_session ON tokens(session_id);

-- `jti` of client assertions already accepted (RFC 7523 §3 item 7), until they expire.
CREATE TABLE client_assertion_jtis (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
);
