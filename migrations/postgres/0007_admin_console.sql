-- Administration consoles, registered API scopes and consent to administration (postgres).

-- 1 for a client pinned by the operator (`tessera client add --admin-console`): only such
-- clients obtain tokens that the administration API accepts. Never set through the API.
ALTER TABLE clients ADD COLUMN admin_console BIGINT NOT NULL DEFAULT 0;

-- API scopes (e.g. lgsp.write) are registered objects: only administrators of the scope's unit
-- (or the operator, for a scope without unit) may give one to a client.
CREATE TABLE api_scopes (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    unit_id     TEXT REFERENCES org_units(id),
    created_at  BIGINT NOT NULL
);
CREATE INDEX api_scopes_unit ON api_scopes(unit_id);

-- A consent page for `tessera:admin` shown to one session for one pending request: the form
-- carries the token whose hash is `id`; approving or denying spends it (single use).
CREATE TABLE admin_consents (
    id         TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX admin_consents_expiry ON admin_consents(expires_at);
