//! The `tessera` command line.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use tessera_core::admin::{self, NewClient, NewUser};
use tessera_core::audit::Event;
use tessera_core::signing::remote::permissions;

use crate::app;
use crate::clock::now;
use crate::settings::{FileSettings, ServeSettings, Settings};

#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "Tessera: shared identity, single sign-on and remote signing for city and provincial governments",
    long_about = "Tessera is an OpenID Connect provider. With no configuration it runs on its embedded \
                  defaults: an SQLite database and a software key token in ./tessera-data. Every command \
                  reads the same settings (flags, TESSERA_* environment variables, or a TOML file given \
                  with --config) and may run while a server is running."
)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct GlobalArgs {
    /// TOML file with settings (listen, issuer, data_dir, database_url, master_key, code_ttl_secs, …)
    #[arg(long, global = true, env = "TESSERA_CONFIG")]
    config: Option<PathBuf>,
    /// Directory for the embedded database and the master key file [default: ./tessera-data]
    #[arg(long, global = true, env = "TESSERA_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL: postgres://user@host/db for production; default SQLite at <data dir>/tessera.db
    #[arg(
        long,
        global = true,
        env = "TESSERA_DATABASE_URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the OpenID Connect provider (HTTP server); migrations run at start-up
    Serve(ServeArgs),
    /// Create or upgrade the database schema, then exit
    Migrate,
    /// Manage users (officials and citizens)
    #[command(subcommand)]
    User(UserCommand),
    /// Manage organisation units (city → department or district → commune)
    #[command(subcommand)]
    Unit(UnitCommand),
    /// Manage client applications (relying parties)
    #[command(subcommand)]
    Client(ClientCommand),
    /// API scopes (e.g. lgsp.write) that clients may be given, each owned by a unit
    #[command(subcommand)]
    Scope(crate::cli_scope::ScopeCommand),
    /// Inspect the tamper-evident audit log
    #[command(subcommand)]
    Audit(crate::cli_audit::AuditCommand),
    /// Inspect the HSM (PKCS#11): module, tokens, mechanisms, and the keys Tessera keeps there
    #[command(subcommand)]
    Hsm(crate::cli_hsm::HsmCommand),
    /// Token-signing keys
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Levels of assurance required by unit and role, and second factors of users
    #[command(subcommand)]
    Mfa(crate::cli_mfa::MfaCommand),
    /// The internal certificate authority (root and issuing CA)
    #[command(subcommand)]
    Ca(crate::cli_pki::CaCommand),
    /// Officials' signing credentials: issue, CSR for an external CA, import, renew, suspend,
    /// resume, revoke
    #[command(subcommand)]
    Cert(crate::cli_pki::CertCommand),
    /// Trust anchors for imported certificates: add, list, remove (audited)
    #[command(subcommand)]
    Trust(crate::cli_trust::TrustCommand),
    /// Sign documents with an organisation credential (CMS/CAdES, PDF/PAdES); personal credentials sign
    /// only through remote approval by their holder
    #[command(subcommand)]
    Sign(crate::cli_sign::SignCommand),
    /// Check the configuration: effective settings, and refusals in production
    #[command(subcommand)]
    Config(crate::cli_config::ConfigCommand),
    /// Back the SQLite database up while serving: one file sealed under the master key
    Backup {
        /// The backup file to write (never overwritten)
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup made by `tessera backup` into the data directory (which must hold
    /// nothing but the master key, unless --force)
    Restore {
        /// The backup file
        #[arg(long = "in", value_name = "FILE")]
        input: PathBuf,
        /// Replace the database of a data directory that is not empty
        #[arg(long)]
        force: bool,
    },
    /// Validate the signatures of a PDF or a detached CMS (ETSI EN 319 102-1 verdicts).
    /// Exit 0: all passed; 1: one failed; 2: indeterminate; 3: no signature; 4: bad input;
    /// 5: other error
    Verify(crate::cli_verify::VerifyArgs),
    /// Demonstration data for a local trial (refused when TESSERA_ENV=production)
    #[command(subcommand)]
    Demo(crate::cli_demo::DemoCommand),
    /// LDAP/AD directory: synchronise people and units now (`tessera serve` also does it on a
    /// schedule with TESSERA_LDAP_SYNC_INTERVAL_SECS)
    #[command(subcommand)]
    Ldap(crate::cli_ldap::LdapCommand),
    /// Upstream OpenID Connect providers (VNeID) whose users sign in through Tessera
    #[command(subcommand)]
    Upstream(crate::cli_upstream::UpstreamCommand),
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// List signing keys: active ones sign, retired ones stay published until their tokens expire
    List {
        #[arg(long)]
        json: bool,
    },
    /// Generate new signing keys; they sign from now on, the old ones stay in the JWKS until
    /// every token they signed has expired
    Rotate {
        /// Algorithm to rotate [default: all]
        #[arg(long, value_parser = ["ES256", "RS256"])]
        alg: Option<String>,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address and port to listen on (port 0 picks a free port)
    #[arg(long, env = "TESSERA_LISTEN")]
    listen: Option<String>,
    /// Public issuer URL, e.g. https://id.haiphong.gov.vn [default: http://<listen address>]
    #[arg(long, env = "TESSERA_ISSUER")]
    issuer: Option<String>,
    /// Address and port of the Prometheus metrics endpoint (`GET /metrics`), kept apart from
    /// the public one [default: no metrics endpoint]
    #[arg(long, env = "TESSERA_METRICS_ADDR")]
    metrics_addr: Option<String>,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user; the password is read from standard input
    Add {
        /// Login name: 2–64 characters of a-z, 0-9, '.', '_' or '-'
        #[arg(long)]
        username: String,
        /// Display name, e.g. "Nguyễn Văn An"
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: Option<String>,
        /// Phone number in E.164 form, e.g. +84912345678
        #[arg(long)]
        phone: Option<String>,
        /// Organisation unit id (see `tessera unit list`)
        #[arg(long)]
        unit: Option<String>,
        /// Role, repeatable (e.g. --role official --role signer)
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Read the password from standard input (required: never put passwords in arguments)
        #[arg(long, required = true)]
        password_stdin: bool,
        /// The person must change this password at the first sign-in (a password handed to
        /// them); without it the password stays (bootstrap, automation)
        #[arg(long)]
        temporary: bool,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
    /// Set a user's password, read from standard input; ends their sessions and revokes their
    /// tokens
    Passwd {
        username: String,
        /// Read the password from standard input (required: never put passwords in arguments)
        #[arg(long, required = true)]
        password_stdin: bool,
        /// The person must change this password at the next sign-in
        #[arg(long)]
        temporary: bool,
    },
    /// List users
    List {
        #[arg(long)]
        json: bool,
    },
    /// Import people from a UTF-8 CSV file (columns: username, name, email, phone, unit,
    /// roles, title); re-running updates, never duplicates. New people get no password.
    Import {
        #[arg(long)]
        file: std::path::PathBuf,
        /// Unit of the rows without a `unit` column value
        #[arg(long)]
        unit: Option<String>,
        /// Check every row and report what would change; write nothing
        #[arg(long)]
        dry_run: bool,
        /// Create units named in `unit` paths that do not exist yet (refused otherwise)
        #[arg(long)]
        create_units: bool,
    },
    /// Disable a user: ends their sessions and revokes their tokens
    Disable { username: String },
    /// Lift a lockout: forget the user's wrong second-factor codes and wrong passwords
    /// (check with the person first that the failures were theirs)
    Unlock { username: String },
    /// Give a user a unit (users without one are reachable through the admin API only by
    /// administrators of the single top-level unit)
    SetUnit {
        username: String,
        #[arg(long)]
        unit: String,
    },
    /// Grant an administrative role over a unit and every unit below it (e.g. the first
    /// administrator: --role admin --unit <city unit id>)
    Grant {
        username: String,
        /// admin (units, users, clients, grants), cert_admin (credentials and certificates)
        /// or auditor (read only)
        #[arg(long, value_parser = ["admin", "cert_admin", "auditor"])]
        role: String,
        /// Unit id (see `tessera unit list`)
        #[arg(long)]
        unit: String,
    },
    /// Take an administrative role away
    RevokeGrant {
        username: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        unit: String,
    },
    /// List a user's administrative grants
    Grants {
        username: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum UnitCommand {
    /// Add a unit; without --parent it is a top-level (city) unit
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        parent: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List units
    List {
        #[arg(long)]
        json: bool,
    },
}

// Parsed once per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Register a client application; prints its secret once
    Add {
        /// Client id, e.g. vanban (2–64 characters of a-z, 0-9, '.', '_' or '-')
        #[arg(long)]
        id: String,
        /// Name shown to users on the login page
        #[arg(long)]
        name: String,
        /// Redirect URI, repeatable; compared exactly (required for the authorization_code grant)
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// Public client (mobile or browser app): no secret, PKCE required
        #[arg(long)]
        public: bool,
        /// Where users may be sent after logout, repeatable
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// Back-channel logout endpoint of the application
        #[arg(long)]
        backchannel_logout_uri: Option<String>,
        /// Token signing algorithm
        #[arg(long, value_parser = ["ES256", "RS256"], default_value = "ES256")]
        alg: String,
        /// Allowed scopes, space separated: OIDC scopes for user logins, API scopes registered
        /// with `tessera scope add` (e.g. lgsp.read) for client credentials
        /// [default: openid profile email phone org offline_access]
        #[arg(long)]
        scopes: Option<String>,
        /// Grant type, repeatable [default: authorization_code and refresh_token]
        #[arg(long = "grant-type", value_parser = ["authorization_code", "refresh_token", "client_credentials", "device_code", "urn:ietf:params:oauth:grant-type:device_code"])]
        grant_types: Vec<String>,
        /// File with the client's public JWK Set: it then authenticates with private_key_jwt
        #[arg(long, conflicts_with = "jwks_uri")]
        jwks: Option<PathBuf>,
        /// URL of the client's public JWK Set (private_key_jwt); fetched within the outbound allow-list
        #[arg(long)]
        jwks_uri: Option<String>,
        /// Refresh tokens unused this long (seconds) expire [default: 7 days]
        #[arg(long)]
        refresh_idle_ttl: Option<i64>,
        /// Refresh-token families end this long (seconds) after the login [default: 30 days]
        #[arg(long)]
        refresh_absolute_ttl: Option<i64>,
        /// Minimum level of assurance of every login to this client, e.g. urn:tessera:loa:2
        #[arg(long, value_parser = ["urn:tessera:loa:1", "urn:tessera:loa:2"])]
        min_acr: Option<String>,
        /// Owning unit: its administrators (and those above) manage the client through the
        /// admin API [default: none, top-level administrators only]
        #[arg(long)]
        unit: Option<String>,
        /// Pin as an administration console: the only kind of client whose tokens the
        /// administration API accepts (adds the tessera:admin scope)
        #[arg(long)]
        admin_console: bool,
        /// Who may sign in: officials, citizens (signed in through an upstream such as
        /// VNeID) or both; the others get a refusal page
        #[arg(long, value_parser = ["officials", "citizens", "both"], default_value = "officials")]
        audience: String,
        /// Print {"client_id": …, "client_secret": …}
        #[arg(long)]
        json: bool,
    },
    /// Pin an existing client as an administration console, or unpin it with --off (its
    /// tokens stop working at once)
    AdminConsole {
        id: String,
        #[arg(long)]
        off: bool,
    },
    /// A new secret for a confidential client (the old one stops working); prints it once
    RotateSecret {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Give a client a unit (objects without one are reachable through the admin API only by
    /// administrators of the single top-level unit)
    SetUnit {
        id: String,
        #[arg(long)]
        unit: String,
    },
    /// List clients
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one client, with the units whose people it may ask for signatures
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Let a client ask the people of a unit (and the units below it) for signatures with its
    /// own client-credentials token (scope sign:request)
    AllowSigningRequests {
        #[arg(long)]
        client: String,
        /// Unit id
        #[arg(long)]
        unit: String,
    },
    /// Withdraw that permission
    DisallowSigningRequests {
        #[arg(long)]
        client: String,
        /// Unit id
        #[arg(long)]
        unit: String,
    },
    /// Remove a client and everything issued to it
    Remove { id: String },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = init_logging(matches!(cli.command, Command::Serve(_))) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to standard error: readable lines by default, one JSON object a line with
/// `TESSERA_LOG_FORMAT=json` (for the SOC's collector), each carrying the request's span.
fn init_logging(server: bool) -> Result<(), String> {
    let default = if server { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let format = std::env::var("TESSERA_LOG_FORMAT").unwrap_or_default();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format.as_str() {
        "" | "text" => {
            use std::io::IsTerminal;
            let _ = builder
                .with_ansi(std::io::stderr().is_terminal())
                .try_init();
        }
        "json" => {
            let _ = builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .try_init();
        }
        other => {
            return Err(format!(
                "TESSERA_LOG_FORMAT must be `text` or `json`, not `{other}`"
            ));
        }
    }
    Ok(())
}

/// A client as `client list --json` and `client show --json` print it.
async fn client_json(
    p: &tessera_core::Provider,
    c: &tessera_store::clients::Client,
) -> anyhow::Result<serde_json::Value> {
    Ok(json!({
        "client_id": c.id, "name": c.name, "unit_id": c.unit_id, "public": c.public,
        "redirect_uris": c.redirect_uris, "grant_types": c.grant_types, "alg": c.token_alg,
        "scopes": c.allowed_scopes, "admin_console": c.admin_console,
        "signing_units": permissions::units(p, &c.id).await?,
    }))
}

fn actor() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    )
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let file = match &cli.global.config {
        Some(path) => FileSettings::load(path)?,
        None => FileSettings::default(),
    };
    let settings = Settings::resolve(
        cli.global.data_dir.clone(),
        cli.global.database_url.clone(),
        &file,
    )?;
    if let Command::Serve(args) = cli.command {
        let serve = ServeSettings::resolve(args.listen, args.issuer, args.metrics_addr, &file)?;
        app::serve(settings, serve).await?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Hsm(hsm) = cli.command {
        return crate::cli_hsm::run(&settings, hsm).await;
    }
    if let Command::Config(cmd) = cli.command {
        return crate::cli_config::run(&settings, &file, cmd).await;
    }
    if let Command::Backup { out } = &cli.command {
        return crate::cli_backup::backup(&settings, out).await;
    }
    if let Command::Restore { input, force } = &cli.command {
        return crate::cli_backup::restore(&settings, input, *force).await;
    }
    if let Command::Verify(args) = cli.command {
        return Ok(crate::cli_verify::run(&settings, &file, args).await);
    }
    if matches!(cli.command, Command::Demo(_)) {
        crate::cli_demo::refuse_production()?;
    }
    // Administrative commands do not issue tokens, so the issuer does not matter to them.
    let issuer = file
        .issuer
        .clone()
        .unwrap_or_else(|| "http://localhost".into());
    let p = app::open(&settings, &issuer, &app::cli_writer()).await?;
    let result = match cli.command {
        Command::Ca(ca) => crate::cli_pki::run_ca(&p, ca, file.issuer.clone()).await,
        Command::Cert(cert) => crate::cli_pki::run_cert(&p, cert).await,
        Command::Trust(t) => crate::cli_trust::run(&p, t, crate::cli_pki::actor()).await,
        Command::Sign(s) => crate::cli_sign::run(&p, s).await,
        Command::Demo(d) => crate::cli_demo::run(&p, &settings.data_dir, d)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Ldap(cmd) => crate::cli_ldap::run(&p, &settings, cmd).await,
        other => command(&p, other).await,
    };
    p.close().await;
    result
}

async fn find_user(
    p: &tessera_core::Provider,
    username: &str,
) -> anyhow::Result<tessera_store::users::User> {
    let name = tessera_core::username::normalise_username(username);
    admin::find_user(p, &name)
        .await?
        .with_context(|| format!("no user named {name}"))
}

/// A password from standard input, without its line ending.
fn read_password() -> anyhow::Result<String> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("cannot read the password from standard input")?;
    Ok(password.trim_end_matches(['\r', '\n']).to_owned())
}

fn print_json(v: serde_json::Value) {
    println!("{v}");
}

async fn command(p: &tessera_core::Provider, command: Command) -> anyhow::Result<ExitCode> {
    let now = now();
    match command {
        Command::Serve(_) => bail!("serve is handled before administrative commands"),
        Command::Hsm(_) => bail!("hsm is handled before administrative commands"),
        Command::Ca(_) | Command::Cert(_) | Command::Trust(_) | Command::Sign(_) => {
            bail!("ca, cert, trust and sign are handled by cli_pki, cli_trust and cli_sign")
        }
        Command::Verify(_) => bail!("verify is handled before administrative commands"),
        Command::Config(_) | Command::Backup { .. } | Command::Restore { .. } => {
            bail!("config, backup and restore are handled before administrative commands")
        }
        Command::Demo(_) => bail!("demo is handled by cli_demo"),
        Command::Ldap(_) => bail!("ldap is handled by cli_ldap"),
        Command::Migrate => println!("database is up to date"),
        Command::Mfa(cmd) => crate::cli_mfa::run(p, cmd, &actor(), now).await?,
        Command::Scope(cmd) => crate::cli_scope::run(p, cmd, &actor(), now).await?,
        Command::Upstream(cmd) => crate::cli_upstream::run(p, cmd, &actor(), now).await?,
        Command::User(UserCommand::Add {
            username,
            name,
            email,
            phone,
            unit,
            roles,
            password_stdin: _,
            temporary,
            json,
        }) => {
            let password = read_password()?;
            let user = admin::add_user(
                p,
                &actor(),
                NewUser {
                    username,
                    display_name: name,
                    email,
                    phone,
                    unit_id: unit,
                    roles,
                    password,
                    must_change_password: temporary,
                },
                now,
            )
            .await?;
            if json {
                print_json(json!({ "id": user.id, "username": user.username }));
            } else {
                println!("created user {} (id {})", user.username, user.id);
            }
        }
        Command::User(UserCommand::Passwd {
            username,
            password_stdin: _,
            temporary,
        }) => {
            let user = find_user(p, &username).await?;
            let password = read_password()?;
            admin::set_password(p, &actor(), &user, &password, temporary, now).await?;
            if temporary {
                println!(
                    "set a temporary password for {}: it must be changed at the next sign-in; their sessions ended",
                    user.username
                );
            } else {
                println!(
                    "set the password of {}; their sessions ended",
                    user.username
                );
            }
        }
        Command::User(UserCommand::List { json }) => {
            let users = admin::list_users(p).await?;
            if json {
                print_json(serde_json::Value::Array(
                    users
                        .iter()
                        .map(|u| json!({ "id": u.id, "username": u.username, "name": u.display_name, "email": u.email, "phone": u.phone, "unit_id": u.unit_id, "roles": u.roles, "status": u.status.as_str() }))
                        .collect(),
                ));
            } else {
                for u in users {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        u.username,
                        u.display_name,
                        u.status.as_str(),
                        u.unit_id.unwrap_or_default(),
                        u.roles.join(",")
                    );
                }
            }
        }
        Command::User(UserCommand::Disable { username }) => {
            admin::disable_user(p, &actor(), &username, now).await?;
            println!(
                "disabled user {username}; their sessions ended and their tokens were revoked"
            );
        }
        Command::User(UserCommand::Import {
            file,
            unit,
            dry_run,
            create_units,
        }) => {
            crate::cli_import::run(p, &actor(), &file, unit, dry_run, create_units, now).await?;
        }
        Command::User(UserCommand::Unlock { username }) => {
            let user = find_user(p, &username).await?;
            let done = tessera_core::mfa::unlock(p, &user).await?;
            p.audit(Event::UserUnlocked.at(now).actor(&actor()).detail(serde_json::json!({
                    "user": user.id, "second_factor": done.second_factor, "password": done.password,
                })))
            .await?;
            match (done.second_factor, done.password) {
                (false, false) => println!("{} had no failures counted", user.username),
                _ => println!(
                    "cleared the failures counted against {} (second factor: {}, password: {})",
                    user.username, done.second_factor, done.password
                ),
            }
        }
        Command::User(UserCommand::Grant {
            username,
            role,
            unit,
        }) => {
            let user = find_user(p, &username).await?;
            let actor = actor();
            admin::grant_role_by(p, &admin::Acting::cli(&actor), &user, &role, &unit, now).await?;
            println!(
                "granted {role} over unit {unit} (and the units below it) to {}",
                user.username
            );
        }
        Command::User(UserCommand::RevokeGrant {
            username,
            role,
            unit,
        }) => {
            let user = find_user(p, &username).await?;
            let actor = actor();
            admin::revoke_role_by(p, &admin::Acting::cli(&actor), &user, &role, &unit, now).await?;
            println!("revoked {role} over unit {unit} from {}", user.username);
        }
        Command::User(UserCommand::Grants { username, json }) => {
            let user = find_user(p, &username).await?;
            let grants = admin::role_grants_of(p, &user.id).await?;
            if json {
                print_json(serde_json::Value::Array(
                    grants
                        .iter()
                        .map(|g| json!({ "role": g.role, "unit_id": g.unit_id, "granted_by": g.granted_by, "granted_at": g.granted_at }))
                        .collect(),
                ));
            } else {
                for g in grants {
                    println!("{}\t{}\t{}", g.role, g.unit_id, g.granted_by);
                }
            }
        }
        Command::Unit(UnitCommand::Add { name, parent, json }) => {
            let unit = admin::add_unit(p, &actor(), &name, parent.as_deref(), now).await?;
            if json {
                print_json(
                    json!({ "id": unit.id, "name": unit.name, "parent_id": unit.parent_id, "level": unit.level }),
                );
            } else {
                println!(
                    "created unit {} ({}, id {})",
                    unit.name, unit.level, unit.id
                );
            }
        }
        Command::Unit(UnitCommand::List { json }) => {
            let units = admin::list_units(p).await?;
            if json {
                print_json(serde_json::Value::Array(
                    units.iter().map(|u| json!({ "id": u.id, "name": u.name, "parent_id": u.parent_id, "level": u.level })).collect(),
                ));
            } else {
                for u in units {
                    println!(
                        "{}\t{}\t{}\t{}",
                        u.id,
                        u.level,
                        u.parent_id.unwrap_or_default(),
                        u.name
                    );
                }
            }
        }
        Command::Client(ClientCommand::Add {
            id,
            name,
            redirect_uris,
            public,
            post_logout_redirect_uris,
            backchannel_logout_uri,
            alg,
            scopes,
            grant_types,
            jwks,
            jwks_uri,
            refresh_idle_ttl,
            refresh_absolute_ttl,
            min_acr,
            unit,
            admin_console,
            audience,
            json,
        }) => {
            let scopes = scopes.map(|s| s.split_whitespace().map(str::to_owned).collect());
            let jwks = match jwks {
                Some(path) => Some(
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read --jwks {}", path.display()))?,
                ),
                None => None,
            };
            let new = NewClient {
                id,
                name,
                public,
                redirect_uris,
                post_logout_redirect_uris,
                backchannel_logout_uri,
                alg: Some(alg),
                scopes,
                grant_types: (!grant_types.is_empty()).then_some(grant_types),
                jwks,
                jwks_uri,
                refresh_idle_ttl,
                refresh_absolute_ttl,
                min_acr,
                unit_id: unit,
                admin_console,
            };
            let (client, secret) = admin::add_client(p, &actor(), new, now).await?;
            if audience != "officials" {
                tessera_core::upstream::set_client_audience(p, &client.id, &audience).await?;
            }
            if json {
                print_json(json!({ "client_id": client.id, "client_secret": secret }));
            } else {
                println!("registered client {}", client.id);
                match secret {
                    Some(s) => println!("client secret (shown only now, store it safely): {s}"),
                    None => println!("public client: no secret; PKCE (S256) is required"),
                }
            }
        }
        Command::Client(ClientCommand::List { json }) => {
            let clients = admin::list_clients(p).await?;
            if json {
                let mut out = Vec::with_capacity(clients.len());
                for c in &clients {
                    out.push(client_json(p, c).await?);
                }
                print_json(serde_json::Value::Array(out));
            } else {
                for c in clients {
                    let kind = if c.public { "public" } else { "confidential" };
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        c.id,
                        kind,
                        c.token_alg,
                        c.redirect_uris.join(" "),
                        c.name
                    );
                }
            }
        }
        Command::Client(ClientCommand::Show { id, json }) => {
            let clients = admin::list_clients(p).await?;
            let Some(c) = clients.into_iter().find(|c| c.id == id) else {
                bail!("no client {id}");
            };
            let v = client_json(p, &c).await?;
            if json {
                print_json(v);
            } else {
                let list = |k: &str| {
                    v[k].as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|x| x.as_str())
                                .collect::<Vec<_>>()
                                .join(" ")
                        })
                        .unwrap_or_default()
                };
                println!("client_id\t{}", c.id);
                println!("name\t{}", c.name);
                println!("kind\t{}", if c.public { "public" } else { "confidential" });
                println!("unit\t{}", c.unit_id.as_deref().unwrap_or("-"));
                println!("alg\t{}", c.token_alg);
                println!("redirect_uris\t{}", list("redirect_uris"));
                println!("grant_types\t{}", list("grant_types"));
                println!("scopes\t{}", list("scopes"));
                println!("admin_console\t{}", c.admin_console);
                println!("signing_units\t{}", list("signing_units"));
            }
        }
        Command::Client(ClientCommand::AllowSigningRequests { client, unit }) => {
            let actor = crate::cli_pki::actor();
            if permissions::allow(p, &actor, &client, &unit, now).await? {
                println!("client {client} may now ask the people of unit {unit} for signatures");
            } else {
                println!(
                    "client {client} already could ask the people of unit {unit} for signatures"
                );
            }
        }
        Command::Client(ClientCommand::DisallowSigningRequests { client, unit }) => {
            let actor = crate::cli_pki::actor();
            if permissions::disallow(p, &actor, &client, &unit, now).await? {
                println!(
                    "client {client} may no longer ask the people of unit {unit} for signatures"
                );
            } else {
                println!(
                    "client {client} could not ask the people of unit {unit} for signatures; nothing to do"
                );
            }
        }
        Command::Client(ClientCommand::AdminConsole { id, off }) => {
            let c = admin::set_admin_console(p, &actor(), &id, !off, now).await?;
            if c.admin_console {
                println!("client {id} is an administration console");
            } else {
                println!("client {id} is no longer an administration console");
            }
        }
        Command::Client(ClientCommand::RotateSecret { id, json }) => {
            let secret = admin::rotate_client_secret(p, &actor(), &id, now).await?;
            if json {
                print_json(json!({ "client_id": id, "client_secret": secret }));
            } else {
                println!("client secret (shown only now, store it safely): {secret}");
            }
        }
        Command::Client(ClientCommand::SetUnit { id, unit }) => {
            admin::set_client_unit(p, &actor(), &id, &unit, now).await?;
            println!("client {id} now belongs to unit {unit}");
        }
        Command::User(UserCommand::SetUnit { username, unit }) => {
            admin::set_user_unit(p, &actor(), &username, &unit, now).await?;
            println!("user {username} now belongs to unit {unit}");
        }
        Command::Client(ClientCommand::Remove { id }) => {
            admin::remove_client(p, &actor(), &id, now).await?;
            println!("removed client {id}");
        }
        Command::Keys(KeysCommand::List { json }) => {
            let keys = p.signer.list_keys().await?;
            if json {
                print_json(serde_json::Value::Array(
                    keys.iter()
                        .map(|k| json!({ "kid": k.kid, "alg": k.alg, "backend": k.backend, "status": k.status, "created_at": k.created_at, "retired_at": k.retired_at, "published_until": k.remove_after }))
                        .collect(),
                ));
            } else {
                for k in keys {
                    let until = match k.remove_after {
                        Some(t) if t > now => format!("published for {} s more", t - now),
                        Some(_) => "no longer published".into(),
                        None => "published".into(),
                    };
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        k.kid, k.alg, k.backend, k.status, until
                    );
                }
            }
        }
        Command::Keys(KeysCommand::Rotate { alg }) => {
            let algs: Vec<tessera_hsm::KeyAlgorithm> = match alg.as_deref() {
                Some(name) => tessera_hsm::KeyAlgorithm::from_jws_name(name)
                    .into_iter()
                    .collect(),
                None => tessera_core::jose::ALGORITHMS.to_vec(),
            };
            for alg in algs {
                match p.signer.rotate(alg, p.config.key_retention(), now).await? {
                    Some(kid) => {
                        p.audit(
                            Event::KeyRotated
                                .at(now)
                                .actor(&actor())
                                .detail(json!({ "alg": alg.jws_name(), "kid": kid })),
                        )
                        .await?;
                        println!("{}: new signing key {kid}", alg.jws_name());
                    }
                    None => println!(
                        "{}: another process rotated at the same time; nothing to do",
                        alg.jws_name()
                    ),
                }
            }
        }
        Command::Audit(cmd) => return crate::cli_audit::run(p, cmd).await,
    }
    Ok(ExitCode::SUCCESS)
}
