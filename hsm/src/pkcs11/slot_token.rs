//! General-purpose and slot-and-token management (PKCS#11 §5.4–5.5): loading the module,
//! finding the token, and describing both for `tessera hsm info`.

use std::path::Path;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::MechanismType;
use cryptoki::slot::{Slot, TokenInfo};

use super::config::TokenSelector;
use super::error::Pkcs11Error;

/// Loads the module and initialises it for use from many threads. A module that another part
/// of the process already initialised is fine (`CKR_CRYPTOKI_ALREADY_INITIALIZED`).
pub(crate) fn load_module(module: &Path) -> Result<Pkcs11, Pkcs11Error> {
    let load_error = |reason: String| Pkcs11Error::ModuleLoad {
        module: module.display().to_string(),
        reason,
    };
    if !module.is_file() {
        return Err(load_error("no such file".into()));
    }
    let ctx = Pkcs11::new(module).map_err(|e| load_error(e.to_string()))?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => Ok(ctx),
        Err(e) => Err(load_error(Pkcs11Error::from(e).to_string())),
    }
}

/// The token's label as the module reports it, without the blank padding.
pub(crate) fn token_label(info: &TokenInfo) -> String {
    info.label().trim_end().to_owned()
}

fn matches(selector: &TokenSelector, info: &TokenInfo) -> bool {
    match selector {
        TokenSelector::Label(label) => info.label().trim_end() == label.trim_end(),
        TokenSelector::Serial(serial) => info.serial_number().trim_end() == serial.trim_end(),
    }
}

/// Finds the slot whose token matches `selector`, looking at every slot with a token each time
/// (slot ids are not stable across re-initialisation on every module).
pub(crate) fn find_token(
    ctx: &Pkcs11,
    selector: &TokenSelector,
    module: &Path,
) -> Result<(Slot, TokenInfo), Pkcs11Error> {
    let mut present = Vec::new();
    for slot in ctx.get_slots_with_token()? {
        let info = ctx.get_token_info(slot)?;
        if matches(selector, &info) {
            if !info.token_initialized() {
                return Err(Pkcs11Error::Config(format!(
                    "the token with {selector} is not initialised"
                )));
            }
            return Ok((slot, info));
        }
        if info.token_initialized() {
            present.push(format!("{:?}", token_label(&info)));
        }
    }
    Err(Pkcs11Error::TokenNotFound {
        selector: selector.to_string(),
        module: module.display().to_string(),
        present: if present.is_empty() {
            "none".into()
        } else {
            present.join(", ")
        },
    })
}

/// Mechanisms Tessera uses, in the order `tessera hsm info` shows them.
pub const RELEVANT_MECHANISMS: [(MechanismType, &str, &str); 10] = [
    (
        MechanismType::RSA_PKCS_KEY_PAIR_GEN,
        "CKM_RSA_PKCS_KEY_PAIR_GEN",
        "RSA key generation",
    ),
    (
        MechanismType::RSA_PKCS,
        "CKM_RSA_PKCS",
        "RS256 and CMS RSA signatures (hash computed by Tessera)",
    ),
    (
        MechanismType::RSA_PKCS_PSS,
        "CKM_RSA_PKCS_PSS",
        "PS256 / RSASSA-PSS signatures",
    ),
    (
        MechanismType::SHA256_RSA_PKCS,
        "CKM_SHA256_RSA_PKCS",
        "not needed (Tessera hashes itself)",
    ),
    (
        MechanismType::ECC_KEY_PAIR_GEN,
        "CKM_EC_KEY_PAIR_GEN",
        "P-256 / P-384 key generation",
    ),
    (
        MechanismType::ECDSA,
        "CKM_ECDSA",
        "ES256 / ES384 and CMS ECDSA signatures",
    ),
    (
        MechanismType::ECDSA_SHA256,
        "CKM_ECDSA_SHA256",
        "not needed (Tessera hashes itself)",
    ),
    (
        MechanismType::ECC_EDWARDS_KEY_PAIR_GEN,
        "CKM_EC_EDWARDS_KEY_PAIR_GEN",
        "Ed25519 key generation",
    ),
    (MechanismType::EDDSA, "CKM_EDDSA", "Ed25519 signatures"),
    (
        MechanismType::SHA256,
        "CKM_SHA256",
        "not needed (Tessera hashes itself)",
    ),
];

/// What a module offers: library information, slots, tokens and the mechanisms Tessera uses.
#[derive(Clone, Debug)]
pub struct ModuleReport {
    pub module: String,
    pub library_description: String,
    pub manufacturer: String,
    pub library_version: String,
    pub cryptoki_version: String,
    pub slots: Vec<SlotReport>,
}

#[derive(Clone, Debug)]
pub struct SlotReport {
    pub id: u64,
    pub description: String,
    pub token: Option<TokenReport>,
}

#[derive(Clone, Debug)]
pub struct TokenReport {
    pub label: String,
    pub manufacturer: String,
    pub model: String,
    pub serial: String,
    pub initialized: bool,
    pub user_pin_initialized: bool,
    pub user_pin_locked: bool,
    pub user_pin_final_try: bool,
    pub user_pin_count_low: bool,
    pub mechanisms: Vec<MechanismReport>,
}

#[derive(Clone, Debug)]
pub struct MechanismReport {
    pub name: &'static str,
    pub purpose: &'static str,
    pub supported: bool,
    /// Key sizes in bits (RSA) or field sizes (EC), as the module reports them.
    pub key_sizes: Option<(usize, usize)>,
}

/// Describes `module` without logging in.
pub fn inspect_module(module: &Path) -> Result<ModuleReport, Pkcs11Error> {
    let ctx = load_module(module)?;
    let lib = ctx.get_library_info()?;
    let mut slots = Vec::new();
    for slot in ctx.get_all_slots()? {
        let slot_info = ctx.get_slot_info(slot)?;
        let token = if slot_info.token_present() {
            let info = ctx.get_token_info(slot)?;
            // Asked one by one: the full list holds vendor mechanisms that cryptoki cannot
            // name (and logs an error for each).
            let mechanisms = RELEVANT_MECHANISMS
                .iter()
                .map(|(mech, name, purpose)| {
                    let info = ctx.get_mechanism_info(slot, *mech).ok();
                    MechanismReport {
                        name,
                        purpose,
                        supported: info.is_some(),
                        key_sizes: info
                            .map(|m| (m.min_key_size(), m.max_key_size()))
                            .filter(|(lo, hi)| *lo > 0 || *hi > 0),
                    }
                })
                .collect();
            Some(TokenReport {
                label: token_label(&info),
                manufacturer: info.manufacturer_id().trim_end().to_owned(),
                model: info.model().trim_end().to_owned(),
                serial: info.serial_number().trim_end().to_owned(),
                initialized: info.token_initialized(),
                user_pin_initialized: info.user_pin_initialized(),
                user_pin_locked: info.user_pin_locked(),
                user_pin_final_try: info.user_pin_final_try(),
                user_pin_count_low: info.user_pin_count_low(),
                mechanisms,
            })
        } else {
            None
        };
        slots.push(SlotReport {
            id: slot.id(),
            description: slot_info.slot_description().trim_end().to_owned(),
            token,
        });
    }
    let v = lib.library_version();
    let c = lib.cryptoki_version();
    Ok(ModuleReport {
        module: module.display().to_string(),
        library_description: lib.library_description().trim_end().to_owned(),
        manufacturer: lib.manufacturer_id().trim_end().to_owned(),
        library_version: format!("{}.{}", v.major(), v.minor()),
        cryptoki_version: format!("{}.{}", c.major(), c.minor()),
        slots,
    })
}
