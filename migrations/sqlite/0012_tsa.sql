-- Tessera's own time-stamping authority (SQLite): its time-stamping units (RFC 3161 §2.3;
-- ETSI EN 319 421 "TSU"), each a key in custody and a certificate from an issuing CA with EKU
-- timeStamping critical. A unit signs tokens for a year; its certificate stays valid longer, so
-- that its tokens can be checked after it stopped signing.
CREATE TABLE pki_tsa_units (
    id          TEXT PRIMARY KEY,
    ca_id       TEXT NOT NULL REFERENCES pki_cas(id),
    key_alg     TEXT NOT NULL,
    key_backend TEXT NOT NULL,
    key_ref     BLOB NOT NULL,
    cert_der    BLOB NOT NULL,
    serial      TEXT NOT NULL,          -- of the certificate, lower-case hex
    not_before  INTEGER NOT NULL,
    not_after   INTEGER NOT NULL,
    sign_until  INTEGER NOT NULL,       -- signs no token after this
    created_at  INTEGER NOT NULL
);
CREATE INDEX pki_tsa_units_sign_until ON pki_tsa_units(sign_until);
