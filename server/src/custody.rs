//! Which key custodian holds the token-signing keys: the HSM when `TESSERA_PKCS11_MODULE` is
//! set, else the software token. A configured HSM that cannot be used stops Tessera: there is
//! never a fallback to the software token.

use std::sync::Arc;

use anyhow::Context;
use tessera_hsm::pkcs11::{Pkcs11Config, Pkcs11Token, TokenSelector};
use tessera_hsm::soft::SoftwareToken;
use tessera_hsm::{KeyCustody, MasterKey};

use crate::settings::{Pkcs11Settings, Settings};

/// The custodian chosen by `settings`.
pub fn custody(settings: &Settings, master: &MasterKey) -> anyhow::Result<Arc<dyn KeyCustody>> {
    match &settings.pkcs11 {
        Some(hsm) => Ok(Arc::new(open_hsm(hsm)?)),
        None => Ok(Arc::new(SoftwareToken::new(master)?)),
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
