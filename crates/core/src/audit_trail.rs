//! The operator's side of the audit log: checking its hash chains and exporting it. Writing
//! events is [`Provider::audit`] with the typed events of [`crate::audit`].

use tessera_store::audit_verify::{ExportedEntry, VerifyReport};

use crate::{CoreError, Provider};

/// Checks every chain of the log with this deployment's audit key.
pub async fn verify(p: &Provider) -> Result<VerifyReport, CoreError> {
    Ok(p.store.verify_audit(&p.keyed.audit_key()).await?)
}

/// Seals chains written before entries were keyed; returns how many were sealed.
pub async fn seal_legacy(p: &Provider, now: i64) -> Result<u64, CoreError> {
    Ok(p.store
        .seal_legacy_chains(&p.keyed.audit_key(), now)
        .await?)
}

/// Entries recorded at or after `since`, in chain order.
pub async fn export(p: &Provider, since: i64) -> Result<Vec<ExportedEntry>, CoreError> {
    Ok(p.store.audit_export(since).await?)
}
