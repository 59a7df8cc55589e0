-- LDAP/AD synchronisation (issue 17 §4). A user that came from the directory keeps the DN of
-- its entry; users who left are disabled by the sync (never deleted), which records when, so
-- that a person who comes back is enabled again while a person an administrator disabled
-- stays disabled. (Version 18 is left to another change.)
ALTER TABLE users ADD COLUMN directory_dn TEXT;
ALTER TABLE users ADD COLUMN directory_left_at INTEGER;
-- One row per directory: the lease that lets one replica (or one `tessera ldap sync`) run a
-- sync at a time, and when the next scheduled sync is due.
CREATE TABLE directory_sync (
    name        TEXT PRIMARY KEY,    -- 'ldap'
    owner       TEXT,                -- holder of the lease while a sync runs
    lease_until INTEGER NOT NULL,
    next_at     INTEGER NOT NULL,         -- the next scheduled sync
    last_finished_at INTEGER,
    last_summary TEXT                -- the last sync's counts, for operators
);
