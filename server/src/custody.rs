//! Which key custodian holds the token-signing keys: the HSM when `TESSERA_PKCS11_MODULE` is
//! set, else the software token. A configured HSM that cannot be used stops Tessera: there is
//! never a fallback to the software token.

use std::sync::Arc;

use anyhow::Context;
use tessera_hsm::pkcs11::{Pkcs11Config, Pkcs11Token, TokenSelector};
use tessera_hsm::soft::SoftwareToken;
use tessera_hsm::{
    GeneratedKey, HsmError, KeyCustody, KeyHandle, KeyPurpose, KeyType, MasterKey, SignInput,
    SignScheme,
};

use crate::settings::{Pkcs11Settings, Settings};

/// The custodian chosen by `settings`, counting its signatures in the metrics.
pub fn custody(settings: &Settings, master: &MasterKey) -> anyhow::Result<Arc<dyn KeyCustody>> {
    let inner: Arc<dyn KeyCustody> = match &settings.pkcs11 {
        Some(hsm) => Arc::new(open_hsm(hsm)?),
        None => Arc::new(SoftwareToken::new(master)?),
    };
    Ok(Arc::new(Counted(inner)))
}

/// A custodian whose signatures are counted (`tessera_signatures_total`, by key purpose).
#[derive(Debug)]
struct Counted(Arc<dyn KeyCustody>);

impl KeyCustody for Counted {
    fn backend(&self) -> &'static str {
        self.0.backend()
    }

    fn is_hardware(&self) -> bool {
        self.0.is_hardware()
    }

    fn generate(&self, key_type: KeyType, purpose: KeyPurpose) -> Result<GeneratedKey, HsmError> {
        self.0.generate(key_type, purpose)
    }

    fn public_key(&self, key: KeyHandle<'_>) -> Result<Vec<u8>, HsmError> {
        self.0.public_key(key)
    }

    fn sign(
        &self,
        key: KeyHandle<'_>,
        scheme: SignScheme,
        input: SignInput<'_>,
    ) -> Result<Vec<u8>, HsmError> {
        let result = self.0.sign(key, scheme, input);
        let family = if result.is_ok() {
            "tessera_signatures_total"
        } else {
            "tessera_signature_failures_total"
        };
        metrics::counter!(family, "purpose" => key.purpose.label(), "backend" => self.0.backend())
            .increment(1);
        result
    }

    fn parallelism(&self) -> usize {
        self.0.parallelism()
    }
}

/// Opens the configured token and logs in.
pub fn open_hsm(hsm: &Pkcs11Settings) -> anyhow::Result<Pkcs11Token> {
    let config = Pkcs11Config::new(
        &hsm.module,
        TokenSelector::Label(hsm.token_label.clone()),
        hsm.pin.clone(),
    );
    let token = Pkcs11Token::open(config).with_context(|| {
        format!(
            "the HSM configured with TESSERA_PKCS11_MODULE={} cannot be used (Tessera does not fall \
             back to the software token)",
            hsm.module.display()
        )
    })?;
    tracing::info!(
        module = %hsm.module.display(),
        token = %token.token_label(),
        maker = %token.token_maker(),
        sessions = token.max_sessions(),
        "token-signing keys are held by the HSM (PKCS#11)"
    );
    if token.is_softhsm() {
        tracing::warn!(
            "the HSM is SoftHSM2, a software token keeping keys in files on this machine: \
             for tests, not for production"
        );
    }
    Ok(token)
}
