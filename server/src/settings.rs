//! Settings, from (in order of precedence) command-line flags, `TESSERA_*` environment
//! variables, an optional TOML file, and built-in defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use tessera_core::signing::remote::RemoteConfig;
use tessera_hsm::pkcs11::Pin;

use crate::outbound::{Cidr, OutboundPolicy};

/// The optional TOML file (`--config`); every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    pub listen: Option<String>,
    pub issuer: Option<String>,
    pub metrics_addr: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub master_key: Option<String>,
    pub code_ttl_secs: Option<i64>,
    pub access_token_ttl_secs: Option<i64>,
    pub session_ttl_secs: Option<i64>,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted load balancer).
    pub trust_forwarded_for: Option<bool>,
    /// Rotate token-signing keys automatically once they are this many days old.
    pub key_rotation_days: Option<i64>,
    /// Hosts Tessera may call (back-channel logout): names, `*.domain`, or `*`.
    pub outbound_allow_hosts: Option<Vec<String>>,
    /// Address ranges those hosts must resolve into, e.g. `10.20.0.0/16`.
    pub outbound_allow_cidrs: Option<Vec<String>>,
    /// Allow plain http for outbound calls (https only by default).
    pub outbound_allow_http: Option<bool>,
    /// First retry delay of back-channel logout notifications (doubles up to 10 minutes).
    pub backchannel_retry_base_secs: Option<i64>,
    /// PKCS#11 module of the HSM; when set, token-signing keys live in the HSM.
    pub pkcs11_module: Option<PathBuf>,
    pub pkcs11_token_label: Option<String>,
    /// User PIN (prefer `pkcs11_pin_file`).
    pub pkcs11_pin: Option<SecretText>,
    pub pkcs11_pin_file: Option<PathBuf>,
    /// JSON allow-list of authenticator models (AAGUID + attestation CA); unset: any passkey.
    pub webauthn_allowed_authenticators: Option<PathBuf>,
    /// Certificates: organisation (`O=`) of subjects.
    pub pki_organization: Option<String>,
    /// Validity of officials' certificates, in days.
    pub pki_cert_validity_days: Option<i64>,
    /// Certificate policy OIDs put in officials' certificates.
    pub pki_policies: Option<Vec<String>>,
    /// `nextUpdate` of CRLs, seconds after `thisUpdate`.
    pub pki_crl_validity_secs: Option<i64>,
    /// CRLs are reissued on schedule this often (and on every revocation).
    pub pki_crl_reissue_secs: Option<i64>,
    /// Expiry notices for credentials expiring within this many days.
    pub pki_expiry_notice_days: Option<i64>,
    /// The RFC 3161 TSA that timestamps signatures (B-T); unset: Tessera's own, in-process.
    pub pki_tsa_url: Option<String>,
    /// The policy OID of Tessera's own TSA (TSTInfo `policy`).
    pub pki_tsa_policy: Option<String>,
    /// Remote signing: largest document, in bytes.
    pub signing_max_document_bytes: Option<i64>,
    /// Remote signing: largest request (all its documents), in bytes.
    pub signing_max_request_bytes: Option<i64>,
    /// Remote signing: most documents in one request.
    pub signing_max_documents: Option<i64>,
    /// Remote signing: contents and results are deleted this many days after a request ends.
    pub signing_retention_days: Option<i64>,
    /// Remote signing: documents signed at once; default the HSM's session pool.
    pub signing_concurrency: Option<i64>,
    /// The SOC's syslog receiver: `tcp://host:port` or `tls://host:port`.
    pub syslog_url: Option<String>,
    /// PEM file of the CA that signed a `tls://` receiver's certificate.
    pub syslog_ca: Option<PathBuf>,
    /// Seconds a replica keeps serving after SIGTERM while readiness already says 503.
    pub shutdown_drain_secs: Option<i64>,
    /// LDAP/AD synchronisation (see `ldap_settings.rs`): `ldaps://host` or `ldap://host`
    /// (StartTLS).
    pub ldap_url: Option<String>,
    pub ldap_ca_file: Option<PathBuf>,
    pub ldap_bind_dn: Option<String>,
    /// File holding the bind password (or `TESSERA_LDAP_BIND_PASSWORD`).
    pub ldap_bind_password_file: Option<PathBuf>,
    pub ldap_base_dn: Option<String>,
    pub ldap_user_filter: Option<String>,
    pub ldap_attr_username: Option<String>,
    pub ldap_attr_name: Option<String>,
    pub ldap_attr_mail: Option<String>,
    pub ldap_attr_phone: Option<String>,
    pub ldap_attr_title: Option<String>,
    /// Unit id under which the directory's OUs become units.
    pub ldap_root_unit: Option<String>,
    /// `tessera serve` syncs this often; unset: only `tessera ldap sync`.
    pub ldap_sync_interval_secs: Option<i64>,
    /// People who came from the directory sign in with their domain password.
    pub ldap_password_login: Option<bool>,
}

