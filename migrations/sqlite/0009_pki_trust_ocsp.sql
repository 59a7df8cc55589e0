-- PKI hardening (SQLite): trust anchors for imported certificates, the delegated OCSP
-- responders, and the shared cache of signed OCSP responses.

-- Roots (e.g. the Vietnamese national root CAs) an imported certificate may chain to, loaded
-- by the operator with `tessera trust add`.
CREATE TABLE pki_trust_anchors (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    subject     TEXT NOT NULL,          -- RFC 4514 form, for listings
    fingerprint TEXT NOT NULL,          -- SHA-256 of the DER, lower-case hex
    cert_der    BLOB NOT NULL,
    not_after   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX pki_trust_anchors_fingerprint ON pki_trust_anchors(fingerprint);

-- Delegated OCSP responders (RFC 6960 §4.2.2.2): a short-lived certificate with EKU
-- OCSPSigning and id-pkix-ocsp-nocheck, issued by the CA, whose key signs the CA's answers.
CREATE TABLE pki_ocsp_responders (
    id          TEXT PRIMARY KEY,
    ca_id       TEXT NOT NULL REFERENCES pki_cas(id),
    key_alg     TEXT NOT NULL,
    key_backend TEXT NOT NULL,
    key_ref     BLOB NOT NULL,
    cert_der    BLOB NOT NULL,
    not_before  INTEGER NOT NULL,
    not_after   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX pki_ocsp_responders_ca ON pki_ocsp_responders(ca_id, not_after);

-- Signed single-certificate OCSP responses, shared by all replicas. A row is served only while
-- the credential still has the status and updated_at it was signed for (and before
-- next_update); status changes also delete it in their own transaction.
CREATE TABLE pki_ocsp_cache (
    cert_id_hash     TEXT PRIMARY KEY,  -- SHA-256 of the request's DER CertID, hex
    ca_id            TEXT NOT NULL,
    serial           TEXT NOT NULL,
    status           TEXT NOT NULL,     -- the credential's status when signed
    cred_updated_at  INTEGER NOT NULL,  -- and its updated_at
    response_der     BLOB NOT NULL,
    next_update      INTEGER NOT NULL,
    created_at       INTEGER NOT NULL
);
CREATE INDEX pki_ocsp_cache_cert ON pki_ocsp_cache(ca_id, serial);
CREATE INDEX pki_ocsp_cache_next_update ON pki_ocsp_cache(next_update);
