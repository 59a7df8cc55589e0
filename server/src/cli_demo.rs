//! `tessera demo seed`: demonstration data for a local trial on the embedded defaults — the
//! unit tree of a city, an administrator, two officials with signing credentials and
//! signature images, and the reference application `examples/document-office` registered.
//!
//! Every object goes through the same core functions as the other commands (and is audited
//! the same way); running it again creates only what is missing.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::json;
use tessera_core::Provider;
use tessera_core::admin::{self, Acting, NewClient, NewUser};
use tessera_core::pki::{self, CaInit, CredentialRequest};
use tessera_core::signing::images::{self, ImageOwner};
use tessera_core::signing::remote::permissions;
use tessera_hsm::KeyType;
use tessera_store::pki::{CredentialFilter, CredentialStatus};

use crate::clock::now;

/// The handwritten signature and the seal the demonstration officials and city get.
const SIGNATURE_PNG: &[u8] = include_bytes!("../assets/demo/chu-ky-xanh.png");
const SEAL_PNG: &[u8] = include_bytes!("../assets/demo/con-dau-do.png");

/// The reference application's client id.
pub const APP_CLIENT_ID: &str = "vanban";
/// Where `examples/document-office` reads its settings unless told otherwise.
pub const APP_CONFIG_FILE: &str = "document-office.json";

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Create demonstration data on this database (never in production): units, an
    /// administrator, two officials with credentials and signature images, the CA if there is
    /// none, and the reference application `vanban`. Passwords are printed once; running it
    /// again creates only what is missing
    Seed {
        /// Public URL of Tessera (the CA's CRL and OCSP links, the reference app's issuer)
        #[arg(long, env = "TESSERA_ISSUER", default_value = "http://127.0.0.1:8080")]
        issuer: String,
        /// Base URL of the reference application (examples/document-office)
        #[arg(long, default_value = "http://127.0.0.1:4000")]
        app_url: String,
        /// Where to write the reference application's settings (client id and secret, mode
        /// 0600) [default: <data dir>/document-office.json]
        #[arg(long)]
        app_config: Option<PathBuf>,
    },
}

/// The unit tree: (name, index of the parent in this list).
const UNITS: [(&str, Option<usize>); 4] = [
    ("Thành phố Hải Phòng", None),
    ("Sở Nội vụ", Some(0)),
    ("UBND quận Lê Chân", Some(0)),
    ("UBND phường An Biên", Some(2)),
];

struct Person {
    username: &'static str,
    name: &'static str,
    email: &'static str,
    /// Index in [`UNITS`].
    unit: usize,
    roles: &'static [&'static str],
    /// Administrative grants over the person's unit.
    grants: &'static [&'static str],
    title: Option<&'static str>,
}

const ADMIN: Person = Person {
    username: "quantri",
    name: "Đỗ Minh Quân",
    email: "quantri@haiphong.gov.vn",
    unit: 0,
    roles: &["official"],
    grants: &["admin", "cert_admin"],
    title: None,
};

const OFFICIALS: [Person; 2] = [
    Person {
        username: "an.nv",
        name: "Nguyễn Văn An",
        email: "an.nv@haiphong.gov.vn",
        unit: 1,
        roles: &["official"],
        grants: &[],
        title: Some("Chuyên viên"),
    },
    Person {
        username: "hoa.lt",
        name: "Lê Thị Hoa",
        email: "hoa.lt@haiphong.gov.vn",
        unit: 1,
        roles: &["official", "signer"],
        grants: &[],
        title: Some("Giám đốc Sở Nội vụ"),
    },
];

/// Refuses when the environment says production: demonstration passwords and clients have no
/// place there.
pub fn refuse_production() -> anyhow::Result<()> {
    match std::env::var("TESSERA_ENV") {
        Ok(env) if env.trim().eq_ignore_ascii_case("production") => {
            bail!("TESSERA_ENV=production: demonstration data is never created in production")
        }
        _ => Ok(()),
    }
}