/// A secret in the file (the HSM PIN): `Debug` shows `***`; handed over without copying.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct SecretText(String);

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl FileSettings {
    pub fn load(path: &Path) -> anyhow::Result<FileSettings> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }
}

/// Settings shared by every command.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub database_url: String,
    /// Base64 master key given directly; otherwise `<data dir>/master.key` is used.
    pub master_key: Option<String>,
    pub code_ttl_secs: i64,
    pub access_token_ttl_secs: i64,
    pub session_ttl_secs: i64,
    pub trust_forwarded_for: bool,
    pub key_rotation_days: Option<i64>,
    /// Allow-list for calls to other servers; allows nothing by default.
    pub outbound: OutboundPolicy,
    pub backchannel_retry_base_secs: i64,
    /// The HSM, when one is configured; `None`: the software token.
    pub pkcs11: Option<Pkcs11Settings>,
    /// Only attested authenticators of these models may register passkeys.
    pub webauthn_allowed_authenticators: Option<PathBuf>,
    pub pki: PkiSettings,
    pub signing: SigningSettings,
    /// LDAP/AD synchronisation, when configured.
    pub ldap: Option<crate::ldap_settings::LdapSettings>,
}

/// Remote-signing limits (`TESSERA_SIGNING_*`, or `signing_*` in the file).
#[derive(Debug, Clone)]
pub struct SigningSettings {
    pub max_document_bytes: usize,
    pub max_request_bytes: usize,
    pub max_documents: usize,
    pub retention_secs: i64,
    /// `None`: as many as the key custody signs at once.
    pub concurrency: Option<usize>,
}

impl SigningSettings {
    fn resolve(file: &FileSettings) -> anyhow::Result<SigningSettings> {
        let defaults = RemoteConfig::default();
        let number = |name: &str, from_file: Option<i64>, default: i64, range: (i64, i64)| {
            let v = env_number(name)?.or(from_file).unwrap_or(default);
            if !(range.0..=range.1).contains(&v) {
                bail!(
                    "{name} (or {}) must be between {} and {}, got {v}",
                    name.trim_start_matches("TESSERA_").to_ascii_lowercase(),
                    range.0,
                    range.1
                );
            }
            Ok(v)
        };
        const GIB: i64 = 1024 * 1024 * 1024;
        let max_document_bytes = number(
            "TESSERA_SIGNING_MAX_DOCUMENT_BYTES",
            file.signing_max_document_bytes,
            defaults.max_document_bytes as i64,
            (1024, GIB),
        )?;
        let max_request_bytes = number(
            "TESSERA_SIGNING_MAX_REQUEST_BYTES",
            file.signing_max_request_bytes,
            (defaults.max_request_bytes as i64).max(max_document_bytes),
            (1024, 4 * GIB),
        )?;
        if max_request_bytes < max_document_bytes {
            bail!(
                "the signing request limit ({max_request_bytes} bytes) is below the document limit ({max_document_bytes} bytes)"
            );
        }
        let max_documents = number(
            "TESSERA_SIGNING_MAX_DOCUMENTS",
            file.signing_max_documents,
            defaults.max_documents as i64,
            (1, 1000),
        )?;
        let retention_days = number(
            "TESSERA_SIGNING_RETENTION_DAYS",
            file.signing_retention_days,
            defaults.retention / 86_400,
            (1, 3650),
        )?;
        let concurrency =
            match env_number("TESSERA_SIGNING_CONCURRENCY")?.or(file.signing_concurrency) {
                Some(n) if (1..=256).contains(&n) => Some(n as usize),
                Some(n) => bail!("TESSERA_SIGNING_CONCURRENCY must be between 1 and 256, got {n}"),
                None => None,
            };
        Ok(SigningSettings {
            max_document_bytes: max_document_bytes as usize,
            max_request_bytes: max_request_bytes as usize,
            max_documents: max_documents as usize,
            retention_secs: retention_days * 86_400,
            concurrency,
        })
    }

