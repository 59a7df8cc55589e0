//! The PKCS#11 backend (HSM) on `cryptoki` 0.12: what Tessera needs and nothing more.
//!
//! * load a module by path, find the token by label (or serial), log in with the user PIN;
//! * generate RSA 2048/3072/4096, P-256, P-384 and Ed25519 key pairs that never leave the token;
//! * find keys by `CKA_ID` or label, export the public half as SubjectPublicKeyInfo;
//! * sign a digest (RSASSA-PKCS1-v1_5 with the DigestInfo, RSASSA-PSS, ECDSA as r‖s or DER),
//!   or a message with Ed25519;
//! * destroy a key only when the caller repeats its label.
//!
//! Modules follow the specification's function groups: [`slot_token`] (general purpose, slots
//! and tokens), [`session`] (a pool of logged-in sessions and fault recovery), [`object`],
//! [`key_management`], [`signing`], plus reading public keys. The RustCrypto signer traits for
//! the x509-cert and cms builders are implemented once for every custodian, by
//! [`crate::x509::CustodySigner`].

pub mod config;
pub mod error;
pub mod key_management;
pub mod mechanism;
pub mod object;
pub mod public_key;
mod recovery;
pub(crate) mod session;
pub mod signing;
pub mod slot_token;

mod custody;

use std::path::Path;
use std::sync::Arc;

pub use crate::{HashAlg, PublicKey};
pub use config::{Pin, Pkcs11Config, TokenSelector};
pub use error::Pkcs11Error;
pub use mechanism::{KeySpec, hex};
pub use object::{KeyAttributes, KeyInfo};
pub use public_key::spec_of;
pub use signing::{DigestScheme, ecdsa_raw_to_der};
pub use slot_token::{ModuleReport, inspect_module};

/// Labels of the keys Tessera generates start with this: `tessera:<use>:<alg>:<id prefix>`.
pub fn custody_label_prefix() -> &'static str {
    custody::LABEL_PREFIX
}

/// A logged-in token. Cheap to clone; every clone shares one session pool.
#[derive(Clone)]
pub struct Pkcs11Token {
    pool: Arc<session::Pool>,
}

impl std::fmt::Debug for Pkcs11Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Token")
            .field("module", &self.pool.config().module)
            .field("token", &self.pool.config().token)
            .finish()
    }
}

impl Pkcs11Token {
    /// Loads the module, finds the token and logs in. A missing module, a missing token, a
    /// wrong or locked PIN each give one clear error here.
    pub fn open(config: Pkcs11Config) -> Result<Pkcs11Token, Pkcs11Error> {
        Ok(Pkcs11Token {
            pool: Arc::new(session::Pool::open(config)?),
        })
    }

    pub fn module(&self) -> &Path {
        &self.pool.config().module
    }

    /// The token's label as the module reports it.
    pub fn token_label(&self) -> String {
        self.pool.token_label()
    }

    /// The token's manufacturer and model, e.g. `SoftHSM project SoftHSM v2`.
    pub fn token_maker(&self) -> String {
        self.pool.token_maker()
    }

    /// Whether the token is SoftHSM2: keys in files on this machine, fit for tests only.
    pub fn is_softhsm(&self) -> bool {
        self.token_maker().contains("SoftHSM")
    }

    /// How many recovery steps (finding a key again, new sessions, logging in again,
    /// re-initialising the module) were taken since the token was opened.
    pub fn recoveries(&self) -> u64 {
        self.pool.recoveries()
    }

    /// Most sessions this token opens at once.
    pub fn max_sessions(&self) -> usize {
        self.pool.config().max_sessions
    }
}
