-- Throttling keeps its count until a success and lets it decay slowly, so `first_at` (the
-- start of a window that used to reset the count) becomes the time of the last counted attempt.
ALTER TABLE login_throttle RENAME COLUMN first_at TO last_at;

-- Audit chains keyed with HMAC-SHA-256 (version 2) beside the plain SHA-256 chains written
-- before (version 1). Every chain is registered in a chain of chains: its position, the chain
-- registered before it and a MAC over both, so a deleted chain leaves a gap that names it.
ALTER TABLE audit_chains ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE audit_chains ADD COLUMN reg_seq BIGINT;
ALTER TABLE audit_chains ADD COLUMN prev_chain TEXT;
ALTER TABLE audit_chains ADD COLUMN reg_mac TEXT;
CREATE UNIQUE INDEX audit_chains_reg_seq ON audit_chains(reg_seq);

-- Each chain's head (last sequence number and hash, with a MAC), written in the transaction of
-- every flush, so truncating a chain is seen.
CREATE TABLE audit_heads (
    chain_id   TEXT PRIMARY KEY,
    seq        BIGINT NOT NULL,
    hash       TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    mac        TEXT NOT NULL
);

-- The head of the chain of chains: the last registration, with a MAC (one row, 'chains').
CREATE TABLE audit_registry (
    name       TEXT PRIMARY KEY,
    reg_seq    BIGINT NOT NULL,
    chain_id   TEXT NOT NULL,
    mac        TEXT NOT NULL
);
