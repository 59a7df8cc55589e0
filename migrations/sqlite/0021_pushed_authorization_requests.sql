-- Pushed authorization requests (RFC 9126, issue 13): a client posts its authorization request
-- to /par and sends the browser to /authorize with the request_uri it got. The validated
-- request waits here (any replica serves the browser), bound to its client, short-lived and
-- taken once. (Versions 18 to 20 are taken by other changes.)
CREATE TABLE pushed_requests (
    id          TEXT PRIMARY KEY,    -- SHA-256 of the request_uri's random part
    client_id   TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    params      TEXT NOT NULL,       -- JSON of the validated request
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX pushed_requests_expires ON pushed_requests(expires_at);
