-- Strong authentication: passkeys (WebAuthn), TOTP, recovery codes, multi-step logins and
-- per-unit/role policies on the level of assurance.

-- WebAuthn user handle: a random UUID per user, so the authenticator never stores the user id.
ALTER TABLE users ADD COLUMN webauthn_handle TEXT;
CREATE UNIQUE INDEX users_webauthn_handle ON users(webauthn_handle);

CREATE TABLE webauthn_credentials (
    id             TEXT PRIMARY KEY,    -- base64url credential id (unique across all users)
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    passkey        TEXT NOT NULL,       -- webauthn-rs credential (public key, counter, flags) as JSON
    aaguid         TEXT NOT NULL,
    backup_eligible INTEGER NOT NULL,
    created_at     BIGINT NOT NULL,
    last_used_at   BIGINT
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials(user_id);

-- Ceremony state between the challenge and the answer (any replica may receive the answer).
CREATE TABLE webauthn_ceremonies (
    id         TEXT PRIMARY KEY,        -- SHA-256 of the handle held by the browser
    user_id    TEXT,                    -- NULL for a passkey-only (discoverable) login
    kind       TEXT NOT NULL,           -- register | authenticate | discover
    state      TEXT NOT NULL,           -- webauthn-rs state as JSON
    expires_at BIGINT NOT NULL
);

CREATE TABLE totp_credentials (
    user_id    TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret     BYTEA NOT NULL,          -- sealed (AES-256-GCM) under a key derived from the master key
    confirmed  INTEGER NOT NULL,
    last_step  BIGINT NOT NULL,           -- codes of this time step or earlier are spent
    started_by TEXT,                    -- the session or pending login that began the enrolment
    created_at BIGINT NOT NULL
);

CREATE TABLE recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,           -- keyed hash; the code is shown once
    created_at BIGINT NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- A login whose first factor is done and which waits for the second (or for enrolment).
CREATE TABLE pending_logins (
    id         TEXT PRIMARY KEY,        -- SHA-256 of the cookie value
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    amr        TEXT NOT NULL,
    auth_time  BIGINT NOT NULL,
    failures   INTEGER NOT NULL DEFAULT 0, -- wrong second factors; the login ends after a few
    expires_at BIGINT NOT NULL
);

-- Minimum level of assurance for the users of a unit (and its descendants) and/or a role.
CREATE TABLE acr_policies (
    id         TEXT PRIMARY KEY,
    unit_id    TEXT REFERENCES org_units(id) ON DELETE CASCADE,  -- NULL: every unit
    role       TEXT,                                              -- NULL: every role
    min_acr    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- The account page lists a person's recent sign-ins.
CREATE INDEX audit_log_actor ON audit_log(actor, at);
