//! Signing (PKCS#11 §5.13). Tessera hashes and the token signs the digest: `CKM_RSA_PKCS` over
//! a DigestInfo, `CKM_RSA_PKCS_PSS` over the hash, `CKM_ECDSA` over the hash. This works on
//! every module (SoftHSM2 has no `CKM_ECDSA_SHA256`) and is what remote signing needs anyway,
//! where only a document's hash reaches the server.

use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};

use super::Pkcs11Token;
use super::error::Pkcs11Error;
use super::mechanism::KeySpec;
use crate::HashAlg;

fn pss_params(hash: HashAlg) -> PkcsPssParams {
    let (hash_alg, mgf) = match hash {
        HashAlg::Sha256 => (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256),
        HashAlg::Sha384 => (MechanismType::SHA384, PkcsMgfType::MGF1_SHA384),
        HashAlg::Sha512 => (MechanismType::SHA512, PkcsMgfType::MGF1_SHA512),
    };
    PkcsPssParams {
        hash_alg,
        mgf,
        // Salt as long as the hash: what RFC 8017 recommends and JWS PS256 expects.
        s_len: (hash.output_len() as u64).into(),
    }
}

/// How a digest is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DigestScheme {
    /// RSASSA-PKCS1-v1_5 (RFC 8017 §8.2): `CKM_RSA_PKCS` over DigestInfo(hash, digest).
    RsaPkcs1v15(HashAlg),
    /// RSASSA-PSS (RFC 8017 §8.1), MGF1 with the same hash, salt as long as the hash.
    RsaPss(HashAlg),
    /// ECDSA over the digest; the token answers r‖s (the JWS form, RFC 7518 §3.4).
    Ecdsa,
}

impl Pkcs11Token {
    /// Signs on the token; `name` labels the latency and failure metrics (`CKM_ECDSA`…).
    fn sign_raw(
        &self,
        id: &[u8],
        (mechanism, name): (&Mechanism<'_>, &'static str),
        data: &[u8],
    ) -> Result<Vec<u8>, Pkcs11Error> {
        let started = std::time::Instant::now();
        let result = self.pool.run(|s| {
            let key = self.private_key(s, id)?;
            Ok(s.session.sign(mechanism, key, data)?)
        });
        match &result {
            Ok(_) => {
                metrics::histogram!("tessera_hsm_operation_duration_seconds", "mechanism" => name)
                    .record(started.elapsed().as_secs_f64())
            }
            Err(_) => {
                metrics::counter!("tessera_hsm_operation_failures_total", "mechanism" => name)
                    .increment(1)
            }
        }
        result
    }

    /// Signs a precomputed `digest` with key `id`. RSA answers the signature; ECDSA answers r‖s
    /// (see [`ecdsa_raw_to_der`] for the DER form of X.509 and CMS).
    pub fn sign_digest(
        &self,
        id: &[u8],
        scheme: DigestScheme,
        digest: &[u8],
    ) -> Result<Vec<u8>, Pkcs11Error> {
        let check_len = |hash: HashAlg| {
            if digest.len() == hash.output_len() {
                Ok(())
            } else {
                Err(Pkcs11Error::Invalid(format!(
                    "a {hash:?} digest is {} bytes, got {}",
                    hash.output_len(),
                    digest.len()
                )))
            }
        };
        match scheme {
            DigestScheme::RsaPkcs1v15(hash) => {
                check_len(hash)?;
                let mut info = hash.digest_info_prefix().into_vec();
                info.extend_from_slice(digest);
                self.sign_raw(id, (&Mechanism::RsaPkcs, "CKM_RSA_PKCS"), &info)
            }
            DigestScheme::RsaPss(hash) => {
                check_len(hash)?;
                let pss = Mechanism::RsaPkcsPss(pss_params(hash));
                self.sign_raw(id, (&pss, "CKM_RSA_PKCS_PSS"), digest)
            }
            DigestScheme::Ecdsa => {
                if digest.is_empty() {
                    return Err(Pkcs11Error::Invalid("empty digest".into()));
                }
                self.sign_raw(id, (&Mechanism::Ecdsa, "CKM_ECDSA"), digest)
            }
        }
    }

    /// Ed25519 (RFC 8032 §5.1.6, "pure": the whole message goes to the token).
    pub fn sign_ed25519(&self, id: &[u8], message: &[u8]) -> Result<Vec<u8>, Pkcs11Error> {
        let params = EddsaParams::new(EddsaSignatureScheme::Pure);
        self.sign_raw(id, (&Mechanism::Eddsa(params), "CKM_EDDSA"), message)
    }
}

/// r‖s from `CKM_ECDSA` → `Ecdsa-Sig-Value` DER (RFC 5480 §2.2.3 / RFC 3279 §2.2.3), checking
/// that r and s are in range for the curve.
pub fn ecdsa_raw_to_der(spec: KeySpec, raw: &[u8]) -> Result<Vec<u8>, Pkcs11Error> {
    let bad =
        |e: ecdsa::Error| Pkcs11Error::Invalid(format!("ECDSA signature from the token: {e}"));
    match spec {
        KeySpec::P256 => Ok(p256::ecdsa::Signature::from_slice(raw)
            .map_err(bad)?
            .to_der()
            .as_bytes()
            .to_vec()),
        KeySpec::P384 => Ok(p384::ecdsa::Signature::from_slice(raw)
            .map_err(bad)?
            .to_der()
            .as_bytes()
            .to_vec()),
        _ => Err(Pkcs11Error::Invalid(format!(
            "{} is not an ECDSA key",
            spec.name()
        ))),
    }
}
