//! `tessera mfa token …`: hardware OTP tokens, provisioned from the vendor's seed file.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::json;
use tessera_core::Provider;
use tessera_core::mfa::{otp_token, seed_file};
use tessera_store::users::User;

use crate::cli_verify::utc;

/// Larger than any vendor's delivery of a few thousand tokens; a bigger file is a mistake.
const MAX_SEED_FILE: u64 = 16 * 1024 * 1024;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Give a user the token of a row of a seed file (CSV with a header; see the README for the
    /// columns). The secret is stored encrypted and never printed
    Import {
        #[arg(long)]
        user: String,
        /// The vendor's seed file
        #[arg(long)]
        file: PathBuf,
        /// The serial of the row to import [default: the file's only row]
        #[arg(long)]
        serial: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// A user's tokens (never their secrets)
    List {
        #[arg(long)]
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Take a token from a user
    Remove {
        #[arg(long)]
        user: String,
        #[arg(long)]
        serial: String,
    },
    /// Turn a user's token off (reported lost, say) without removing it
    Disable {
        #[arg(long)]
        user: String,
        #[arg(long)]
        serial: String,
    },
    /// Turn a disabled token on again
    Enable {
        #[arg(long)]
        user: String,
        #[arg(long)]
        serial: String,
    },
    /// Bring an HOTP token whose button was pressed too often back in step: give two
    /// consecutive codes it shows now
    Resync {
        #[arg(long)]
        user: String,
        #[arg(long)]
        serial: String,
        #[arg(long, num_args = 2, value_names = ["CODE1", "CODE2"])]
        codes: Vec<String>,
    },
}

async fn user(p: &Provider, username: &str) -> anyhow::Result<User> {
    tessera_core::admin::find_user(p, username)
        .await?
        .with_context(|| format!("no user named {username}"))
}

fn read_seed_file(path: &PathBuf) -> anyhow::Result<String> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_SEED_FILE + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > MAX_SEED_FILE {
        bail!(
            "{} is larger than {} MiB: not a seed file",
            path.display(),
            MAX_SEED_FILE >> 20
        );
    }
    String::from_utf8(bytes)
        .with_context(|| format!("{} is not UTF-8 text (a CSV seed file)", path.display()))
}

fn describe(t: &otp_token::TokenInfo) -> String {
    let moves = match (t.period, t.next_counter) {
        (Some(p), _) => format!("every {p} s"),
        (_, Some(c)) => format!("next counter {c}"),
        _ => String::new(),
    };
    format!(
        "{}  {}  {} digits  {}  {}",
        t.serial,
        t.kind.to_uppercase(),
        t.digits,
        t.algorithm,
        moves
    )
}

pub async fn run(p: &Provider, cmd: TokenCommand, actor: &str, now: i64) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Import {
            user: username,
            file,
            serial,
            json,
        } => {
            let user = user(p, &username).await?;
            let text = read_seed_file(&file)?;
            let seeds = seed_file::parse(&text).with_context(|| file.display().to_string())?;
            let seed = seed_file::pick(seeds, serial.as_deref())
                .with_context(|| file.display().to_string())?;
            let info = otp_token::import(p, &user, &seed, actor, now).await?;
            if json {
                println!("{}", json!({ "user": user.username, "token": info }));
            } else {
                println!("gave {} the token {}", user.username, describe(&info));
            }
        }
        TokenCommand::List {
            user: username,
            json,
        } => {
            let user = user(p, &username).await?;
            let tokens = otp_token::list(p, &user).await?;
            if json {
                println!("{}", serde_json::to_value(&tokens)?);
            } else if tokens.is_empty() {
                println!("{} has no OTP token", user.username);
            } else {
                for t in tokens {
                    let last = t.last_used_at.map_or_else(|| "never used".into(), utc);
                    let state = if t.disabled { "  DISABLED" } else { "" };
                    println!("{}  last used: {last}{state}", describe(&t));
                }
            }
        }
        TokenCommand::Remove {
            user: username,
            serial,
        } => {
            let user = user(p, &username).await?;
            if !otp_token::remove(p, &user, &serial, actor, now).await? {
                bail!("{} holds no token with serial '{serial}'", user.username);
            }
            println!("took token {serial} from {}", user.username);
        }
        TokenCommand::Disable {
            user: username,
            serial,
        } => set_disabled(p, &username, &serial, true, actor, now).await?,
        TokenCommand::Enable {
            user: username,
            serial,
        } => set_disabled(p, &username, &serial, false, actor, now).await?,
        TokenCommand::Resync {
            user: username,
            serial,
            codes,
        } => {
            let user = user(p, &username).await?;
            let [first, second] = codes.as_slice() else {
                bail!("give two consecutive codes: --codes CODE1 CODE2");
            };
            let skipped = otp_token::resync(p, &user, &serial, first, second, actor, now).await?;
            println!(
                "token {serial} of {} is in step again ({skipped} codes skipped)",
                user.username
            );
        }
    }
    Ok(())
}

async fn set_disabled(
    p: &Provider,
    username: &str,
    serial: &str,
    disabled: bool,
    actor: &str,
    now: i64,
) -> anyhow::Result<()> {
    let user = user(p, username).await?;
    let (done, word) = if disabled {
        ("disabled", "off")
    } else {
        ("enabled", "on")
    };
    if !otp_token::set_disabled(p, &user, serial, disabled, actor, now).await? {
        let held = otp_token::list(p, &user)
            .await?
            .iter()
            .any(|t| t.serial == serial);
        if held {
            bail!("token {serial} of {} is already {word}", user.username);
        }
        bail!("{} holds no token with serial '{serial}'", user.username);
    }
    println!("{done} token {serial} of {}", user.username);
    Ok(())
}
