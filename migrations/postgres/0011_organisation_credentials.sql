-- Organisation credentials (issue 12): a credential belongs to a person (user_id) or to a unit
-- (unit_id, the digital form of its seal).
ALTER TABLE pki_credentials ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE pki_credentials ADD COLUMN owner_kind TEXT NOT NULL DEFAULT 'person'; -- person | organisation
ALTER TABLE pki_credentials ADD COLUMN unit_id TEXT REFERENCES org_units(id);
ALTER TABLE pki_credentials ADD CONSTRAINT pki_credentials_owner CHECK (
    (owner_kind = 'person' AND user_id IS NOT NULL AND unit_id IS NULL)
    OR (owner_kind = 'organisation' AND unit_id IS NOT NULL AND user_id IS NULL));
CREATE INDEX pki_credentials_unit ON pki_credentials(unit_id);

-- The clients (e.g. the unit's clerk system, văn thư) a unit's administrators allowed to sign
-- with one of its organisation credentials without a per-signature approval.
CREATE TABLE pki_credential_clients (
    credential_id TEXT NOT NULL REFERENCES pki_credentials(id) ON DELETE CASCADE,
    client_id     TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    allowed_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (credential_id, client_id)
);
CREATE INDEX pki_credential_clients_client ON pki_credential_clients(client_id);

-- Images for visible signatures (Decree 30/2020, Annex I): an official's handwritten signature
-- (kind 'signature', owner a user) and a unit's seal (kind 'seal', owner a unit). PNG, ≤ 1 MB.
CREATE TABLE signing_images (
    kind        TEXT NOT NULL CHECK (kind IN ('signature', 'seal')),
    owner_id    TEXT NOT NULL,
    png         BYTEA NOT NULL,
    width       BIGINT NOT NULL,
    height      BIGINT NOT NULL,
    updated_by  TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (kind, owner_id)
);
