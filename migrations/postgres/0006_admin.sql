-- Delegated administration (postgres): administrative roles granted over a unit and the units
-- below it, and the unit that owns each client application.
--
-- user_roles keeps the application roles released in the `roles` claim (e.g. chuyen_vien);
-- administrative rights live only here, each bound to a unit.

CREATE TABLE role_grants (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role       TEXT NOT NULL,                -- admin | cert_admin | auditor
    unit_id    TEXT NOT NULL REFERENCES org_units(id),
    granted_by TEXT NOT NULL,                -- user id of the granting administrator, or cli:<os user>
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, role, unit_id)
);
CREATE INDEX role_grants_unit ON role_grants(unit_id);

-- Clients without a unit are managed only by administrators of a top-level unit.
ALTER TABLE clients ADD COLUMN unit_id TEXT REFERENCES org_units(id);
CREATE INDEX clients_unit ON clients(unit_id);
