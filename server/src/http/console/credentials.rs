//! `/admin/credentials`: officials' signing credentials in the caller's units, filtered by
//! unit and status, with those expiring soon; issue one from Tessera's CA, or make the key and
//! its CSR for an external CA and import the certificate it issues; renew, suspend, resume and
//! revoke with a reason — each the administration API's operation.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tessera_core::admin_api::{AdminApiError, Permission, credentials, users};
use tessera_proto::admin as wire;

use super::{Console, ConsoleForm, PAGE_SIZE, Pager, UnitChoice, given, page_offset, query};
use crate::http::AppState;
use crate::pages::console::{ConsoleText, text};
use crate::pages::when::{day, when};

/// The window of "expiring soon".
const EXPIRING_DAYS: i64 = 30;

/// RFC 5280 §5.3.1 reasons an administrator picks from.
const REASONS: [&str; 5] = [
    "unspecified",
    "keyCompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
];

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/credentials", get(list).post(issue))
        .route("/admin/credentials/{id}", get(show))
        .route("/admin/credentials/{id}/{action}", post(act))
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    unit_id: Option<String>,
    status: Option<String>,
    page: Option<i64>,
    done: Option<String>,
}

#[derive(Serialize)]
struct Row {
    id: String,
    owner: String,
    owner_name: String,
    unit: String,
    status: String,
    status_text: &'static str,
    serial: String,
    valid_until: String,
    actions: Vec<&'static str>,
}

#[derive(Serialize)]
struct Expiring {
    owner: String,
    serial: String,
    valid_until: String,
    days_left: i64,
}

#[derive(Serialize)]
struct ListView {
    unit_id: String,
    status: String,
    units: Vec<UnitChoice>,
    statuses: Vec<(&'static str, &'static str)>,
    reasons: [&'static str; 5],
    rows: Vec<Row>,
    expiring: Vec<Expiring>,
    may_issue: bool,
    done: bool,
    #[serde(flatten)]
    pager: Pager,
}

fn status_text(c: &ConsoleText, status: &str) -> &'static str {
    match status {
        "pending" => c.st_pending,
        "active" => c.st_active,
        "suspended" => c.st_suspended,
        "revoked" => c.st_revoked,
        _ => c.st_expired,
    }
}

async fn list(State(s): State<AppState>, con: Console, RawQuery(raw): RawQuery) -> Response {
    let r = async {
        let q: ListQuery = query(raw.as_deref())?;
        let (page, offset) = page_offset(q.page)?;
        let (unit_id, status) = (given(q.unit_id), given(q.status));
        let found = credentials::list(
            &s.provider,
            &con.caller,
            credentials::CredentialQuery {
                unit_id: unit_id.clone(),
                user_id: None,
                status: status.clone(),
                expiring_within_days: None,
                limit: Some(PAGE_SIZE + 1),
                offset: Some(offset),
            },
            con.now,
        )
        .await?;
        let soon = credentials::expiring(
            &s.provider,
            &con.caller,
            credentials::ExpiringQuery {
                days: Some(EXPIRING_DAYS),
                unit_id: unit_id.clone(),
            },
            con.now,
        )
        .await?;
        let c = text(con.lang);
        let more = found.credentials.len() as i64 > PAGE_SIZE;
        let rows = found
            .credentials
            .iter()
            .take(PAGE_SIZE as usize)
            .map(|k| {
                let manage = con
                    .caller
                    .actor
                    .may(Permission::Credentials, k.user.unit_id.as_deref());
                let actions = match (manage, k.status.as_str()) {
                    (false, _) => vec![],
                    (true, "active") => vec!["suspend", "revoke"],
                    (true, "suspended") => vec!["resume", "revoke"],
                    (true, "pending") => vec!["revoke"],
                    _ => vec![],
                };
                Row {
                    id: k.id.clone(),
                    owner: k.user.username.clone(),
                    owner_name: k.user.name.clone(),
                    unit: con.unit_name(k.user.unit_id.as_deref()),
                    status: k.status.clone(),
                    status_text: status_text(c, &k.status),
                    serial: k.serial.clone().unwrap_or_default(),
                    valid_until: k.not_after.map(day).unwrap_or_default(),
                    actions,
                }
            })
            .collect();
        let pager = Pager::new(
            "/admin/credentials",
            &[
                ("unit_id", unit_id.as_deref()),
                ("status", status.as_deref()),
            ],
            page,
            more,
        );
        Ok::<_, AdminApiError>(ListView {
            unit_id: unit_id.unwrap_or_default(),
            status: status.unwrap_or_default(),
            units: con.unit_choices(Permission::Read),
            statuses: ["pending", "active", "suspended", "revoked", "expired"]
                .into_iter()
                .map(|st| (st, status_text(c, st)))
                .collect(),
            reasons: REASONS,
            rows,
            expiring: soon
                .notices
                .iter()
                .map(|n| Expiring {
                    owner: n.user.username.clone(),
                    serial: n.serial.clone().unwrap_or_default(),
                    valid_until: when(n.not_after),
                    days_left: n.days_left,
                })
                .collect(),
            may_issue: !con.unit_choices(Permission::Credentials).is_empty(),
            done: q.done.is_some(),
            pager,
        })
    }
    .await;
    match r {
        Ok(view) => con.render(&s, "credentials", "console/credentials.html", &view),
        Err(e) => con.refused(&s, "credentials", e).await,
    }
}

