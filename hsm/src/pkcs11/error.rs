//! Errors of the PKCS#11 backend. A failed call records which PKCS#11 function failed and its
//! `CKR_*` code, and says whether reopening a session or reloading the module may cure it.

use cryptoki::context::Function;
use cryptoki::error::{Error as CkError, RvError};

#[derive(Debug, thiserror::Error)]
pub enum Pkcs11Error {
    #[error("PKCS#11 configuration: {0}")]
    Config(String),
    #[error("cannot load the PKCS#11 module {module}: {reason}")]
    ModuleLoad { module: String, reason: String },
    /// A PKCS#11 function returned an error.
    #[error("{function} failed: {code}")]
    Call {
        /// e.g. `C_Sign`.
        function: String,
        /// e.g. `CKR_DEVICE_REMOVED`.
        code: String,
        rv: RvError,
    },
    #[error("no token with {selector} in the PKCS#11 module {module} (tokens present: {present})")]
    TokenNotFound {
        selector: String,
        module: String,
        present: String,
    },
    #[error(
        "wrong user PIN for token {token} (C_Login: CKR_PIN_INCORRECT){}",
        if *.final_try { "; the next wrong PIN locks it" } else { "" }
    )]
    PinIncorrect { token: String, final_try: bool },
    #[error(
        "the user PIN of token {token} is LOCKED after too many wrong PINs (CKR_PIN_LOCKED); the security officer must unlock it"
    )]
    PinLocked { token: String },
    #[error("no private key with CKA_ID {id} on the token")]
    KeyNotFound { id: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Invalid(String),
    #[error("refusing to destroy key {id}: the confirmation must repeat its label {label:?}")]
    NotConfirmed { id: String, label: String },
    /// The token cannot be used now (every recovery step failed, or the last one did moments
    /// ago): a fault of the HSM, not of the request. Callers answer "try again later".
    #[error("the HSM is unavailable: {cause}")]
    Unavailable { cause: String },
}

/// What may cure a failed call, in the order recovery escalates: when a step does not cure
/// the fault, the next one is tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Recovery {
    /// Nothing: report the error.
    None,
    /// A cached object handle is stale: look the key up again.
    FindKey,
    /// The session is gone: open new ones (and log in again).
    NewSession,
    /// The application was logged out: log in again.
    Login,
    /// The module lost the token or was finalized: `C_Finalize`, then `C_Initialize` again.
    Reinitialize,
}

impl Recovery {
    /// The step after this one, if any.
    pub(crate) fn next(self) -> Option<Recovery> {
        match self {
            Recovery::None => Some(Recovery::FindKey),
            Recovery::FindKey => Some(Recovery::NewSession),
            Recovery::NewSession => Some(Recovery::Login),
            Recovery::Login => Some(Recovery::Reinitialize),
            Recovery::Reinitialize => None,
        }
    }

    /// Name in logs and in the `step` label of `tessera_hsm_recoveries_total`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Recovery::None => "none",
            Recovery::FindKey => "find_key",
            Recovery::NewSession => "new_session",
            Recovery::Login => "login",
            Recovery::Reinitialize => "reinitialize",
        }
    }
}

impl Pkcs11Error {
    pub(crate) fn call(rv: RvError, function: Function) -> Pkcs11Error {
        Pkcs11Error::Call {
            function: function_name(function),
            code: ckr_name(rv),
            rv,
        }
    }

    pub(crate) fn recovery(&self) -> Recovery {
        match self {
            Pkcs11Error::Call { rv, .. } => recovery_for(*rv),
            // Met while reconnecting: the module or the token is not (yet) back.
            Pkcs11Error::ModuleLoad { .. } | Pkcs11Error::TokenNotFound { .. } => {
                Recovery::Reinitialize
            }
            _ => Recovery::None,
        }
    }

    /// Whether the HSM could not be used at all (rather than this request being wrong).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Pkcs11Error::Unavailable { .. })
    }
}

pub(crate) fn recovery_for(rv: RvError) -> Recovery {
    match rv {
        RvError::SessionHandleInvalid | RvError::SessionClosed | RvError::SessionCount => {
            Recovery::NewSession
        }
        RvError::UserNotLoggedIn => Recovery::Login,
        RvError::KeyHandleInvalid | RvError::ObjectHandleInvalid => Recovery::FindKey,
        RvError::CryptokiNotInitialized
        | RvError::DeviceRemoved
        | RvError::DeviceError
        | RvError::DeviceMemory
        | RvError::GeneralError
        | RvError::TokenNotPresent
        | RvError::TokenNotRecognized
        | RvError::SlotIdInvalid => Recovery::Reinitialize,
        _ => Recovery::None,
    }
}

