-- The SOC feed (issue 16): audit entries forwarded as syslog. How far each audit chain has been
-- forwarded (the position the feed resumes from after a restart or an outage of the receiver),
-- and which replica forwards: one lease row, so that two replicas do not send at once.
-- (Version 15 is left to another change.)
CREATE TABLE syslog_positions (
    chain_id     TEXT PRIMARY KEY,
    seq          BIGINT NOT NULL,      -- last forwarded entry of the chain
    forwarded_at BIGINT NOT NULL
);
CREATE TABLE syslog_lease (
    name        TEXT PRIMARY KEY,    -- 'feed'
    owner       TEXT NOT NULL,
    lease_until BIGINT NOT NULL
);
