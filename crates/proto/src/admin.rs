//! Wire types of the administration API (`/admin/api/…`): the answers of each endpoint, shared
//! by the server, the administration console, the SDK and the tests.
