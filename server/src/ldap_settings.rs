//! LDAP/AD settings (`TESSERA_LDAP_*`, or `ldap_*` in the TOML file). The connection is always
//! encrypted: `ldaps://` (TLS from the start) or `ldap://` upgraded with StartTLS, verified
//! against the configured CA; plain LDAP is not offered. The bind password comes from the
//! environment or a file, never from the command line.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use tokio_rustls::rustls::ClientConfig;

use crate::settings::{FileSettings, env, env_flag, env_number};

/// The bind password: never printed.
#[derive(Clone)]
pub struct BindPassword(String);

impl BindPassword {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for BindPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Which attribute holds what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttributeMap {
    pub username: String,
    pub name: String,
    pub mail: String,
    pub phone: String,
    pub title: String,
}

#[derive(Clone)]
pub struct LdapSettings {
    pub url: String,
    /// `ldap://`: upgrade with StartTLS.
    pub starttls: bool,
    pub ca_file: PathBuf,
    /// Trusts only the CA of `ca_file`.
    pub tls: Arc<ClientConfig>,
    pub bind_dn: String,
    pub bind_password: BindPassword,
    pub base_dn: String,
    pub user_filter: String,
    pub attrs: AttributeMap,
    /// Needed to sync (not to check passwords).
    pub root_unit: Option<String>,
    pub sync_interval_secs: Option<i64>,
    pub password_login: bool,
}

impl std::fmt::Debug for LdapSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapSettings")
            .field("url", &self.url)
            .field("bind_dn", &self.bind_dn)
            .field("base_dn", &self.base_dn)
            .field("user_filter", &self.user_filter)
            .field("root_unit", &self.root_unit)
            .finish_non_exhaustive()
    }
}