    /// The core's configuration; `parallelism` is the key custody's.
    pub fn remote_config(&self, parallelism: usize) -> RemoteConfig {
        RemoteConfig {
            max_document_bytes: self.max_document_bytes,
            max_request_bytes: self.max_request_bytes,
            max_documents: self.max_documents,
            retention: self.retention_secs,
            concurrency: self.concurrency.unwrap_or(parallelism).max(1),
            ..RemoteConfig::default()
        }
    }
}

/// Certificate settings (`TESSERA_PKI_*`, or `pki_*` in the file).
#[derive(Debug, Clone)]
pub struct PkiSettings {
    pub organization: String,
    pub cert_validity_days: i64,
    pub policies: Vec<String>,
    pub crl_validity_secs: i64,
    pub crl_reissue_secs: i64,
    pub expiry_notice_days: i64,
    pub tsa_url: Option<String>,
    pub tsa_policy: String,
}

impl PkiSettings {
    fn resolve(file: &FileSettings) -> anyhow::Result<PkiSettings> {
        let organization = env("TESSERA_PKI_ORGANIZATION")
            .or_else(|| file.pki_organization.clone())
            .unwrap_or_else(|| "Tessera".into());
        if organization.trim().is_empty()
            || organization.chars().count() > 64
            || organization.chars().any(char::is_control)
        {
            bail!("the PKI organisation name must be 1–64 printable characters");
        }
        let cert_validity_days = env_i64("TESSERA_PKI_CERT_VALIDITY_DAYS")?
            .or(file.pki_cert_validity_days)
            .unwrap_or(730);
        if !(1..=3650).contains(&cert_validity_days) {
            bail!("the certificate validity must be between 1 and 3650 days");
        }
        let policies = env_list("TESSERA_PKI_POLICIES", &file.pki_policies);
        for p in &policies {
            if der_oid_ok(p).is_none() {
                bail!("certificate policy {p:?} is not an OID (e.g. 2.16.704.1.2.3)");
            }
        }
        let crl_validity_secs = env_i64("TESSERA_PKI_CRL_VALIDITY_SECS")?
            .or(file.pki_crl_validity_secs)
            .unwrap_or(7 * 86_400);
        if !(300..=90 * 86_400).contains(&crl_validity_secs) {
            bail!("the CRL validity must be between 300 seconds and 90 days");
        }
        let crl_reissue_secs = env_i64("TESSERA_PKI_CRL_REISSUE_SECS")?
            .or(file.pki_crl_reissue_secs)
            .unwrap_or(86_400);
        if !(60..=crl_validity_secs).contains(&crl_reissue_secs) {
            bail!("CRLs must be reissued at least every CRL validity, and at most every minute");
        }
        let expiry_notice_days = env_i64("TESSERA_PKI_EXPIRY_NOTICE_DAYS")?
            .or(file.pki_expiry_notice_days)
            .unwrap_or(30);
        if !(0..=365).contains(&expiry_notice_days) {
            bail!("the expiry notice window must be between 0 and 365 days");
        }
        let tsa_url = env("TESSERA_PKI_TSA_URL").or_else(|| file.pki_tsa_url.clone());
        if let Some(url) = &tsa_url
            && !url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
        {
            bail!("the TSA URL must be an http(s) URL, got {url:?}");
        }
        let tsa_policy = env("TESSERA_PKI_TSA_POLICY")
            .or_else(|| file.pki_tsa_policy.clone())
            .unwrap_or_else(|| tessera_core::pki::DEFAULT_TSA_POLICY.to_owned());
        if der_oid_ok(&tsa_policy).is_none() {
            bail!("the TSA policy {tsa_policy:?} is not an OID (e.g. 1.3.6.1.4.1.32473.1.3161.1)");
        }
        Ok(PkiSettings {
            tsa_url,
            tsa_policy,
            organization: organization.trim().to_owned(),
            cert_validity_days,
            policies,
            crl_validity_secs,
            crl_reissue_secs,
            expiry_notice_days,
        })
    }
}

