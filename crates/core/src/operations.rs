//! What operators ask of a running replica: is it ready to serve (the database answers, its
//! schema is current, the key custodian makes a signature), and the figures the metrics show.

use serde_json::json;
use tessera_hsm::KeyAlgorithm;
pub use tessera_store::ops::OpsFigures;

use crate::Provider;

/// One check per dependency: `Err` says what is wrong, for the operator (not for the public).
#[derive(Debug)]
pub struct Readiness {
    pub database: Result<(), String>,
    pub migrations: Result<(), String>,
    pub custody: Result<(), String>,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.database.is_ok() && self.migrations.is_ok() && self.custody.is_ok()
    }
}

/// Runs every check. The custodian signs a throw-away JWS with the active ES256 token key:
/// the signature every token request needs.
pub async fn readiness(p: &Provider) -> Readiness {
    let database = p.store.ping().await.map_err(|e| e.to_string());
    let migrations = match p.store.migrations_current().await {
        Ok(true) => Ok(()),
        Ok(false) => Err("database migrations pending: run `tessera migrate`".to_owned()),
        Err(e) => Err(e.to_string()),
    };
    let custody = p
        .signer
        .sign(KeyAlgorithm::Es256, "readiness-probe", &json!({}))
        .await
        .map(drop)
        .map_err(|e| e.to_string());
    Readiness {
        database,
        migrations,
        custody,
    }
}

/// Outbox depths and nearest certificate expiries.
pub async fn figures(p: &Provider) -> Result<OpsFigures, crate::CoreError> {
    Ok(p.store.ops_figures().await?)
}

/// Connections open in the database pool, and how many are idle.
pub fn database_pool(p: &Provider) -> (u32, usize) {
    p.store.pool_use()
}