/// Runs after [`refuse_production`], which the caller checks before opening the database.
pub async fn run(p: &Provider, data_dir: &Path, command: DemoCommand) -> anyhow::Result<()> {
    let DemoCommand::Seed {
        issuer,
        app_url,
        app_config,
    } = command;
    let issuer = issuer.trim_end_matches('/').to_owned();
    let app_url = app_url.trim_end_matches('/').to_owned();
    let app_config = app_config.unwrap_or_else(|| data_dir.join(APP_CONFIG_FILE));
    let actor = crate::cli_pki::actor();
    let now = now();

    let units = seed_units(p, &actor.id, now).await?;
    println!("Units:");
    for ((name, _), id) in UNITS.iter().zip(&units) {
        println!("  {name}  (id {id})");
    }

    println!("People (passwords are shown only when the account is created):");
    seed_person(p, &ADMIN, &units, now).await?;
    for person in &OFFICIALS {
        seed_person(p, person, &units, now).await?;
    }

    if pki::ca::list_cas(p).await?.is_empty() {
        let mut init = CaInit::new(&p.config.pki.organization);
        init.base_url = Some(issuer.clone());
        pki::init_ca(p, &actor, init, now).await?;
        println!("Certificate authority: created (root and issuing CA)");
    } else {
        println!("Certificate authority: already there");
    }
    for person in &OFFICIALS {
        seed_credential(p, &actor, person, now).await?;
        let owner = ImageOwner::User(person.username.into());
        if images::image(p, &owner).await?.is_none() {
            images::set_image(p, &actor, &owner, SIGNATURE_PNG, now).await?;
        }
    }
    let seal = ImageOwner::Unit(units[0].clone());
    if images::image(p, &seal).await?.is_none() {
        images::set_image(p, &actor, &seal, SEAL_PNG, now).await?;
    }
    println!(
        "Signature images: set for the officials; seal image: set for {}",
        UNITS[0].0
    );

    seed_app(p, &actor.id, &units[0], &issuer, &app_url, &app_config, now).await?;
    if permissions::allow(p, &actor, APP_CLIENT_ID, &units[0], now).await? {
        println!(
            "  may ask the people of {} (and the units below) for signatures",
            UNITS[0].0
        );
    }

    let host = url::Url::parse(&app_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "127.0.0.1".into());
    println!();
    println!("Next:");
    println!(
        "  1. Run Tessera, letting it call the reference app for back-channel logout:\n     \
         TESSERA_OUTBOUND_ALLOW_HOSTS={host} TESSERA_OUTBOUND_ALLOW_CIDRS=127.0.0.0/8 \
         TESSERA_OUTBOUND_ALLOW_HTTP=true cargo run --bin tessera -- serve"
    );
    println!(
        "  2. In another terminal: cargo run -p document-office   (reads {})",
        app_config.display()
    );
    println!(
        "  3. Open {app_url}, sign in as {} or {}, upload a PDF and ask {} to sign it.",
        OFFICIALS[0].username, OFFICIALS[1].username, OFFICIALS[1].username
    );
    println!(
        "     Approving a signature needs a second factor: set up a passkey or an \
         authenticator app on {issuer}/account first."
    );
    println!(
        "  4. The administration console: {issuer}/admin (as {}).",
        ADMIN.username
    );
    Ok(())
}

/// The units of [`UNITS`], found by name under their parent or created; their ids in order.
async fn seed_units(p: &Provider, actor: &str, now: i64) -> anyhow::Result<Vec<String>> {
    let existing = admin::list_units(p).await?;
    let mut ids: Vec<String> = Vec::with_capacity(UNITS.len());
    for (name, parent) in UNITS {
        let parent_id = parent.and_then(|i| ids.get(i)).cloned();
        let found = existing
            .iter()
            .find(|u| u.name == name && u.parent_id == parent_id);
        let id = match found {
            Some(u) => u.id.clone(),
            None => {
                admin::add_unit(p, actor, name, parent_id.as_deref(), now)
                    .await?
                    .id
            }
        };
        ids.push(id);
    }
    Ok(ids)
}

/// A random password of 16 URL-safe characters (96 bits), shown once.
fn demo_password() -> anyhow::Result<String> {
    let token = tessera_core::secrets::random_token()?;
    Ok(token.chars().take(16).collect())
}

