//! End-to-end harness for Tessera.
//!
//! Starts the real `tessera` binary as a child process on a free loopback port, with its own
//! data directory and (for PostgreSQL) its own freshly created database, and drives it the way
//! a browser and a relying party would: over HTTP, following redirects by hand so that every
//! step can be asserted.
//!
//! * [`TestServer`]: one running server, plus the CLI bound to the same data.
//! * [`Browser`]: a cookie-keeping HTTP client that never follows redirects by itself.
//! * [`flow`]: the browser's side of the authorization code flow (`browser_login`, ...).
//! * [`oauth`]: hand-made authorization and token requests, PKCE, JWT inspection.
//! * [`fixture`]: the usual setup (a unit, a user, a confidential client).
//! * [`LogoutReceiver`]: a relying party's back-channel logout endpoint that records tokens.

pub mod admin;
mod backend;
mod browser;
mod cli;
pub mod console;
mod db;
pub mod fixture;
pub mod flow;
mod html;
pub mod lifecycle;
pub mod oauth;
mod receiver;
pub mod rsyslog;
mod server;
pub mod slapd;
mod tempdir;
pub mod tls;
pub mod totp;

pub use backend::{Backend, PG_URL_ENV};
pub use browser::{Browser, LoginForm, Page};
pub use cli::{CliOutput, NewClient, NewUser, RegisteredClient, run_tessera};
pub use db::AuditRow;
pub use html::{hidden_input, unescape};
pub use receiver::{LogoutReceiver, Received};
pub use server::{ServerOptions, TestServer, tessera_bin, workspace_bin};
pub use tempdir::TempDir;

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    random_bytes(n).iter().map(|b| format!("{b:02x}")).collect()
}

/// `n` random bytes from the operating system.
pub fn random_bytes(n: usize) -> Vec<u8> {
    use ring::rand::SecureRandom;
    let mut buf = vec![0u8; n];
    // SystemRandom only fails when the OS has no entropy source at all; then fall back to
    // std's randomly keyed hasher, which is enough for unique names and test nonces.
    if ring::rand::SystemRandom::new().fill(&mut buf).is_err() {
        use std::hash::{BuildHasher, Hasher};
        let state = std::collections::hash_map::RandomState::new();
        for (i, chunk) in buf.chunks_mut(8).enumerate() {
            let mut hasher = state.build_hasher();
            hasher.write_usize(i);
            chunk.copy_from_slice(&hasher.finish().to_le_bytes()[..chunk.len()]);
        }
    }
    buf
}
