//! The hash functions signatures are made with.

use sha2::Digest;

/// Hash functions (FIPS 180-4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    /// `SHA-256`, `SHA-384` or `SHA-512`.
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha256 => "SHA-256",
            HashAlg::Sha384 => "SHA-384",
            HashAlg::Sha512 => "SHA-512",
        }
    }

    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    pub fn digest(self, message: &[u8]) -> Vec<u8> {
        match self {
            HashAlg::Sha256 => sha2::Sha256::digest(message).to_vec(),
            HashAlg::Sha384 => sha2::Sha384::digest(message).to_vec(),
            HashAlg::Sha512 => sha2::Sha512::digest(message).to_vec(),
        }
    }

    /// The DER prefix of `DigestInfo` (RFC 8017 §9.2 note 1), from the `rsa` crate.
    pub(crate) fn digest_info_prefix(self) -> Box<[u8]> {
        match self {
            HashAlg::Sha256 => rsa10::pkcs1v15::Pkcs1v15Sign::new::<sha2::Sha256>().prefix,
            HashAlg::Sha384 => rsa10::pkcs1v15::Pkcs1v15Sign::new::<sha2::Sha384>().prefix,
            HashAlg::Sha512 => rsa10::pkcs1v15::Pkcs1v15Sign::new::<sha2::Sha512>().prefix,
        }
    }
}