/// Issues a credential for the official named by username, found among the users the caller
/// sees (the API's own search, so no one outside the caller's units is reachable).
async fn issue(State(s): State<AppState>, f: ConsoleForm) -> Response {
    let (con, form) = (f.console, f.form);
    let ca = match form.get("ca") {
        Some("external") => wire::CaChoice::External,
        _ => wire::CaChoice::Internal,
    };
    let r = async {
        let username = given(form.get("username").map(str::to_owned))
            .ok_or_else(|| AdminApiError::Invalid("the owner's username is required".into()))?;
        let found = users::list(
            &s.provider,
            &con.caller,
            users::UserQuery {
                q: Some(username.clone()),
                limit: Some(users::MAX_PAGE),
                ..Default::default()
            },
        )
        .await?;
        let owner = found
            .users
            .into_iter()
            .find(|u| u.username == username)
            .ok_or_else(|| AdminApiError::NotFound(format!("user {username} not found")))?;
        credentials::create(
            &s.provider,
            &con.caller,
            wire::NewCredentialBody {
                user_id: owner.id,
                alg: given(form.get("alg").map(str::to_owned)),
                title: given(form.get("title").map(str::to_owned)),
                ca,
            },
            con.now,
        )
        .await
    }
    .await;
    match r {
        // The CSR to hand to the external CA is on the credential's page.
        Ok(d) => con.done(&format!("/admin/credentials/{}", d.credential.id)),
        Err(e) => con.refused(&s, "credentials", e).await,
    }
}

async fn act(
    State(s): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    f: ConsoleForm,
) -> Response {
    let (con, form) = (f.console, f.form);
    let (p, caller, now) = (&s.provider, &con.caller, con.now);
    let back = format!("/admin/credentials/{id}");
    let r = match action.as_str() {
        "renew" => {
            let body = wire::RenewBody {
                new_key: form.get("new_key") == Some("1"),
            };
            // An external renewal is a new pending credential: its CSR is on its page.
            return match credentials::renew(p, caller, &id, body, now).await {
                Ok(d) => con.done(&format!("/admin/credentials/{}", d.credential.id)),
                Err(e) => con.refused(&s, "credentials", e).await,
            };
        }
        "certificate" => {
            let pem = form.get("certificate").unwrap_or_default();
            credentials::import(p, caller, &id, pem.as_bytes(), now)
                .await
                .map(drop)
        }
        "suspend" => credentials::suspend(p, caller, &id, now).await.map(drop),
        "resume" => credentials::resume(p, caller, &id, now).await.map(drop),
        "revoke" => {
            let reason = form.get("reason").unwrap_or("unspecified");
            if !REASONS.contains(&reason) {
                Err(AdminApiError::Invalid(format!("unknown reason {reason:?}")))
            } else {
                let body = credentials::RevokeBody {
                    reason: Some(credentials::ReasonValue::Name(reason.to_owned())),
                };
                credentials::revoke(p, caller, &id, body, now)
                    .await
                    .map(drop)
            }
        }
        other => Err(AdminApiError::NotFound(format!("no such action: {other}"))),
    };
    match r {
        Ok(()) => con.done(&back),
        Err(e) => con.refused(&s, "credentials", e).await,
    }
}

#[derive(Serialize)]
struct DetailView {
    k: wire::CredentialDetail,
    unit: String,
    status_text: &'static str,
    valid_from: String,
    valid_until: String,
    external: bool,
    /// What the caller may do now (cert_admin over the owner's unit).
    actions: Vec<&'static str>,
    may_import: bool,
    may_renew: bool,
    reasons: [&'static str; 5],
    done: bool,
}

#[derive(Debug, Default, Deserialize)]
struct ShowQuery {
    done: Option<String>,
}

/// One credential: its certificate and chain, its CSR (for an external CA), and the forms that
/// fit its state.
async fn show(
    State(s): State<AppState>,
    con: Console,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let r = async {
        let q: ShowQuery = query(raw.as_deref())?;
        let k = credentials::get(&s.provider, &con.caller, &id).await?;
        let c = text(con.lang);
        let manage = con.caller.actor.may(
            Permission::Credentials,
            k.credential.user.unit_id.as_deref(),
        );
        let st = k.credential.status.as_str();
        let actions = match (manage, st) {
            (false, _) => vec![],
            (true, "active") => vec!["suspend", "revoke"],
            (true, "suspended") => vec!["resume", "revoke"],
            (true, "pending") => vec!["revoke"],
            _ => vec![],
        };
        Ok::<_, AdminApiError>(DetailView {
            unit: con.unit_name(k.credential.user.unit_id.as_deref()),
            status_text: status_text(c, st),
            valid_from: k.credential.not_before.map(day).unwrap_or_default(),
            valid_until: k.credential.not_after.map(day).unwrap_or_default(),
            external: k.credential.source == "external",
            actions,
            may_import: manage && st == "pending",
            may_renew: manage && matches!(st, "active" | "suspended" | "expired"),
            reasons: REASONS,
            done: q.done.is_some(),
            k,
        })
    }
    .await;
    match r {
        Ok(view) => con.render(&s, "credentials", "console/credential.html", &view),
        Err(e) => con.refused(&s, "credentials", e).await,
    }
}
