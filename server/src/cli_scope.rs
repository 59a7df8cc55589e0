//! `tessera scope …`: API scopes (e.g. `lgsp.write`) as registered objects, each owned by a
//! unit whose administrators alone may give it to a client through the admin API.

use clap::Subcommand;
use serde_json::json;
use tessera_core::Provider;
use tessera_core::admin;

#[derive(Debug, Subcommand)]
pub enum ScopeCommand {
    /// Register an API scope that clients may then be given
    Add {
        /// Scope name, e.g. lgsp.write
        name: String,
        /// What the scope allows, for administrators
        #[arg(long)]
        description: String,
        /// Owning unit: only its administrators (and those above) may give the scope to a
        /// client through the admin API [default: none, the operator only]
        #[arg(long)]
        unit: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List the registered API scopes
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove an API scope no client holds any more
    Remove { name: String },
}

pub async fn run(p: &Provider, cmd: ScopeCommand, actor: &str, now: i64) -> anyhow::Result<()> {
    match cmd {
        ScopeCommand::Add {
            name,
            description,
            unit,
            json,
        } => {
            let s =
                admin::add_api_scope(p, actor, &name, &description, unit.as_deref(), now).await?;
            if json {
                println!(
                    "{}",
                    json!({ "name": s.name, "description": s.description, "unit_id": s.unit_id })
                );
            } else {
                println!("registered scope {}", s.name);
            }
        }
        ScopeCommand::List { json } => {
            let scopes = tessera_core::admin::list_api_scopes(p).await?;
            if json {
                let v: Vec<_> = scopes
                    .iter()
                    .map(|s| json!({ "name": s.name, "description": s.description, "unit_id": s.unit_id }))
                    .collect();
                println!("{}", serde_json::Value::Array(v));
            } else {
                for s in scopes {
                    println!(
                        "{}\t{}\t{}",
                        s.name,
                        s.unit_id.unwrap_or_default(),
                        s.description
                    );
                }
            }
        }
        ScopeCommand::Remove { name } => {
            admin::remove_api_scope(p, actor, &name, now).await?;
            println!("removed scope {name}");
        }
    }
    Ok(())
}
