//! `/admin/signing`: the signing activity of each unit in the caller's scope over the last
//! days — requests received by status and documents signed.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use tessera_core::admin_api::{AdminApiError, Permission, signing_activity};

use super::{Console, UnitChoice, given, query};
use crate::http::AppState;
use crate::pages::when::day;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/admin/signing", get(show))
}

#[derive(Debug, Default, Deserialize)]
struct Filters {
    unit_id: Option<String>,
    days: Option<i64>,
}

#[derive(Serialize)]
struct Row {
    /// Indented by its depth in the tree.
    unit: String,
    signed: i64,
    rejected: i64,
    waiting: i64,
    other: i64,
    documents: i64,
}

#[derive(Serialize)]
struct View {
    unit_id: String,
    days: i64,
    since: String,
    units: Vec<UnitChoice>,
    rows: Vec<Row>,
}

async fn show(State(s): State<AppState>, con: Console, RawQuery(raw): RawQuery) -> Response {
    let r = async {
        let f: Filters = query(raw.as_deref())?;
        let days = f.days.unwrap_or(30);
        if !(1..=3650).contains(&days) {
            return Err(AdminApiError::Invalid("days must be 1–3650".into()));
        }
        let unit_id = given(f.unit_id);
        let since = con.now - days * 86_400;
        let found =
            signing_activity::per_unit(&s.provider, &con.caller, unit_id.as_deref(), since).await?;
        let rows = found
            .iter()
            .map(|a| {
                let count = |st: &[&str]| -> i64 {
                    a.requests
                        .iter()
                        .filter(|(s, _)| st.contains(&s.as_str()))
                        .map(|(_, n)| n)
                        .sum()
                };
                let all: i64 = a.requests.iter().map(|(_, n)| n).sum();
                let signed = count(&["signed"]);
                let rejected = count(&["rejected"]);
                let waiting = count(&["pending", "approved"]);
                let depth = con
                    .units
                    .iter()
                    .find(|u| u.unit.id == a.unit_id)
                    .map_or(0, |u| u.depth);
                Row {
                    unit: format!("{}{}", "— ".repeat(depth), con.unit_name(Some(&a.unit_id))),
                    signed,
                    rejected,
                    waiting,
                    other: all - signed - rejected - waiting,
                    documents: a.documents_signed,
                }
            })
            .collect();
        Ok(View {
            unit_id: unit_id.unwrap_or_default(),
            days,
            since: day(since),
            units: con.unit_choices(Permission::Read),
            rows,
        })
    }
    .await;
    match r {
        Ok(view) => con.render(&s, "signing", "console/signing.html", &view),
        Err(e) => con.refused(&s, "signing", e).await,
    }
}
