//! Certificate authorities the test clients trust besides the public web's: a test that puts
//! a TLS load balancer with its own CA in front of Tessera registers the CA here, and every
//! client made afterwards (scripted browsers, relying parties, the SDK) trusts it. Adding a
//! root only widens trust, so tests running alongside are unaffected.

use std::sync::Mutex;

static ROOTS_PEM: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Trust the CA certificate(s) in `pem` from now on.
pub fn trust_root(pem: &[u8]) {
    let mut roots = ROOTS_PEM.lock().unwrap_or_else(|e| e.into_inner());
    roots.extend_from_slice(pem);
    roots.push(b'\n');
}

/// Every registered CA certificate, as one PEM bundle (empty when none).
pub fn trusted_roots_pem() -> Vec<u8> {
    ROOTS_PEM.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// A `reqwest` client builder trusting the registered CAs.
pub fn client_builder() -> anyhow::Result<reqwest::ClientBuilder> {
    let mut builder = reqwest::Client::builder();
    let pem = trusted_roots_pem();
    if !pem.is_empty() {
        for root in reqwest::Certificate::from_pem_bundle(&pem)? {
            builder = builder.add_root_certificate(root);
        }
    }
    Ok(builder)
}
