//! `tessera upstream …`: upstream OpenID Connect providers (VNeID) whose users sign in to
//! Tessera's applications through Tessera (identity brokering). Kept in the database, so every
//! replica offers the same buttons; the client secret is sealed under the master key.

use std::io::Read;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;
use tessera_core::Provider;
use tessera_core::upstream::{self, NewUpstream, Population};

#[derive(Debug, Subcommand)]
pub enum UpstreamCommand {
    /// Register an upstream provider; its button appears on the login page. Register
    /// <issuer>/login/upstream/callback as its redirect URI and
    /// <issuer>/logout/upstream/done as its post-logout redirect URI
    Add {
        /// Short id, used in URLs and in acr_values (urn:tessera:upstream:<id>), e.g. vneid
        #[arg(long)]
        id: String,
        /// The upstream's issuer URL (its discovery document is <issuer>/.well-known/openid-configuration)
        #[arg(long)]
        issuer: String,
        /// Tessera's client id at the upstream
        #[arg(long)]
        client_id: String,
        /// Read Tessera's client secret at the upstream from standard input (none: a public client, PKCE only)
        #[arg(long)]
        client_secret_stdin: bool,
        /// Name on the login button: "Đăng nhập bằng <name>" [default: the id in upper case]
        #[arg(long)]
        name: Option<String>,
        /// Scopes asked of the upstream besides openid, space separated [default: "profile"]
        #[arg(long)]
        scopes: Option<String>,
        /// Which upstream claim fills each field: sub=..,name=..,birthdate=..,national_id=..,email=..,phone=..
        #[arg(long, default_value = "")]
        claim_map: String,
        /// Levels for the upstream's acr values: <upstream acr>=urn:tessera:loa:2,… (unlisted: level 1)
        #[arg(long, default_value = "")]
        acr_map: String,
        /// Who signs in through it: citizens (accounts created on first sign-in) or officials
        /// (linked to an existing official with their own password)
        #[arg(long = "for", value_parser = ["citizens", "officials"], default_value = "citizens")]
        population: String,
        #[arg(long)]
        json: bool,
    },
    /// List the upstream providers (never their secrets)
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove an upstream provider and its identity links (the accounts stay)
    Remove { id: String },
}

pub async fn run(p: &Provider, cmd: UpstreamCommand, actor: &str, now: i64) -> anyhow::Result<()> {
    match cmd {
        UpstreamCommand::Add {
            id,
            issuer,
            client_id,
            client_secret_stdin,
            name,
            scopes,
            claim_map,
            acr_map,
            population,
            json,
        } => {
            let client_secret = if client_secret_stdin {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .context("cannot read the client secret from standard input")?;
                Some(s.trim_end_matches(['\r', '\n']).to_owned())
            } else {
                None
            };
            let new = NewUpstream {
                display_name: name.unwrap_or_else(|| id.to_uppercase()),
                id: id.clone(),
                issuer,
                client_id,
                client_secret,
                scopes: scopes
                    .unwrap_or_else(|| "profile".into())
                    .split_whitespace()
                    .filter(|s| *s != "openid")
                    .map(str::to_owned)
                    .collect(),
                claim_map: upstream::parse_claim_map(&claim_map)
                    .map_err(|e| anyhow::anyhow!("--claim-map: {e}"))?,
                acr_map: upstream::parse_acr_map(&acr_map)
                    .map_err(|e| anyhow::anyhow!("--acr-map: {e}"))?,
                population: Population::parse(&population).unwrap_or(Population::Citizens),
            };
            upstream::add(p, new, actor, now).await?;
            if json {
                println!("{}", json!({ "id": id }));
            } else {
                println!("registered upstream {id}");
            }
        }
        UpstreamCommand::List { json } => {
            let all = upstream::list(p).await?;
            if json {
                let v: Vec<_> = all
                    .iter()
                    .map(|u| {
                        json!({
                            "id": u.record.id, "name": u.record.display_name,
                            "issuer": u.record.issuer, "client_id": u.record.client_id,
                            "scopes": u.record.scopes, "claim_map": u.claim_map,
                            "acr_map": u.acr_map, "for": u.population.as_str(),
                            "has_secret": u.record.client_secret.is_some(),
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(v));
            } else {
                for u in all {
                    println!(
                        "{}\t{}\t{}\t{}",
                        u.record.id,
                        u.population.as_str(),
                        u.record.issuer,
                        u.record.display_name
                    );
                }
            }
        }
        UpstreamCommand::Remove { id } => {
            upstream::remove(p, &id, actor, now).await?;
            println!("removed upstream {id}");
        }
    }
    Ok(())
}
