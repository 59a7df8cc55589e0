-- Organisation credentials (issue 12): a credential belongs to a person (user_id) or to a unit
-- (unit_id, the digital form of its seal). SQLite cannot drop NOT NULL in place, so the table
-- is rebuilt (https://www.sqlite.org/lang_altertable.html#otheralter); nothing references it yet.
CREATE TABLE pki_credentials_new (
    id                 TEXT PRIMARY KEY,
    user_id            TEXT REFERENCES users(id),
    status             TEXT NOT NULL,   -- pending | active | suspended | revoked | expired
    source             TEXT NOT NULL,   -- internal | external
    ca_id              TEXT REFERENCES pki_cas(id), -- the internal CA that issued it
    key_alg            TEXT NOT NULL,
    key_backend        TEXT NOT NULL,
    key_ref            BLOB NOT NULL,
    csr_der            BLOB NOT NULL,
    cert_der           BLOB,
    chain_der          BLOB,            -- issuer certificates up to the root, DER, concatenated
    serial             TEXT,            -- lower-case hex
    issuer             TEXT,
    subject            TEXT,
    not_before         INTEGER,
    not_after          INTEGER,
    revocation_reason  TEXT,            -- RFC 5280 §5.3.1 name, e.g. keyCompromise
    revoked_at         INTEGER,
    suspended_at       INTEGER,
    renewed_from       TEXT,
    expiry_notified_at INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    owner_kind         TEXT NOT NULL DEFAULT 'person', -- person | organisation
    unit_id            TEXT REFERENCES org_units(id),
    CONSTRAINT pki_credentials_owner CHECK (
        (owner_kind = 'person' AND user_id IS NOT NULL AND unit_id IS NULL)
        OR (owner_kind = 'organisation' AND unit_id IS NOT NULL AND user_id IS NULL))
);
INSERT INTO pki_credentials_new (id, user_id, status, source, ca_id, key_alg, key_backend,
    key_ref, csr_der, cert_der, chain_der, serial, issuer, subject, not_before, not_after,
    revocation_reason, revoked_at, suspended_at, renewed_from, expiry_notified_at, created_at,
    updated_at, owner_kind, unit_id)
SELECT id, user_id, status, source, ca_id, key_alg, key_backend, key_ref, csr_der, cert_der,
    chain_der, serial, issuer, subject, not_before, not_after, revocation_reason, revoked_at,
    suspended_at, renewed_from, expiry_notified_at, created_at, updated_at, 'person', NULL
FROM pki_credentials;
DROP TABLE pki_credentials;
ALTER TABLE pki_credentials_new RENAME TO pki_credentials;
CREATE INDEX pki_credentials_user ON pki_credentials(user_id);
CREATE INDEX pki_credentials_ca ON pki_credentials(ca_id, status);
CREATE UNIQUE INDEX pki_credentials_serial ON pki_credentials(issuer, serial);
CREATE INDEX pki_credentials_unit ON pki_credentials(unit_id);

-- The clients (e.g. the unit's clerk system, văn thư) a unit's administrators allowed to sign
-- with one of its organisation credentials without a per-signature approval.
CREATE TABLE pki_credential_clients (
    credential_id TEXT NOT NULL REFERENCES pki_credentials(id) ON DELETE CASCADE,
    client_id     TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    allowed_by    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (credential_id, client_id)
);
CREATE INDEX pki_credential_clients_client ON pki_credential_clients(client_id);

-- Images for visible signatures (Decree 30/2020, Annex I): an official's handwritten signature
-- (kind 'signature', owner a user) and a unit's seal (kind 'seal', owner a unit). PNG, ≤ 1 MB.
CREATE TABLE signing_images (
    kind        TEXT NOT NULL CHECK (kind IN ('signature', 'seal')),
    owner_id    TEXT NOT NULL,
    png         BLOB NOT NULL,
    width       INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    updated_by  TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (kind, owner_id)
);
