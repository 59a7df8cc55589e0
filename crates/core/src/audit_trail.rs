//! The operator's side of the audit log: checking its hash chains and exporting it. Writing
//! events is [`Provider::audit`] with the typed events of [`crate::audit`].

use tessera_store::audit_verify::{ExportedEntry, VerifyReport};

use crate::{CoreError, Provider};

/// Checks every chain of the log with this deployment's audit key, recording nothing (the
/// console shows this on every page of the log).
pub async fn check(p: &Provider) -> Result<VerifyReport, CoreError> {
    Ok(p.store.verify_audit(&p.keyed.audit_key()).await?)
}

/// [`check`], as the operator's `tessera audit verify` does it: a broken log raises
/// `alert.audit_verification_failed` by `actor` (entered after the check, in a chain of its own
/// writer, so the alert never hides the break).
pub async fn verify(p: &Provider, actor: &str, now: i64) -> Result<VerifyReport, CoreError> {
    let report = check(p).await?;
    if !report.problems.is_empty() {
        let first: Vec<&String> = report.problems.iter().take(10).collect();
        crate::alerts::raise_bare(
            p,
            crate::alerts::Alert::AuditVerificationFailed,
            actor,
            now,
            serde_json::json!({ "problems": report.problems.len(), "first": first }),
        )
        .await?;
    }
    Ok(report)
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