/// A dotted OID: at least two arcs of digits.
fn der_oid_ok(s: &str) -> Option<()> {
    let arcs: Vec<&str> = s.split('.').collect();
    (arcs.len() >= 2
        && arcs
            .iter()
            .all(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit())))
    .then_some(())
}

/// Where the HSM is. Once configured it is used or Tessera does not start: never a fallback.
#[derive(Debug, Clone)]
pub struct Pkcs11Settings {
    pub module: PathBuf,
    pub token_label: String,
    /// Never printed (`Debug` shows `***`).
    pub pin: Pin,
}

/// Settings of `tessera serve` only.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    pub listen: SocketAddr,
    /// `None`: derived from the bound address once listening.
    pub issuer: Option<String>,
    /// Where `GET /metrics` is served, apart from the public listener; `None`: nowhere.
    pub metrics_addr: Option<SocketAddr>,
    /// The SOC feed's receiver; `None`: no feed.
    pub syslog: Option<crate::syslog::SyslogSettings>,
    /// After SIGTERM: how long readiness answers 503 while requests are still served, so that
    /// the load balancer takes the replica out before it stops listening.
    pub shutdown_drain: std::time::Duration,
}

/// Default of `TESSERA_SHUTDOWN_DRAIN_SECS`: two or three health checks of a load balancer.
pub const DEFAULT_SHUTDOWN_DRAIN_SECS: i64 = 5;

pub const DEFAULT_DATA_DIR: &str = "./tessera-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

pub(crate) fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn env_i64(name: &str) -> anyhow::Result<Option<i64>> {
    env(name)
        .map(|v| {
            v.parse::<i64>()
                .with_context(|| format!("{name} must be a whole number of seconds"))
        })
        .transpose()
}

pub(crate) fn env_number(name: &str) -> anyhow::Result<Option<i64>> {
    env(name)
        .map(|v| {
            v.parse::<i64>()
                .with_context(|| format!("{name} must be a whole number"))
        })
        .transpose()
}

