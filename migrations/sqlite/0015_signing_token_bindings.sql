-- CSC scope `credential` (CSC API v2 §8.4.2, RFC 9396 authorization_details): an OAuth
-- authorization request whose hashes the official approves on /sign/requests/{id}, and the
-- authorization code issued after that approval. The access token redeemed from that code
-- carries the request's SAD: signatures/signHash with it needs no SAD.
CREATE TABLE signing_token_bindings (
    request_id      TEXT PRIMARY KEY REFERENCES signing_requests(id) ON DELETE CASCADE,
    auth_request_id TEXT NOT NULL UNIQUE,  -- SHA-256 of the pending authorization's handle
    code_id         TEXT UNIQUE,           -- SHA-256 of the code issued after the approval
    created_at      INTEGER NOT NULL
);
