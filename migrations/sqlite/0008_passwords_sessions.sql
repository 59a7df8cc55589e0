-- Session cookies rotate on every sign-in, re-authentication and step-up: the session keeps its
-- key (`id`, referenced by codes, tokens and logout records) and its `sid`, while the hash of
-- the cookie that names it changes, so a cookie copied earlier stops working at once.
ALTER TABLE sessions ADD COLUMN cookie_hash TEXT NOT NULL DEFAULT '';
-- Until now the key was the hash of the cookie.
UPDATE sessions SET cookie_hash = id;
CREATE UNIQUE INDEX sessions_cookie_hash ON sessions(cookie_hash);

-- A password set by an administrator must be changed at the next sign-in (0/1).
ALTER TABLE users ADD COLUMN password_must_change INTEGER NOT NULL DEFAULT 0;