impl From<CkError> for Pkcs11Error {
    fn from(e: CkError) -> Self {
        match e {
            CkError::Pkcs11(rv, function) => Pkcs11Error::call(rv, function),
            CkError::LibraryLoading(e) => Pkcs11Error::ModuleLoad {
                module: String::new(),
                reason: e.to_string(),
            },
            CkError::NotSupported | CkError::NullFunctionPointer | CkError::MissingSymbol(_) => {
                Pkcs11Error::Unsupported(format!("the PKCS#11 module cannot do this: {e}"))
            }
            other => Pkcs11Error::Invalid(format!("PKCS#11: {other}")),
        }
    }
}

/// `Function::Login` → `C_Login`.
fn function_name(function: Function) -> String {
    format!("C_{function:?}")
}

/// `RvError::PinIncorrect` → `CKR_PIN_INCORRECT` (the specification's name).
pub(crate) fn ckr_name(rv: RvError) -> String {
    match rv {
        RvError::VendorDefined(code) => format!("CKR_VENDOR_DEFINED ({code:#x})"),
        RvError::UnknownErrorCode(code) => format!("CKR {code:#x}"),
        other => {
            let camel = format!("{other:?}");
            let mut name = String::from("CKR");
            for c in camel.chars() {
                if c.is_ascii_uppercase() {
                    name.push('_');
                }
                name.push(c.to_ascii_uppercase());
            }
            name
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_specification() {
        assert_eq!(ckr_name(RvError::PinIncorrect), "CKR_PIN_INCORRECT");
        assert_eq!(ckr_name(RvError::DeviceRemoved), "CKR_DEVICE_REMOVED");
        assert_eq!(
            ckr_name(RvError::CryptokiNotInitialized),
            "CKR_CRYPTOKI_NOT_INITIALIZED"
        );
        let e = Pkcs11Error::call(RvError::UserNotLoggedIn, Function::Sign);
        assert_eq!(e.to_string(), "C_Sign failed: CKR_USER_NOT_LOGGED_IN");
    }

    #[test]
    fn pin_errors_say_what_to_do() {
        let locked = Pkcs11Error::PinLocked {
            token: "tessera".into(),
        };
        assert!(locked.to_string().contains("LOCKED"), "{locked}");
        assert!(locked.to_string().contains("CKR_PIN_LOCKED"), "{locked}");
        let last = Pkcs11Error::PinIncorrect {
            token: "tessera".into(),
            final_try: true,
        };
        assert!(
            last.to_string().contains("next wrong PIN locks it"),
            "{last}"
        );
        assert_eq!(
            last.recovery(),
            Recovery::None,
            "a wrong PIN is never retried"
        );
    }

    #[test]
    fn recoverable_faults_are_classified() {
        let cases = [
            (RvError::SessionHandleInvalid, Recovery::NewSession),
            (RvError::SessionClosed, Recovery::NewSession),
            (RvError::UserNotLoggedIn, Recovery::Login),
            (RvError::KeyHandleInvalid, Recovery::FindKey),
            (RvError::DeviceRemoved, Recovery::Reinitialize),
            (RvError::CryptokiNotInitialized, Recovery::Reinitialize),
            (RvError::TokenNotPresent, Recovery::Reinitialize),
            (RvError::PinIncorrect, Recovery::None),
            (RvError::PinLocked, Recovery::None),
            (RvError::MechanismInvalid, Recovery::None),
        ];
        for (rv, expected) in cases {
            assert_eq!(recovery_for(rv), expected, "{rv:?}");
        }
    }

    #[test]
    fn recovery_escalates_to_reinitialisation_and_stops() {
        let mut steps = vec![];
        let mut step = Recovery::None;
        while let Some(next) = step.next() {
            steps.push(next.name());
            step = next;
        }
        assert_eq!(steps, ["find_key", "new_session", "login", "reinitialize"]);
        assert!(Recovery::FindKey < Recovery::Reinitialize);
    }
}
