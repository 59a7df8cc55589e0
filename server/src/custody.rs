//! Which key custodian holds the token-signing keys: the HSM when `TESSERA_PKCS11_MODULE` is
//! set, else the software token. A configured HSM that cannot be used stops Tessera: there is
//! never a fallback to the software token.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use tessera_hsm::pkcs11::{Pkcs11Config, Pkcs11Token, TokenSelector};
use tessera_hsm::soft::SoftwareToken;
use tessera_hsm::{
    GeneratedKey, HsmError, KeyCustody, KeyHandle, KeyPurpose, KeyType, MasterKey, SignInput,
    SignScheme,
};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::settings::{Pkcs11Settings, Settings};

/// The custodian chosen by `settings`, counting its signatures in the metrics.
pub fn custody(settings: &Settings, master: &MasterKey) -> anyhow::Result<Arc<dyn KeyCustody>> {
    let inner: Arc<dyn KeyCustody> = match &settings.pkcs11 {
        Some(hsm) => Arc::new(open_hsm(hsm)?),
        None => Arc::new(SoftwareToken::new(master)?),
    };
    Ok(Arc::new(Counted(inner, AtomicBool::new(false))))
}

/// Where failed operations are announced (the server's alert task), once per run of failures.
/// Process-wide because the custodian is made deep inside `app::open`, before the provider
/// that records the alert exists.
static FAILURES: Mutex<Option<UnboundedSender<String>>> = Mutex::new(None);

/// Starts announcing failed key operations: the first failure after a success (or the first
/// ever) is sent, with its error, so that an outage gives one `alert.hsm_failure`, not one per
/// refused request.
pub fn watch_failures() -> UnboundedReceiver<String> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    *FAILURES.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
    rx
}

/// A custodian whose signatures are counted (`tessera_signatures_total`, by key purpose), and
/// whose failures are announced (see [`watch_failures`]); the flag: the last operation failed.
#[derive(Debug)]
struct Counted(Arc<dyn KeyCustody>, AtomicBool);

impl Counted {
    fn note<T>(&self, result: Result<T, HsmError>) -> Result<T, HsmError> {
        match &result {
            Ok(_) => self.1.store(false, Ordering::Relaxed),
            Err(e) => {
                if !self.1.swap(true, Ordering::Relaxed)
                    && let Some(tx) = FAILURES.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
                {
                    let _ = tx.send(e.to_string());
                }
            }
        }
        result
    }
}

impl KeyCustody for Counted {
    fn backend(&self) -> &'static str {
        self.0.backend()
    }

    fn is_hardware(&self) -> bool {
        self.0.is_hardware()
    }

    fn generate(&self, key_type: KeyType, purpose: KeyPurpose) -> Result<GeneratedKey, HsmError> {
        self.note(self.0.generate(key_type, purpose))
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
        self.note(result)
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
