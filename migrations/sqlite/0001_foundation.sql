-- Foundation schema (SQLite). Times are Unix seconds (UTC); flags are 0/1 integers so that the
-- same queries run on SQLite and PostgreSQL through sqlx's Any driver.

-- Facts about this installation, e.g. the fingerprint of the master key it was set up with,
-- so that a process started with another master key refuses to run instead of corrupting data.
CREATE TABLE instance_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE org_units (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    parent_id   TEXT REFERENCES org_units(id),
    level       TEXT NOT NULL,              -- city | department | district | commune | unit
    created_at  INTEGER NOT NULL
);
CREATE INDEX org_units_parent ON org_units(parent_id);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,         -- stable opaque subject identifier
    username      TEXT NOT NULL UNIQUE,     -- stored lower-cased
    display_name  TEXT NOT NULL,
    email         TEXT,
    email_verified INTEGER NOT NULL DEFAULT 0,
    phone         TEXT,
    phone_verified INTEGER NOT NULL DEFAULT 0,
    status        TEXT NOT NULL,            -- active | disabled
    unit_id       TEXT REFERENCES org_units(id),
    password_hash TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX users_unit ON users(unit_id);

CREATE TABLE user_roles (
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role     TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE clients (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    client_type               TEXT NOT NULL,  -- public | confidential
    secret_hash               TEXT,           -- keyed hash (HMAC-SHA-256) of the secret
    redirect_uris             TEXT NOT NULL,  -- JSON array
    post_logout_redirect_uris TEXT NOT NULL,  -- JSON array
    backchannel_logout_uri    TEXT,
    allowed_scopes            TEXT NOT NULL,  -- space separated
    token_alg                 TEXT NOT NULL,  -- ES256 | RS256
    min_acr                   TEXT,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL
);

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    alg          TEXT NOT NULL,
    backend      TEXT NOT NULL,      -- software | pkcs11
    key_ref      BLOB NOT NULL,      -- wrapped private key (software) or token key id (pkcs11)
    public_jwk   TEXT NOT NULL,
    status       TEXT NOT NULL,      -- active | retired
    created_at   INTEGER NOT NULL,
    retired_at   INTEGER,
    remove_after INTEGER
);
-- at most one active key per algorithm, even with several replicas starting at once
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys(alg) WHERE status = 'active';

-- Authorization requests waiting for the user to log in (state lives here, not in a replica).
CREATE TABLE auth_requests (
    id          TEXT PRIMARY KEY,    -- SHA-256 of the handle given to the browser
    client_id   TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    params      TEXT NOT NULL,       -- JSON of the validated request
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,   -- SHA-256 of the cookie value
    sid          TEXT NOT NULL UNIQUE, -- public session id (the `sid` claim)
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    auth_time    INTEGER NOT NULL,
    amr          TEXT NOT NULL,      -- space separated
    acr          TEXT NOT NULL,
    source_ip    TEXT,
    user_agent   TEXT,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    ended_at     INTEGER
);
CREATE INDEX sessions_user ON sessions(user_id);

-- Which clients took part in a session (for single logout later).
CREATE TABLE session_clients (
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    first_at   INTEGER NOT NULL,
    PRIMARY KEY (session_id, client_id)
);

CREATE TABLE auth_codes (
    id             TEXT PRIMARY KEY, -- SHA-256 of the code
    client_id      TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id     TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    nonce          TEXT,
    code_challenge TEXT,
    auth_time      INTEGER NOT NULL,
    acr            TEXT NOT NULL,
    amr            TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER
);

-- Every access token issued, so that a token can be revoked (code replay, logout, disable).
CREATE TABLE tokens (
    jti         TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,       -- access | refresh
    client_id   TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    user_id     TEXT REFERENCES users(id) ON DELETE CASCADE,
    session_id  TEXT,
    code_id     TEXT,
    scope       TEXT NOT NULL,
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX tokens_code ON tokens(code_id);
CREATE INDEX tokens_user ON tokens(user_id);

CREATE TABLE consents (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- Failed-login throttling per account name and per source address.
CREATE TABLE login_throttle (
    key           TEXT PRIMARY KEY,  -- 'user:<name>' or 'ip:<addr>'
    failures      INTEGER NOT NULL,
    first_at      INTEGER NOT NULL,
    blocked_until INTEGER NOT NULL
);

-- Append-only audit log: one hash chain per writer (replica or CLI run), so appends never
-- contend on a global head. Each entry carries the SHA-256 of the previous entry of its chain.
CREATE TABLE audit_chains (
    id         TEXT PRIMARY KEY,
    writer     TEXT NOT NULL,        -- host/process that owns the chain
    created_at INTEGER NOT NULL
);
CREATE TABLE audit_log (
    chain_id   TEXT NOT NULL REFERENCES audit_chains(id),
    seq        INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    event      TEXT NOT NULL,
    actor      TEXT,
    client_id  TEXT,
    source_ip  TEXT,
    outcome    TEXT NOT NULL,        -- success | failure
    detail     TEXT NOT NULL,        -- JSON
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL,
    PRIMARY KEY (chain_id, seq)
);
CREATE INDEX audit_log_at ON audit_log(at);
