//! Document-signature formats, made and checked without a database or HTTP:
//!
//! - [`cades`]: CMS / CAdES-B-B detached signatures (ETSI EN 319 122-1), signed inside the key
//!   custodian through `tessera_hsm::x509::CustodySigner`; [`ess`] holds the
//!   signing-certificate-v2 attribute (RFC 5035).
//! - [`tsp`]: RFC 3161 time-stamp requests, responses and tokens (client and authority side).
//! - [`pdf`]: PAdES (ETSI EN 319 142-1) incremental updates, visible appearances (Decree
//!   30/2020/NĐ-CP), the DSS for long-term validation and document timestamps.
//! - [`ocsp`]: the ASN.1 structures of OCSP (RFC 6960), written by the responder, read by validation.
//! - [`verify`]: validation of CMS and PDF signatures, with verdicts in the terms of ETSI EN 319
//!   102-1.
//!
//! Callers (the core's signing workflow) fetch revocation data and timestamps and hand them in;
//! this crate never opens a connection.

pub mod cades;
mod error;
pub mod ess;
pub mod ocsp;
pub mod pdf;
pub mod tsp;
pub mod verify;

pub use error::FormatError;
