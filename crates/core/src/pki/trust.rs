//! Trust anchors: the roots (the Vietnamese national root CAs, a licensed CA's root) that an
//! imported certificate must chain to, besides Tessera's own CAs. Managed by the operator with
//! `tessera trust add|list|remove`; every change is audited.

use serde_json::json;
use tessera_store::pki_ocsp::TrustAnchor;

use super::import::{check_ca, parse_bundle};
use super::{Actor, PkiError, hex};
use crate::Provider;
use crate::audit::Event;
use crate::secrets::random_id;

fn describe(cert: &x509_parser::certificate::X509Certificate<'_>) -> String {
    cert.subject().to_string()
}

/// Adds every certificate of `bundle` (PEM, DER or PKCS#7) as a trust anchor. Each must be a
/// CA certificate allowed to sign certificates, within its validity period; a self-signed one
/// must verify with its own key. `name` defaults to the subject's CN.
pub async fn add_anchors(
    p: &Provider,
    actor: &Actor,
    name: Option<&str>,
    bundle: &[u8],
    now: i64,
) -> Result<Vec<TrustAnchor>, PkiError> {
    let certs = parse_bundle(bundle)?;
    let mut checked = Vec::new();
    for der_bytes in &certs {
        let (_, cert) = x509_parser::parse_x509_certificate(der_bytes)
            .map_err(|e| PkiError::Invalid(format!("unreadable certificate: {e}")))?;
        check_ca(&cert, 0).map_err(|e| PkiError::Invalid(format!("not a trust anchor: {e}")))?;
        let (nb, na) = (
            cert.validity().not_before.timestamp(),
            cert.validity().not_after.timestamp(),
        );
        if now < nb || now >= na {
            return Err(PkiError::Invalid(format!(
                "the certificate {} is not within its validity period",
                describe(&cert)
            )));
        }
        if cert.subject().as_raw() == cert.issuer().as_raw() && cert.verify_signature(None).is_err()
        {
            return Err(PkiError::Invalid(format!(
                "the self-signed certificate {} does not verify with its own key",
                describe(&cert)
            )));
        }
        let cn = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|a| a.as_str().ok())
            .map(str::to_owned);
        let label = match name {
            Some(n) if certs.len() == 1 => n.trim().to_owned(),
            Some(n) => format!("{} ({})", n.trim(), cn.clone().unwrap_or_default()),
            None => cn.unwrap_or_else(|| describe(&cert)),
        };
        if label.is_empty() || label.chars().count() > 200 || label.chars().any(char::is_control) {
            return Err(PkiError::Invalid(
                "the name must be 1–200 printable characters".into(),
            ));
        }
        let fingerprint = hex(ring::digest::digest(&ring::digest::SHA256, der_bytes).as_ref());
        checked.push(TrustAnchor {
            id: random_id()?,
            name: label,
            subject: describe(&cert),
            fingerprint,
            cert_der: der_bytes.clone(),
            not_after: na,
            created_at: now,
        });
    }
    let existing = p.store.list_trust_anchors().await?;
    for a in &checked {
        if existing.iter().any(|e| e.fingerprint == a.fingerprint) {
            return Err(PkiError::Conflict(format!(
                "{} is already a trust anchor",
                a.subject
            )));
        }
    }
    for a in &checked {
        p.store.insert_trust_anchor(a).await?;
        p.audit(Event::PkiTrustAdded.at(now).actor(&actor.id).meta(&actor.meta).detail(json!({ "anchor": a.id, "name": a.name, "subject": a.subject, "sha256": a.fingerprint, "not_after": a.not_after })))
        .await?;
    }
    Ok(checked)
}

pub async fn list_anchors(p: &Provider) -> Result<Vec<TrustAnchor>, PkiError> {
    Ok(p.store.list_trust_anchors().await?)
}

/// Removes a trust anchor: certificates imported under it stay, new imports are refused.
pub async fn remove_anchor(
    p: &Provider,
    actor: &Actor,
    id: &str,
    now: i64,
) -> Result<TrustAnchor, PkiError> {
    let Some(anchor) = p
        .store
        .list_trust_anchors()
        .await?
        .into_iter()
        .find(|a| a.id == id)
    else {
        return Err(PkiError::NotFound(format!("trust anchor {id}")));
    };
    if !p.store.remove_trust_anchor(id).await? {
        return Err(PkiError::NotFound(format!("trust anchor {id}")));
    }
    p.audit(Event::PkiTrustRemoved.at(now).actor(&actor.id).meta(&actor.meta).detail(json!({ "anchor": anchor.id, "name": anchor.name, "subject": anchor.subject, "sha256": anchor.fingerprint })))
    .await?;
    Ok(anchor)
}