pub(crate) fn env_flag(name: &str) -> Option<bool> {
    env(name).map(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// A comma-separated list from the environment, else the file's list.
fn env_list(name: &str, file: &Option<Vec<String>>) -> Vec<String> {
    match env(name) {
        Some(v) => v
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        None => file.clone().unwrap_or_default(),
    }
}

fn outbound_policy(file: &FileSettings) -> anyhow::Result<OutboundPolicy> {
    let cidrs = env_list("TESSERA_OUTBOUND_ALLOW_CIDRS", &file.outbound_allow_cidrs)
        .iter()
        .map(|c| Cidr::parse(c).map_err(|e| anyhow::anyhow!("outbound_allow_cidrs: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let hosts = env_list("TESSERA_OUTBOUND_ALLOW_HOSTS", &file.outbound_allow_hosts);
    if let Some(bad) = hosts
        .iter()
        .find(|h| h.contains(['/', ':', ' ']) && h.parse::<std::net::IpAddr>().is_err())
    {
        bail!(
            "outbound_allow_hosts takes host names or addresses (no scheme, port or path), got {bad:?}"
        );
    }
    Ok(OutboundPolicy {
        allow_http: env_flag("TESSERA_OUTBOUND_ALLOW_HTTP")
            .or(file.outbound_allow_http)
            .unwrap_or(false),
        hosts: hosts.into_iter().map(|h| h.to_ascii_lowercase()).collect(),
        cidrs,
    })
}

impl Settings {
    /// Resolves settings; `data_dir` and `database_url` come from flags or the environment
    /// (clap already merged those), then the file, then defaults.
    pub fn resolve(
        data_dir: Option<PathBuf>,
        database_url: Option<String>,
        file: &FileSettings,
    ) -> anyhow::Result<Settings> {
        let data_dir = data_dir
            .or_else(|| file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let database_url = match database_url.or_else(|| file.database_url.clone()) {
            Some(url) => url,
            None => format!("sqlite://{}", data_dir.join("tessera.db").display()),
        };
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            bail!(
                "TESSERA_DATABASE_URL must start with postgres:// (or sqlite:), got {}",
                tessera_store::redact(&database_url)
            );
        }
        let code_ttl_secs = env_i64("TESSERA_CODE_TTL_SECS")?
            .or(file.code_ttl_secs)
            .unwrap_or(60);
        if !(1..=60).contains(&code_ttl_secs) {
            bail!(
                "the authorization-code lifetime must be between 1 and 60 seconds, got {code_ttl_secs}"
            );
        }
        let access_token_ttl_secs = env_i64("TESSERA_ACCESS_TOKEN_TTL_SECS")?
            .or(file.access_token_ttl_secs)
            .unwrap_or(600);
        if !(30..=86_400).contains(&access_token_ttl_secs) {
            bail!("the access-token lifetime must be between 30 and 86400 seconds");
        }
        let session_ttl_secs = env_i64("TESSERA_SESSION_TTL_SECS")?
            .or(file.session_ttl_secs)
            .unwrap_or(10 * 3600);
        if !(60..=7 * 86_400).contains(&session_ttl_secs) {
            bail!("the session lifetime must be between 60 seconds and 7 days");
        }
        let trust_forwarded_for = match env("TESSERA_TRUST_FORWARDED_FOR") {
            Some(v) => matches!(v.as_str(), "1" | "true" | "yes"),
            None => file.trust_forwarded_for.unwrap_or(false),
        };
        let key_rotation_days = env_i64("TESSERA_KEY_ROTATION_DAYS")?.or(file.key_rotation_days);
        if key_rotation_days.is_some_and(|d| !(1..=3650).contains(&d)) {
            bail!("the key rotation period must be between 1 and 3650 days");
        }
        let backchannel_retry_base_secs = env_i64("TESSERA_BACKCHANNEL_RETRY_BASE_SECS")?
            .or(file.backchannel_retry_base_secs)
            .unwrap_or(5);
        if !(1..=600).contains(&backchannel_retry_base_secs) {
            bail!("the back-channel logout retry delay must be between 1 and 600 seconds");
        }
        Ok(Settings {
            key_rotation_days,
            data_dir,
            database_url,
            master_key: env("TESSERA_MASTER_KEY").or_else(|| file.master_key.clone()),
            code_ttl_secs,
            access_token_ttl_secs,
            session_ttl_secs,
            trust_forwarded_for,
            outbound: outbound_policy(file)?,
            backchannel_retry_base_secs,
            pkcs11: Pkcs11Settings::resolve(file)?,
            webauthn_allowed_authenticators: env("TESSERA_WEBAUTHN_ALLOWED_AUTHENTICATORS")
                .map(PathBuf::from)
                .or_else(|| file.webauthn_allowed_authenticators.clone()),
            pki: PkiSettings::resolve(file)?,
            signing: SigningSettings::resolve(file)?,
            ldap: crate::ldap_settings::LdapSettings::resolve(file)?,
        })
    }

    pub fn uses_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

impl Pkcs11Settings {
    /// `TESSERA_PKCS11_*` variables, else the `pkcs11_*` keys of the file. Any of them without
    /// the module, or the module without a label and a PIN, is an error: a half-configured HSM
    /// must not quietly become the software token.
    fn resolve(file: &FileSettings) -> anyhow::Result<Option<Pkcs11Settings>> {
        let module = env("TESSERA_PKCS11_MODULE")
            .map(PathBuf::from)
            .or_else(|| file.pkcs11_module.clone());
        let label = env("TESSERA_PKCS11_TOKEN_LABEL").or_else(|| file.pkcs11_token_label.clone());
        let (pin, pin_file) = match (env("TESSERA_PKCS11_PIN"), env("TESSERA_PKCS11_PIN_FILE")) {
            (None, None) => (
                file.pkcs11_pin.clone().map(|p| p.0),
                file.pkcs11_pin_file.clone(),
            ),
            (pin, pin_file) => (pin, pin_file.map(PathBuf::from)),
        };
        let Some(module) = module else {
            if label.is_some() || pin.is_some() || pin_file.is_some() {
                bail!(
                    "TESSERA_PKCS11_TOKEN_LABEL or a PKCS#11 PIN is set but TESSERA_PKCS11_MODULE is not: \
                     set the module path of the HSM (e.g. /usr/lib/softhsm/libsofthsm2.so), or remove \
                     the other TESSERA_PKCS11_* settings to use the software token"
                );
            }
            return Ok(None);
        };
        let token_label = label.context(
            "TESSERA_PKCS11_MODULE is set but TESSERA_PKCS11_TOKEN_LABEL is not: name the token to use",
        )?;
        let pin = match (pin, pin_file) {
            (Some(_), Some(_)) => {
                bail!("set either TESSERA_PKCS11_PIN or TESSERA_PKCS11_PIN_FILE, not both")
            }
            (Some(pin), None) => Pin::new(pin),
            (None, Some(path)) => Pin::from_file(&path)?,
            (None, None) => bail!(
                "TESSERA_PKCS11_MODULE is set but no user PIN: set TESSERA_PKCS11_PIN_FILE (a file \
                 holding the PIN) or TESSERA_PKCS11_PIN"
            ),
        };
        Ok(Some(Pkcs11Settings {
            module,
            token_label,
            pin,
        }))
    }
}

impl ServeSettings {
    pub fn resolve(
        listen: Option<String>,
        issuer: Option<String>,
        metrics_addr: Option<String>,
        file: &FileSettings,
    ) -> anyhow::Result<ServeSettings> {
        let listen_text = listen
            .or_else(|| file.listen.clone())
            .unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen: SocketAddr = listen_text.parse().with_context(|| {
            format!(
                "--listen must be an address:port such as {DEFAULT_LISTEN}, got {listen_text:?}"
            )
        })?;
        let issuer = issuer.or_else(|| file.issuer.clone());
        if let Some(iss) = &issuer {
            let url =
                url::Url::parse(iss).with_context(|| format!("--issuer is not a URL: {iss:?}"))?;
            if !matches!(url.scheme(), "https" | "http")
                || url.query().is_some()
                || url.fragment().is_some()
            {
                bail!(
                    "--issuer must be an http(s) URL without query or fragment (OIDC Core §2), got {iss:?}"
                );
            }
        }
        let metrics_addr = metrics_addr
            .or_else(|| file.metrics_addr.clone())
            .map(|text| {
                text.parse::<SocketAddr>().with_context(|| {
                    format!("TESSERA_METRICS_ADDR must be an address:port such as 127.0.0.1:9464, got {text:?}")
                })
            })
            .transpose()?;
        if metrics_addr.is_some_and(|m| m == listen && m.port() != 0) {
            bail!("TESSERA_METRICS_ADDR must differ from the public listen address {listen}");
        }
        let syslog = crate::syslog::SyslogSettings::resolve(
            env("TESSERA_SYSLOG_URL").or_else(|| file.syslog_url.clone()),
            env("TESSERA_SYSLOG_CA")
                .map(PathBuf::from)
                .or_else(|| file.syslog_ca.clone()),
        )?;
        let drain = env_i64("TESSERA_SHUTDOWN_DRAIN_SECS")?
            .or(file.shutdown_drain_secs)
            .unwrap_or(DEFAULT_SHUTDOWN_DRAIN_SECS);
        if !(0..=300).contains(&drain) {
            bail!("TESSERA_SHUTDOWN_DRAIN_SECS must be 0–300 seconds, got {drain}");
        }
        Ok(ServeSettings {
            listen,
            issuer: issuer.map(|i| i.trim_end_matches('/').to_owned()),
            metrics_addr,
            syslog,
            shutdown_drain: std::time::Duration::from_secs(drain as u64),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_sqlite_in_data_dir_and_checks_urls() {
        let s = Settings::resolve(Some("/tmp/x".into()), None, &FileSettings::default()).unwrap();
        assert_eq!(s.database_url, "sqlite:///tmp/x/tessera.db");
        assert!(
            Settings::resolve(None, Some("mysql://h/db".into()), &FileSettings::default()).is_err()
        );
        let file: FileSettings =
            toml::from_str("database_url = \"postgres://u@h/db\"\nlisten = \"0.0.0.0:9000\"")
                .unwrap();
        let s = Settings::resolve(None, None, &file).unwrap();
        assert_eq!(s.database_url, "postgres://u@h/db");
        let serve = ServeSettings::resolve(None, None, None, &file).unwrap();
        assert_eq!(serve.listen.port(), 9000);
        assert_eq!(serve.metrics_addr, None);
        assert!(ServeSettings::resolve(Some("nonsense".into()), None, None, &file).is_err());
        assert!(
            ServeSettings::resolve(
                None,
                Some("https://id.haiphong.gov.vn/?x=1".into()),
                None,
                &file
            )
            .is_err()
        );
        let metrics = Some("127.0.0.1:9464".to_owned());
        let serve = ServeSettings::resolve(None, None, metrics, &file).unwrap();
        assert_eq!(serve.metrics_addr.map(|a| a.port()), Some(9464));
        assert!(ServeSettings::resolve(None, None, Some("9464".into()), &file).is_err());
        let same = Some("0.0.0.0:9000".to_owned());
        assert!(ServeSettings::resolve(None, None, same, &file).is_err());
        assert!(toml::from_str::<FileSettings>("unknown = 1").is_err());
        assert_eq!(serve.shutdown_drain.as_secs(), 5);
        let file: FileSettings = toml::from_str("shutdown_drain_secs = 0").unwrap();
        let serve = ServeSettings::resolve(None, None, None, &file).unwrap();
        assert_eq!(serve.shutdown_drain.as_secs(), 0);
        let file: FileSettings = toml::from_str("shutdown_drain_secs = -1").unwrap();
        assert!(ServeSettings::resolve(None, None, None, &file).is_err());
    }

    #[test]
    fn outbound_allow_list_from_the_file() {
        let s = Settings::resolve(None, None, &FileSettings::default()).unwrap();
        assert_eq!(s.outbound, OutboundPolicy::default());
        let file: FileSettings = toml::from_str(
            "outbound_allow_hosts = [\"*.HaiPhong.gov.vn\"]\noutbound_allow_cidrs = [\"10.20.0.0/16\"]\noutbound_allow_http = true",
        )
        .unwrap();
        let s = Settings::resolve(None, None, &file).unwrap();
        assert_eq!(s.outbound.hosts, ["*.haiphong.gov.vn"]);
        assert_eq!(s.outbound.cidrs, [Cidr::parse("10.20.0.0/16").unwrap()]);
        assert!(s.outbound.allow_http);
        for bad in [
            "outbound_allow_cidrs = [\"10.20.0.0/40\"]",
            "outbound_allow_hosts = [\"https://vanban.gov.vn/\"]",
        ] {
            let file: FileSettings = toml::from_str(bad).unwrap();
            assert!(Settings::resolve(None, None, &file).is_err(), "{bad}");
        }
    }

    #[test]
    fn signing_limits_from_the_file() {
        if std::env::vars().any(|(k, _)| k.starts_with("TESSERA_SIGNING_")) {
            return;
        }
        let s = Settings::resolve(None, None, &FileSettings::default()).unwrap();
        let c = s.signing.remote_config(3);
        let d = RemoteConfig::default();
        assert_eq!(
            (
                c.max_document_bytes,
                c.max_request_bytes,
                c.max_documents,
                c.retention
            ),
            (
                d.max_document_bytes,
                d.max_request_bytes,
                d.max_documents,
                d.retention
            )
        );
        // Unset, the concurrency is the custody's.
        assert_eq!(c.concurrency, 3);
        let file: FileSettings = toml::from_str(
            "signing_max_document_bytes = 4096\nsigning_max_request_bytes = 8192\n\
             signing_max_documents = 5\nsigning_retention_days = 2\nsigning_concurrency = 7",
        )
        .unwrap();
        let c = Settings::resolve(None, None, &file)
            .unwrap()
            .signing
            .remote_config(3);
        assert_eq!(
            (
                c.max_document_bytes,
                c.max_request_bytes,
                c.max_documents,
                c.retention,
                c.concurrency
            ),
            (4096, 8192, 5, 2 * 86_400, 7)
        );
        // The lifetimes the API promises are not settings.
        assert_eq!((c.sad_ttl, c.max_expires_in), (d.sad_ttl, d.max_expires_in));
        for bad in [
            "signing_max_document_bytes = 10",
            "signing_max_document_bytes = 8192\nsigning_max_request_bytes = 4096",
            "signing_max_documents = 0",
            "signing_retention_days = 0",
            "signing_concurrency = 0",
        ] {
            let file: FileSettings = toml::from_str(bad).unwrap();
            assert!(Settings::resolve(None, None, &file).is_err(), "{bad}");
        }
    }

    #[test]
    fn pki_settings_from_the_file() {
        if std::env::vars().any(|(k, _)| k.starts_with("TESSERA_PKI_")) {
            return;
        }
        let s = Settings::resolve(None, None, &FileSettings::default()).unwrap();
        assert_eq!(s.pki.organization, "Tessera");
        assert_eq!(s.pki.cert_validity_days, 730);
        assert_eq!(s.pki.tsa_url, None);
        assert_eq!(s.pki.tsa_policy, "1.3.6.1.4.1.32473.1.3161.1");
        let file: FileSettings = toml::from_str(
            "pki_tsa_url = \"https://tsa.ca.gov.vn/tsa\"\npki_tsa_policy = \"2.16.704.1.9.1\"",
        )
        .unwrap();
        let s = Settings::resolve(None, None, &file).unwrap();
        assert_eq!(s.pki.tsa_url.as_deref(), Some("https://tsa.ca.gov.vn/tsa"));
        assert_eq!(s.pki.tsa_policy, "2.16.704.1.9.1");
        let file: FileSettings = toml::from_str(
            "pki_organization = \"UBND Thành phố Hải Phòng\"\npki_policies = [\"2.16.704.1.2.3\"]\npki_cert_validity_days = 365",
        )
        .unwrap();
        let s = Settings::resolve(None, None, &file).unwrap();
        assert_eq!(s.pki.organization, "UBND Thành phố Hải Phòng");
        assert_eq!(s.pki.policies, ["2.16.704.1.2.3"]);
        assert_eq!(s.pki.cert_validity_days, 365);
        for bad in [
            "pki_policies = [\"not-an-oid\"]",
            "pki_cert_validity_days = 0",
            "pki_crl_reissue_secs = 10",
            "pki_organization = \"\"",
            "pki_tsa_url = \"ftp://tsa.example/\"",
            "pki_tsa_policy = \"tsa-policy\"",
        ] {
            let file: FileSettings = toml::from_str(bad).unwrap();
            assert!(Settings::resolve(None, None, &file).is_err(), "{bad}");
        }
    }

    #[test]
    fn pkcs11_settings_come_whole_or_not_at_all() {
        // Tests run with the developer's environment: only meaningful without TESSERA_PKCS11_*.
        if std::env::vars().any(|(k, _)| k.starts_with("TESSERA_PKCS11_")) {
            return;
        }
        assert!(
            Pkcs11Settings::resolve(&FileSettings::default())
                .unwrap()
                .is_none()
        );
        let file: FileSettings = toml::from_str(
            "pkcs11_module = \"/usr/lib/softhsm/libsofthsm2.so\"\npkcs11_token_label = \"tessera\"\npkcs11_pin = \"1234\"",
        )
        .unwrap();
        let p = Pkcs11Settings::resolve(&file).unwrap().unwrap();
        assert_eq!(p.token_label, "tessera");
        assert!(!format!("{p:?}").contains("1234"), "PIN in Debug output");
        assert!(!format!("{file:?}").contains("1234"), "PIN in Debug output");
        for partial in [
            "pkcs11_token_label = \"tessera\"",
            "pkcs11_module = \"/m.so\"\npkcs11_pin = \"1\"",
            "pkcs11_module = \"/m.so\"\npkcs11_token_label = \"t\"",
            "pkcs11_module = \"/m.so\"\npkcs11_token_label = \"t\"\npkcs11_pin = \"1\"\npkcs11_pin_file = \"/p\"",
            "pkcs11_module = \"/m.so\"\npkcs11_token_label = \"t\"\npkcs11_pin_file = \"/nonexistent/pin\"",
        ] {
            let file: FileSettings = toml::from_str(partial).unwrap();
            assert!(Pkcs11Settings::resolve(&file).is_err(), "{partial}");
        }
    }
}
