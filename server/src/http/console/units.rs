//! `/admin/units`: the caller's unit trees; create a unit below one of them, rename one.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Serialize;
use tessera_core::admin_api::{Permission, units};
use tessera_proto::admin as wire;

use super::{Console, ConsoleForm, UnitChoice};
use crate::http::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/units", get(show).post(create))
        .route("/admin/units/{id}/rename", post(rename))
        .route("/admin/units/{id}/level", post(level))
}

#[derive(Serialize)]
struct Node {
    id: String,
    name: String,
    level: String,
    manage: bool,
    children: Vec<Node>,
}

#[derive(Serialize)]
struct UnitsView {
    tree: Vec<Node>,
    parents: Vec<UnitChoice>,
    done: bool,
}

fn node(con: &Console, n: &wire::UnitNode) -> Option<Node> {
    let unit = n.unit.as_ref()?;
    Some(Node {
        id: unit.id.clone(),
        name: unit.name.clone(),
        level: unit.level.clone(),
        manage: con.caller.actor.may(Permission::Manage, Some(&unit.id)),
        children: n
            .children
            .iter()
            .flatten()
            .filter_map(|k| node(con, k))
            .collect(),
    })
}

async fn show(State(s): State<AppState>, con: Console, RawQuery(q): RawQuery) -> Response {
    let tree = match units::tree(&s.provider, &con.caller).await {
        Ok(t) => t,
        Err(e) => return con.refused(&s, "units", e).await,
    };
    let view = UnitsView {
        tree: tree.units.iter().filter_map(|n| node(&con, n)).collect(),
        parents: con.unit_choices(Permission::Manage),
        done: q.is_some_and(|q| q.contains("done=1")),
    };
    con.render(&s, "units", "console/units.html", &view)
}

async fn create(State(s): State<AppState>, f: ConsoleForm) -> Response {
    let con = f.console;
    let body = wire::NewUnit {
        name: f.form.get("name").unwrap_or("").to_owned(),
        parent_id: f.form.get("parent_id").unwrap_or("").to_owned(),
    };
    match units::create(&s.provider, &con.caller, body, con.now).await {
        Ok(_) => con.done("/admin/units"),
        Err(e) => con.refused(&s, "units", e).await,
    }
}

async fn rename(State(s): State<AppState>, Path(id): Path<String>, f: ConsoleForm) -> Response {
    let con = f.console;
    let body = wire::UnitPatch {
        name: f.form.get("name").unwrap_or("").to_owned(),
    };
    match units::rename(&s.provider, &con.caller, &id, body, con.now).await {
        Ok(_) => con.done("/admin/units"),
        Err(e) => con.refused(&s, "units", e).await,
    }
}

async fn level(State(s): State<AppState>, Path(id): Path<String>, f: ConsoleForm) -> Response {
    let con = f.console;
    let body = wire::LevelBody {
        min_acr: f.form.get("min_acr").unwrap_or("").to_owned(),
    };
    match units::require_level(&s.provider, &con.caller, &id, body, con.now).await {
        Ok(_) => con.done("/admin/units"),
        Err(e) => con.refused(&s, "units", e).await,
    }
}
