/// What went wrong with a document or a signature. Messages are for people: they say what is
/// wrong with the input, never dump internal state.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The input is not what it claims to be or is damaged (not a PDF, broken cross-reference
    /// table, malformed CMS…).
    #[error("{0}")]
    Invalid(String),
    /// The input is valid but uses something Tessera does not handle (encrypted PDF, an
    /// algorithm it does not sign with…).
    #[error("{0}")]
    Unsupported(String),
    /// A size, depth or time limit was reached (see the README's signing limits).
    #[error("{0}")]
    TooLarge(String),
    /// The key custodian could not sign.
    #[error("signing in the key custodian failed: {0}")]
    Sign(#[from] tessera_hsm::HsmError),
    /// An encoding step failed on data Tessera built itself.
    #[error("encoding: {0}")]
    Encoding(String),
}

impl From<der::Error> for FormatError {
    fn from(e: der::Error) -> FormatError {
        FormatError::Encoding(e.to_string())
    }
}
