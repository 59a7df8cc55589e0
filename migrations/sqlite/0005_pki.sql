-- Certificates (SQLite): the internal CA hierarchy and officials' signing credentials.
-- Private keys never appear here: `key_ref` is a wrapped key (software token) or a token
-- object id (PKCS#11), as for signing_keys.

-- An official's title (chức vụ), for the certificate subject.
ALTER TABLE users ADD COLUMN title TEXT;

CREATE TABLE pki_cas (
    id              TEXT PRIMARY KEY,   -- short name used in URLs: root | issuing
    role            TEXT NOT NULL,      -- root | issuing
    parent_id       TEXT REFERENCES pki_cas(id),
    subject         TEXT NOT NULL,      -- RFC 4514 form, for listings
    key_alg         TEXT NOT NULL,      -- RSA-2048 | RSA-3072 | P-256
    key_backend     TEXT NOT NULL,      -- software | pkcs11 | external (key held elsewhere)
    key_ref         BLOB,               -- NULL when the key is held elsewhere (imported root)
    cert_der        BLOB NOT NULL,
    not_after       INTEGER NOT NULL,
    -- The current CRL, so every replica serves the same one; crl_number only grows.
    crl_number      INTEGER NOT NULL DEFAULT 0,
    crl_der         BLOB,
    crl_this_update INTEGER,
    crl_next_update INTEGER,
    crl_due_at      INTEGER NOT NULL DEFAULT 0, -- reissued at or after this time
    created_at      INTEGER NOT NULL
);

CREATE TABLE pki_credentials (
    id                 TEXT PRIMARY KEY,
    user_id            TEXT NOT NULL REFERENCES users(id),
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
    updated_at         INTEGER NOT NULL
);
CREATE INDEX pki_credentials_user ON pki_credentials(user_id);
CREATE INDEX pki_credentials_ca ON pki_credentials(ca_id, status);
CREATE UNIQUE INDEX pki_credentials_serial ON pki_credentials(issuer, serial);