async fn seed_person(
    p: &Provider,
    person: &Person,
    units: &[String],
    now: i64,
) -> anyhow::Result<()> {
    let unit = units
        .get(person.unit)
        .context("demo person in an unknown unit")?;
    let actor = crate::cli_pki::actor().id;
    let user = match admin::find_user(p, person.username).await? {
        Some(user) => {
            println!(
                "  {:<8} {} — already there, password unchanged",
                person.username, person.name
            );
            user
        }
        None => {
            let password = demo_password()?;
            let user = admin::add_user(
                p,
                &actor,
                NewUser {
                    username: person.username.into(),
                    display_name: person.name.into(),
                    email: Some(person.email.into()),
                    phone: None,
                    unit_id: Some(unit.clone()),
                    roles: person.roles.iter().map(|r| (*r).to_owned()).collect(),
                    password: password.clone(),
                    must_change_password: false,
                },
                now,
            )
            .await?;
            println!(
                "  {:<8} {} — password: {password}",
                person.username, person.name
            );
            user
        }
    };
    let grants = admin::role_grants_of(p, &user.id).await?;
    for role in person.grants {
        if !grants.iter().any(|g| g.role == *role && g.unit_id == *unit) {
            admin::grant_role_by(p, &Acting::cli(&actor), &user, role, unit, now).await?;
        }
    }
    if !person.grants.is_empty() {
        println!(
            "           {} over {}",
            person.grants.join(" and "),
            UNITS[person.unit].0
        );
    }
    Ok(())
}

/// An active personal credential issued by the internal CA, unless the person has one.
async fn seed_credential(
    p: &Provider,
    actor: &pki::Actor,
    person: &Person,
    now: i64,
) -> anyhow::Result<()> {
    let user = admin::find_user(p, person.username)
        .await?
        .with_context(|| format!("no user {}", person.username))?;
    let filter = CredentialFilter {
        user_id: Some(user.id.clone()),
        status: Some(CredentialStatus::Active),
        ..CredentialFilter::default()
    };
    if !pki::list_credentials(p, filter, None, now)
        .await?
        .is_empty()
    {
        println!("Credential of {}: already there", person.username);
        return Ok(());
    }
    let req = CredentialRequest {
        user: user.id,
        alg: KeyType::P256,
        title: person.title.map(str::to_owned),
    };
    let pending = pki::create_credential(p, actor, req, "internal", now).await?;
    let issued = pki::issue_internal(p, actor, &pending.id, now).await?;
    println!("Credential of {}: issued ({})", person.username, issued.id);
    Ok(())
}

/// Registers the reference application, or gives it a new secret when its settings file is
/// gone (the old secret was shown only once), and writes the settings file.
async fn seed_app(
    p: &Provider,
    actor: &str,
    unit: &str,
    issuer: &str,
    app_url: &str,
    app_config: &Path,
    now: i64,
) -> anyhow::Result<()> {
    let exists = admin::list_clients(p)
        .await?
        .iter()
        .any(|c| c.id == APP_CLIENT_ID);
    let secret = if !exists {
        let new = NewClient {
            id: APP_CLIENT_ID.into(),
            name: "Quản lý văn bản".into(),
            public: false,
            redirect_uris: vec![format!("{app_url}/callback")],
            post_logout_redirect_uris: vec![format!("{app_url}/")],
            backchannel_logout_uri: Some(format!("{app_url}/auth/backchannel-logout")),
            alg: None,
            scopes: Some(
                ["openid", "profile", "email", "org", "sign:request"]
                    .map(str::to_owned)
                    .to_vec(),
            ),
            grant_types: Some(
                ["authorization_code", "refresh_token", "client_credentials"]
                    .map(str::to_owned)
                    .to_vec(),
            ),
            jwks: None,
            jwks_uri: None,
            refresh_idle_ttl: None,
            refresh_absolute_ttl: None,
            min_acr: None,
            unit_id: Some(unit.to_owned()),
            admin_console: false,
        };
        let (_, secret) = admin::add_client(p, actor, new, now).await?;
        println!("Application {APP_CLIENT_ID} (Quản lý văn bản): registered for {app_url}");
        secret.context("the reference application is confidential but got no secret")?
    } else if !app_config.exists() {
        println!(
            "Application {APP_CLIENT_ID}: already there; its settings file is gone, so it gets a new secret"
        );
        admin::rotate_client_secret(p, actor, APP_CLIENT_ID, now).await?
    } else {
        println!(
            "Application {APP_CLIENT_ID}: already there (settings in {})",
            app_config.display()
        );
        return Ok(());
    };
    let settings = json!({
        "issuer": issuer,
        "client_id": APP_CLIENT_ID,
        "client_secret": secret,
        "app_url": app_url,
    });
    write_private(app_config, &serde_json::to_string_pretty(&settings)?)?;
    println!(
        "  settings (with the client secret) written to {}",
        app_config.display()
    );
    Ok(())
}

/// Writes a file only its owner may read: it holds a client secret.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
