//! The replay guard of signed notifications: a back-channel logout token (OpenID Connect
//! Back-Channel Logout 1.0 §2.6 step 6) or a signing-request webhook is accepted once, by its
//! `jti`, for as long as it is valid.
//!
//! [`InMemoryJtiStore`], the default, remembers in the process. An application that runs as
//! several replicas behind a load balancer must share what was seen, or a captured token
//! replayed to another replica passes: store the `jti` in the application's database with a
//! unique key and its expiry (an `INSERT` that fails on a duplicate answers `false`), or in a
//! shared cache with a `SET NX` and a time to live, and delete expired rows now and then.
//!
//! ```no_run
//! use tessera_sdk::{BoxFuture, JtiStore, SdkError};
//!
//! /// Seen `jti` in the application's database, shared by all its replicas.
//! struct DbJtiStore {/* a connection pool */}
//!
//! impl JtiStore for DbJtiStore {
//!     fn remember<'a>(&'a self, jti: &'a str, until: i64, now: i64)
//!         -> BoxFuture<'a, Result<bool, SdkError>> {
//!         Box::pin(async move {
//!             // DELETE FROM seen_jti WHERE until <= now;
//!             // INSERT INTO seen_jti (jti, until) VALUES (jti, until) ON CONFLICT DO NOTHING;
//!             // Ok(rows_affected == 1)
//!             # let _ = (jti, until, now);
//!             Ok(true)
//!         })
//!     }
//! }
//! ```

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::{BoxFuture, SdkError};

/// Remembers the `jti` of accepted tokens while they are valid, so that a captured token
/// cannot be replayed. See the [module documentation](self) for applications with several
/// replicas.
pub trait JtiStore: Send + Sync {
    /// Records `jti` until `until` (Unix seconds); `Ok(false)` if it is already recorded.
    fn remember<'a>(
        &'a self,
        jti: &'a str,
        until: i64,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, SdkError>>;
}

/// A [`JtiStore`] in process memory: right for an application that runs as one instance.
#[derive(Debug, Default)]
pub struct InMemoryJtiStore {
    seen: Mutex<HashMap<String, i64>>,
}

impl JtiStore for InMemoryJtiStore {
    fn remember<'a>(
        &'a self,
        jti: &'a str,
        until: i64,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, SdkError>> {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.retain(|_, until| *until > now);
        let fresh = match seen.get(jti) {
            Some(_) => false,
            None => {
                seen.insert(jti.to_owned(), until);
                true
            }
        };
        Box::pin(async move { Ok(fresh) })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn a_jti_is_accepted_once_while_it_is_valid() {
        let store = InMemoryJtiStore::default();
        assert!(store.remember("a", 100, 10).await.unwrap());
        assert!(!store.remember("a", 100, 20).await.unwrap());
        assert!(store.remember("b", 100, 20).await.unwrap());
        // Past its validity the token itself is refused; the store forgets it.
        assert!(store.remember("a", 200, 100).await.unwrap());
    }
}
