-- Tessera's own time-stamping authority (PostgreSQL): its time-stamping units (RFC 3161 §2.3;
-- ETSI EN 319 421 "TSU"), each a key in custody and a certificate from an issuing CA with EKU
-- timeStamping critical. A unit signs tokens for a year; its certificate stays valid longer, so
-- that its tokens can be checked after it stopped signing.
CREATE TABLE pki_tsa_units (
    id          TEXT PRIMARY KEY,
    ca_id       TEXT NOT NULL REFERENCES pki_cas(id),
    key_alg     TEXT NOT NULL,
    key_backend TEXT NOT NULL,
    key_ref     BYTEA NOT NULL,
    cert_der    BYTEA NOT NULL,
    serial      TEXT NOT NULL,          -- of the certificate, lower-case hex
    not_before  BIGINT NOT NULL,
    not_after   BIGINT NOT NULL,
    sign_until  BIGINT NOT NULL,        -- signs no token after this
    created_at  BIGINT NOT NULL
);
CREATE INDEX pki_tsa_units_sign_until ON pki_tsa_units(sign_until);
