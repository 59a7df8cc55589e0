//! `tessera sign cms`: a detached CAdES-B-B signature (ETSI EN 319 122-1) over any file, with
//! an organisation credential. The file is streamed through the hash once; the signature is
//! written atomically (temporary file, then rename); the use is audited.

use std::path::PathBuf;

use serde_json::json;
use tessera_formats::cades::{self, Profile};
use tessera_hsm::HashAlg;

use super::blocking_signing;
use super::organisation::audited_signer;
use super::{SigningError, hash_file, scheme_for, write_atomically};
use crate::Provider;
use crate::audit::Event;
use crate::pki::{Actor, hex};

/// What to sign and how.
#[derive(Clone, Debug)]
pub struct CmsRequest {
    pub credential_id: String,
    pub input: PathBuf,
    pub output: PathBuf,
    pub hash: HashAlg,
    /// RSA-PSS instead of PKCS#1 v1.5 (RSA keys only).
    pub pss: bool,
    /// Level B-T: add a signature timestamp from the TSA (RFC 3161 Appendix A).
    pub timestamp: bool,
    /// The calling client, which the credential's unit must have allowed; `None` for the
    /// operator's command line.
    pub client_id: Option<String>,
}

/// What was signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CmsSigned {
    pub credential_id: String,
    pub unit_id: String,
    pub output: PathBuf,
    /// The content's size in bytes and its digest (lower-case hex).
    pub content_bytes: u64,
    pub content_digest: String,
    pub hash: HashAlg,
    /// The signature algorithm (e.g. `RsaPss(Sha256)`).
    pub scheme: String,
    pub signature_bytes: usize,
}

/// Signs `req.input` into `req.output` (DER, `.p7s`) at level B-B (B-T with
/// `req.timestamp`), with the signing time
/// `now`. Nothing is written unless the whole signature was made.
pub async fn sign_cms_file(
    p: &Provider,
    actor: &Actor,
    req: &CmsRequest,
    now: i64,
) -> Result<CmsSigned, SigningError> {
    let signer = audited_signer(
        p,
        actor,
        "cms",
        &req.credential_id,
        req.client_id.as_deref(),
        now,
    )
    .await?;
    let scheme = scheme_for(signer.credential.key_alg, req.hash, req.pss)?;
    let (input, output, hash) = (req.input.clone(), req.output.clone(), req.hash);
    if input == output {
        return Err(SigningError::Invalid(
            "the output must be another file than the input".into(),
        ));
    }
    let certs = signer.certs();
    let custody_signer = signer.custody_signer(scheme)?;
    let (digest, size, cms) = blocking_signing(move || {
        let (digest, size) = hash_file(hash, &input)?;
        let cms = cades::sign_detached(
            &custody_signer,
            &certs,
            &digest,
            Profile::Cades { signing_time: now },
        )?;
        Ok((digest, size, cms))
    })
    .await?;
    let cms = if req.timestamp {
        super::tsa::add_signature_timestamp(p, &cms, now).await?
    } else {
        cms
    };
    write_atomically(&output, &cms)?;
    let sig_len = cms.len();
    let level = if req.timestamp { "B-T" } else { "B-B" };
    let signed = CmsSigned {
        credential_id: req.credential_id.clone(),
        unit_id: signer.unit_id().to_owned(),
        output: req.output.clone(),
        content_bytes: size,
        content_digest: hex(&digest),
        hash,
        scheme: format!("{scheme:?}"),
        signature_bytes: sig_len,
    };
    p.audit(
        Event::SigningCmsSigned
            .at(now)
            .actor(&actor.id)
            .maybe_client(req.client_id.as_deref())
            .meta(&actor.meta)
            .detail(json!({
                "credential": signed.credential_id,
                "unit": signed.unit_id,
                "level": level,
                "hash": hash.name(),
                "scheme": signed.scheme,
                "content_bytes": size,
                "content_digest": signed.content_digest,
            })),
    )
    .await?;
    Ok(signed)
}
