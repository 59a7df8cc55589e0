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

/// In `dir`: a test CA (`ca.pem`, `ca.key`, named `ca_name`) and a server certificate for
/// localhost and 127.0.0.1 (`server.pem`, `server.key`), made with the openssl CLI, for the
/// receivers the tests start (rsyslog, slapd).
pub fn localhost_certificates(dir: &std::path::Path, ca_name: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    let script = format!(
        "set -e
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj '/CN={ca_name}' -keyout ca.key -out ca.pem
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj '/CN=localhost' -keyout server.key -out server.csr
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > san.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
  -extfile san.ext -out server.pem"
    );
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .context("running openssl")?;
    anyhow::ensure!(
        out.status.success(),
        "making the {ca_name}'s server certificate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
