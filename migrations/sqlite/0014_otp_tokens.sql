-- Hardware OTP tokens (issue 13): one-time-password devices that administrators provision from
-- the vendor's seed file (HOTP, RFC 4226; TOTP, RFC 6238). A token belongs to one person.
-- (Version 13 is taken by another change.)
CREATE TABLE otp_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    serial       TEXT NOT NULL,          -- printed on the device; unique
    kind         TEXT NOT NULL CHECK (kind IN ('totp', 'hotp')),
    secret       BLOB NOT NULL,          -- sealed (AES-256-GCM) under a key derived from the master key
    digits       INTEGER NOT NULL CHECK (digits BETWEEN 6 AND 8),
    algorithm    TEXT NOT NULL CHECK (algorithm IN ('SHA1', 'SHA256', 'SHA512')),
    period       INTEGER,                -- TOTP: seconds per time step; NULL for HOTP
    last_used    INTEGER NOT NULL,       -- TOTP: last accepted time step; HOTP: last accepted
                                         -- counter. Codes up to it are spent.
    last_used_at INTEGER,
    disabled     INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    CHECK ((kind = 'totp' AND period IS NOT NULL AND period > 0) OR (kind = 'hotp' AND period IS NULL))
);
CREATE UNIQUE INDEX otp_tokens_serial ON otp_tokens(serial);
CREATE INDEX otp_tokens_user ON otp_tokens(user_id);
