//! `tessera mfa …`: levels of assurance by unit and role, hardware OTP tokens, and resetting a
//! user's factors.

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::json;
use tessera_core::Provider;
use tessera_core::mfa::{self, policy};

#[derive(Debug, Subcommand)]
pub enum MfaCommand {
    /// Require a level of assurance for the users of a unit (and its sub-units) and/or a role;
    /// users without a second factor are guided through enrolment at their next login
    Require {
        /// Unit id (its sub-units are included) [default: every unit]
        #[arg(long)]
        unit: Option<String>,
        /// Role, e.g. admin or signer [default: every role]
        #[arg(long)]
        role: Option<String>,
        /// Level: urn:tessera:loa:2 (two factors or a passkey) or urn:tessera:loa:1
        #[arg(long, default_value = "urn:tessera:loa:2")]
        level: String,
    },
    /// List the policies
    Policies {
        #[arg(long)]
        json: bool,
    },
    /// Remove a policy by id
    Unrequire { id: String },
    /// Remove every passkey, authenticator app, OTP token and recovery code of a user who lost
    /// them
    Reset { username: String },
    /// Hardware OTP tokens (HOTP/TOTP) from the vendor's seed file: import, list, remove,
    /// disable, enable, resync
    #[command(subcommand)]
    Token(crate::cli_otp_token::TokenCommand),
}

pub async fn run(p: &Provider, cmd: MfaCommand, actor: &str, now: i64) -> anyhow::Result<()> {
    match cmd {
        MfaCommand::Require { unit, role, level } => {
            if unit.is_none() && role.is_none() {
                eprintln!("note: this policy applies to every user");
            }
            let pol = policy::add(p, unit.as_deref(), role.as_deref(), &level, actor, now).await?;
            println!("policy {} added", pol.id);
        }
        MfaCommand::Policies { json } => {
            let list = policy::list(p).await?;
            if json {
                let items: Vec<_> = list
                    .iter()
                    .map(|x| json!({ "id": x.id, "unit": x.unit_id, "role": x.role, "min_acr": x.min_acr }))
                    .collect();
                println!("{}", serde_json::Value::Array(items));
            } else {
                for x in list {
                    println!(
                        "{}  unit={}  role={}  {}",
                        x.id,
                        x.unit_id.as_deref().unwrap_or("*"),
                        x.role.as_deref().unwrap_or("*"),
                        x.min_acr
                    );
                }
            }
        }
        MfaCommand::Unrequire { id } => {
            if !policy::remove(p, &id, actor, now).await? {
                bail!("no policy {id}");
            }
            println!("policy {id} removed");
        }
        MfaCommand::Reset { username } => {
            let user = tessera_core::admin::find_user(p, &username)
                .await?
                .with_context(|| format!("no user {username}"))?;
            mfa::reset(p, &user, actor, now).await?;
            println!("second factors of {} removed", user.username);
        }
        MfaCommand::Token(cmd) => crate::cli_otp_token::run(p, cmd, actor, now).await?,
    }
    Ok(())
}