impl LdapSettings {
    /// `None` when no LDAP URL is set; an error when the URL is set and the rest is not whole,
    /// or when other LDAP settings are set without the URL.
    pub fn resolve(file: &FileSettings) -> anyhow::Result<Option<LdapSettings>> {
        let text = |var: &str, from_file: &Option<String>| {
            env(var)
                .or_else(|| from_file.clone())
                .filter(|v| !v.trim().is_empty())
        };
        let path = |var: &str, from_file: &Option<PathBuf>| {
            env(var).map(PathBuf::from).or_else(|| from_file.clone())
        };
        let Some(url) = text("TESSERA_LDAP_URL", &file.ldap_url) else {
            let others = std::env::vars()
                .any(|(k, v)| k.starts_with("TESSERA_LDAP_") && !v.is_empty())
                || file.ldap_bind_dn.is_some()
                || file.ldap_base_dn.is_some()
                || file.ldap_root_unit.is_some();
            if others {
                bail!("LDAP settings are given but TESSERA_LDAP_URL (ldap_url) is not");
            }
            return Ok(None);
        };
        let parsed = url::Url::parse(&url).with_context(|| {
            format!(
                "TESSERA_LDAP_URL must be ldaps://host[:port] or ldap://host[:port], got {url:?}"
            )
        })?;
        let starttls = match parsed.scheme() {
            "ldaps" => false,
            "ldap" => true,
            other => bail!(
                "TESSERA_LDAP_URL must start with ldaps:// or ldap:// (StartTLS), not {other}://"
            ),
        };
        if parsed.host_str().is_none_or(str::is_empty) {
            bail!("TESSERA_LDAP_URL has no host: {url}");
        }
        if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() {
            bail!("TESSERA_LDAP_URL takes no DN or query (set TESSERA_LDAP_BASE_DN): {url}");
        }
        let ca_file = path("TESSERA_LDAP_CA_FILE", &file.ldap_ca_file).context(
            "TESSERA_LDAP_CA_FILE (ldap_ca_file) is not set: give the PEM file of the CA that signed \
             the directory's certificate (the connection is always TLS)",
        )?;
        let tls = Arc::new(crate::syslog::client_config(
            &ca_file,
            "TESSERA_LDAP_CA_FILE",
        )?);
        let required = |var: &str, from_file: &Option<String>, what: &str| {
            text(var, from_file).with_context(|| {
                format!(
                    "{var} ({}) is not set: {what}",
                    var.trim_start_matches("TESSERA_").to_ascii_lowercase()
                )
            })
        };
        let bind_dn = required(
            "TESSERA_LDAP_BIND_DN",
            &file.ldap_bind_dn,
            "the DN of the account Tessera reads the directory with",
        )?;
        let bind_password = match (
            env("TESSERA_LDAP_BIND_PASSWORD"),
            path(
                "TESSERA_LDAP_BIND_PASSWORD_FILE",
                &file.ldap_bind_password_file,
            ),
        ) {
            (Some(_), Some(_)) => bail!(
                "set either TESSERA_LDAP_BIND_PASSWORD or TESSERA_LDAP_BIND_PASSWORD_FILE, not both"
            ),
            (Some(pw), None) => pw,
            (None, Some(f)) => std::fs::read_to_string(&f)
                .with_context(|| {
                    format!("cannot read the LDAP bind password file {}", f.display())
                })?
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
            (None, None) => bail!(
                "no LDAP bind password: set TESSERA_LDAP_BIND_PASSWORD_FILE (a file holding it) or \
                 TESSERA_LDAP_BIND_PASSWORD"
            ),
        };
        // An empty password would make the bind anonymous (RFC 4513 §5.1.2).
        if bind_password.is_empty() {
            bail!("the LDAP bind password is empty (that would be an anonymous bind)");
        }
        let base_dn = required(
            "TESSERA_LDAP_BASE_DN",
            &file.ldap_base_dn,
            "the DN under which people are searched, e.g. dc=haiphong,dc=gov,dc=vn",
        )?;
        let user_filter = text("TESSERA_LDAP_USER_FILTER", &file.ldap_user_filter)
            .unwrap_or_else(|| "(objectClass=inetOrgPerson)".into());
        if !(user_filter.starts_with('(') && user_filter.ends_with(')')) {
            bail!(
                "TESSERA_LDAP_USER_FILTER must be an LDAP filter in parentheses, got {user_filter:?}"
            );
        }
        let attr =
            |var: &str, from_file: &Option<String>, default: &str| -> anyhow::Result<String> {
                let v = text(var, from_file).unwrap_or_else(|| default.to_owned());
                if !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    bail!("{var} must be an attribute name, got {v:?}");
                }
                Ok(v)
            };
        let attrs = AttributeMap {
            username: attr(
                "TESSERA_LDAP_ATTR_USERNAME",
                &file.ldap_attr_username,
                "uid",
            )?,
            name: attr("TESSERA_LDAP_ATTR_NAME", &file.ldap_attr_name, "cn")?,
            mail: attr("TESSERA_LDAP_ATTR_MAIL", &file.ldap_attr_mail, "mail")?,
            phone: attr(
                "TESSERA_LDAP_ATTR_PHONE",
                &file.ldap_attr_phone,
                "telephoneNumber",
            )?,
            title: attr("TESSERA_LDAP_ATTR_TITLE", &file.ldap_attr_title, "title")?,
        };
        let root_unit = text("TESSERA_LDAP_ROOT_UNIT", &file.ldap_root_unit);
        let sync_interval_secs =
            env_number("TESSERA_LDAP_SYNC_INTERVAL_SECS")?.or(file.ldap_sync_interval_secs);
        if let Some(s) = sync_interval_secs
            && !(1..=7 * 86_400).contains(&s)
        {
            bail!("TESSERA_LDAP_SYNC_INTERVAL_SECS must be between 1 second and 7 days, got {s}");
        }
        if sync_interval_secs.is_some() && root_unit.is_none() {
            bail!(
                "TESSERA_LDAP_SYNC_INTERVAL_SECS is set but TESSERA_LDAP_ROOT_UNIT is not: give the id \
                 of the unit under which the directory's OUs become units"
            );
        }
        Ok(Some(LdapSettings {
            url,
            starttls,
            ca_file,
            tls,
            bind_dn,
            bind_password: BindPassword(bind_password),
            base_dn,
            user_filter,
            attrs,
            root_unit,
            sync_interval_secs,
            password_login: env_flag("TESSERA_LDAP_PASSWORD_LOGIN")
                .or(file.ldap_password_login)
                .unwrap_or(false),
        }))
    }
}
