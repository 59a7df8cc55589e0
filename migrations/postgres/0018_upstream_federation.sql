-- Identity brokering to upstream OpenID Connect providers (issue 17 §1, VNeID federation).
-- Everything a replica needs to finish a sign-in another replica began lives here: the
-- upstreams, the state/nonce/PKCE verifier of each sign-in in flight, the links between an
-- upstream identity and a Tessera account, and the upstream ID token of each session (for
-- RP-initiated logout upstream).
CREATE TABLE upstreams (
    id            TEXT PRIMARY KEY,        -- short name, e.g. vneid
    display_name  TEXT NOT NULL,           -- shown on the login page's button
    issuer        TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    client_secret BYTEA,                    -- sealed (AES-256-GCM) under the master key
    scopes        TEXT NOT NULL,           -- space-separated, beyond openid
    claim_map     TEXT NOT NULL,           -- JSON object: Tessera field -> upstream claim
    acr_map       TEXT NOT NULL,           -- JSON object: upstream acr -> Tessera level
    population    TEXT NOT NULL CHECK (population IN ('citizens', 'officials')),
    created_at    BIGINT NOT NULL
);

CREATE TABLE upstream_logins (
    id            TEXT PRIMARY KEY,        -- SHA-256 of the state sent upstream
    upstream_id   TEXT NOT NULL REFERENCES upstreams(id) ON DELETE CASCADE,
    nonce         TEXT NOT NULL,
    pkce_verifier BYTEA NOT NULL,           -- sealed
    req           TEXT,                    -- handle of the pending authorization request
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX upstream_logins_expires ON upstream_logins(expires_at);

-- An upstream identity is named by (issuer, subject), never by e-mail.
CREATE TABLE federated_identities (
    issuer        TEXT NOT NULL,
    subject       TEXT NOT NULL,
    upstream_id   TEXT NOT NULL REFERENCES upstreams(id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    claims        TEXT NOT NULL,           -- JSON: the mapped claims of the last sign-in
    created_at    BIGINT NOT NULL,
    last_login_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX federated_identities_user ON federated_identities(user_id);

-- An upstream identity not yet linked, waiting for the official's own password.
CREATE TABLE upstream_link_offers (
    id            TEXT PRIMARY KEY,        -- SHA-256 of the browser's handle
    upstream_id   TEXT NOT NULL REFERENCES upstreams(id) ON DELETE CASCADE,
    issuer        TEXT NOT NULL,
    subject       TEXT NOT NULL,
    acr           TEXT NOT NULL,
    claims        TEXT NOT NULL,           -- JSON: the mapped claims
    id_token      BYTEA NOT NULL,           -- sealed; the hint for logging out upstream
    req           TEXT,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);

CREATE TABLE upstream_sessions (
    session_id    TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
    upstream_id   TEXT NOT NULL REFERENCES upstreams(id) ON DELETE CASCADE,
    id_token      BYTEA NOT NULL,           -- sealed; id_token_hint at the end_session_endpoint
    created_at    BIGINT NOT NULL
);

-- Which population may sign in to a client: officials (the default when absent), citizens or
-- both.
CREATE TABLE client_audiences (
    client_id     TEXT PRIMARY KEY REFERENCES clients(id) ON DELETE CASCADE,
    audience      TEXT NOT NULL CHECK (audience IN ('citizens', 'officials', 'both'))
);
