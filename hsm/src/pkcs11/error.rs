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
}

/// What may cure a failed call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Recovery {
    /// The session is gone: open another one (and log in again).
    NewSession,
    /// The application was logged out: log in again on the same session.
    Login,
    /// A cached object handle is stale: look the key up again.
    FindKey,
    /// The module lost the token or was finalized: reload it.
    Reload,
    /// Nothing: report the error.
    None,
}

impl Pkcs11Error {
    pub(crate) fn call(rv: RvError, function: Function) -> Pkcs11Error {
        Pkcs11Error::Call {
            function: function_name(function),
            code: ckr_name(rv),
            rv,
        }
    }

    pub(crate) fn rv(&self) -> Option<RvError> {
        match self {
            Pkcs11Error::Call { rv, .. } => Some(*rv),
            _ => None,
        }
    }

    pub(crate) fn recovery(&self) -> Recovery {
        match self.rv() {
            Some(rv) => recovery_for(rv),
            None => Recovery::None,
        }
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
        | RvError::TokenNotPresent
        | RvError::TokenNotRecognized
        | RvError::SlotIdInvalid => Recovery::Reload,
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
            (RvError::DeviceRemoved, Recovery::Reload),
            (RvError::CryptokiNotInitialized, Recovery::Reload),
            (RvError::TokenNotPresent, Recovery::Reload),
            (RvError::PinIncorrect, Recovery::None),
            (RvError::PinLocked, Recovery::None),
            (RvError::MechanismInvalid, Recovery::None),
        ];
        for (rv, expected) in cases {
            assert_eq!(recovery_for(rv), expected, "{rv:?}");
        }
    }
}
