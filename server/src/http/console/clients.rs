//! `/admin/clients`: the applications of the caller's units. Register one (its secret shown
//! once), change its URIs and scopes, rotate its secret, remove it, and allow or withdraw the
//! units whose people it may ask for signatures.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tessera_core::admin_api::{AdminApiError, Permission, clients, signing_units};
use tessera_proto::admin as wire;

use super::{Console, ConsoleForm, PAGE_SIZE, Pager, UnitChoice, given, page_offset, query};
use crate::http::AppState;
use crate::http::forms::Form;
use crate::pages::console::text;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/clients", get(list).post(create))
        .route("/admin/clients/{id}", get(show).post(update))
        .route("/admin/clients/{id}/secret", post(rotate))
        .route("/admin/clients/{id}/remove", post(remove))
        .route("/admin/clients/{id}/signing-units", post(allow))
        .route(
            "/admin/clients/{id}/signing-units/{unit}/withdraw",
            post(withdraw),
        )
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    q: Option<String>,
    unit_id: Option<String>,
    page: Option<i64>,
    done: Option<String>,
}

#[derive(Serialize)]
struct Row {
    id: String,
    name: String,
    unit: String,
    public: bool,
}

#[derive(Serialize)]
struct ListView {
    q: String,
    unit_id: String,
    units: Vec<UnitChoice>,
    manage_units: Vec<UnitChoice>,
    rows: Vec<Row>,
    done: bool,
    #[serde(flatten)]
    pager: Pager,
}

async fn list(State(s): State<AppState>, con: Console, RawQuery(raw): RawQuery) -> Response {
    let r = async {
        let q: ListQuery = query(raw.as_deref())?;
        let (page, offset) = page_offset(q.page)?;
        let (text_q, unit_id) = (given(q.q), given(q.unit_id));
        let found = clients::list(
            &s.provider,
            &con.caller,
            clients::ClientQuery {
                unit_id: unit_id.clone(),
            },
        )
        .await?;
        let needle = text_q.as_deref().map(str::to_lowercase);
        let matching: Vec<&wire::Client> = found
            .clients
            .iter()
            .filter(|c| {
                needle.as_deref().is_none_or(|n| {
                    c.client_id.to_lowercase().contains(n) || c.name.to_lowercase().contains(n)
                })
            })
            .collect();
        let more = matching.len() as i64 > offset + PAGE_SIZE;
        let rows = matching
            .iter()
            .skip(offset as usize)
            .take(PAGE_SIZE as usize)
            .map(|c| Row {
                id: c.client_id.clone(),
                name: c.name.clone(),
                unit: con.unit_name(c.unit_id.as_deref()),
                public: c.public,
            })
            .collect();
        let pager = Pager::new(
            "/admin/clients",
            &[("q", text_q.as_deref()), ("unit_id", unit_id.as_deref())],
            page,
            more,
        );
        Ok::<_, AdminApiError>(ListView {
            q: text_q.unwrap_or_default(),
            unit_id: unit_id.unwrap_or_default(),
            units: con.unit_choices(Permission::Read),
            manage_units: con.unit_choices(Permission::Manage),
            rows,
            done: q.done.is_some(),
            pager,
        })
    }
    .await;
    match r {
        Ok(view) => con.render(&s, "clients", "console/clients.html", &view),
        Err(e) => con.refused(&s, "clients", e).await,
    }
}

/// One URI per line, blank lines ignored.
fn lines(form: &Form, name: &str) -> Vec<String> {
    form.get(name)
        .unwrap_or("")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn words(form: &Form, name: &str) -> Option<Vec<String>> {
    given(form.get(name).map(str::to_owned))
        .map(|v| v.split_whitespace().map(str::to_owned).collect())
}

fn secret_page(s: &AppState, con: &Console, client_id: &str, secret: String) -> Response {
    let c = text(con.lang);
    con.secret_page(
        s,
        "clients",
        (c.secret_title, c.secret_lead),
        format!("{}: {client_id}", c.client_id),
        secret,
        format!("/admin/clients/{client_id}"),
    )
}

async fn create(State(s): State<AppState>, f: ConsoleForm) -> Response {
    let (con, form) = (f.console, f.form);
    let field = |k: &str| given(form.get(k).map(str::to_owned));
    let body = wire::NewClientBody {
        client_id: field("client_id").unwrap_or_default(),
        name: field("name").unwrap_or_default(),
        unit_id: field("unit_id"),
        public: form.get("public") == Some("1"),
        redirect_uris: lines(&form, "redirect_uris"),
        post_logout_redirect_uris: lines(&form, "post_logout_redirect_uris"),
        backchannel_logout_uri: field("backchannel_logout_uri"),
        alg: None,
        scopes: words(&form, "scopes"),
        grant_types: None,
        jwks: None,
        jwks_uri: None,
        refresh_idle_ttl: None,
        refresh_absolute_ttl: None,
        min_acr: field("min_acr"),
    };
    match clients::create(&s.provider, &con.caller, body, con.now).await {
        Ok(n) => match n.client_secret {
            Some(secret) => secret_page(&s, &con, &n.client.client_id, secret),
            None => con.done(&format!("/admin/clients/{}", n.client.client_id)),
        },
        Err(e) => con.refused(&s, "clients", e).await,
    }
}

#[derive(Serialize)]
struct SigningUnit {
    id: String,
    name: String,
}

#[derive(Serialize)]
struct ClientView {
    client: wire::Client,
    unit: String,
    min_level: Option<&'static str>,
    redirect_uris: String,
    logout_uris: String,
    scopes: String,
    manage: bool,
    signing_units: Vec<SigningUnit>,
    allow_units: Vec<UnitChoice>,
    done: bool,
}

#[derive(Debug, Default, Deserialize)]
struct ShowQuery {
    done: Option<String>,
}

async fn show(
    State(s): State<AppState>,
    con: Console,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let r = async {
        let q: ShowQuery = query(raw.as_deref())?;
        let client = clients::get(&s.provider, &con.caller, &id).await?;
        let units = signing_units::list(&s.provider, &con.caller, &id).await?;
        let c = text(con.lang);
        Ok::<_, AdminApiError>(ClientView {
            unit: con.unit_name(client.unit_id.as_deref()),
            min_level: client.min_acr.as_deref().map(|a| {
                if a.ends_with(":2") {
                    c.level_2
                } else {
                    c.level_1
                }
            }),
            redirect_uris: client.redirect_uris.join("\n"),
            logout_uris: client.post_logout_redirect_uris.join("\n"),
            scopes: client.scopes.join(" "),
            manage: !client.admin_console
                && con
                    .caller
                    .actor
                    .may(Permission::Manage, client.unit_id.as_deref()),
            signing_units: units
                .unit_ids
                .iter()
                .map(|u| SigningUnit {
                    id: u.clone(),
                    name: con.unit_name(Some(u)),
                })
                .collect(),
            allow_units: con.unit_choices(Permission::Manage),
            client,
            done: q.done.is_some(),
        })
    }
    .await;
    match r {
        Ok(view) => con.render(&s, "clients", "console/client.html", &view),
        Err(e) => con.refused(&s, "clients", e).await,
    }
}

async fn update(State(s): State<AppState>, Path(id): Path<String>, f: ConsoleForm) -> Response {
    let (con, form) = (f.console, f.form);
    let backchannel = form.get("backchannel_logout_uri").map(|v| {
        let v = v.trim();
        (!v.is_empty()).then(|| v.to_owned())
    });
    let body = wire::ClientPatch {
        name: given(form.get("name").map(str::to_owned)),
        redirect_uris: Some(lines(&form, "redirect_uris")),
        post_logout_redirect_uris: Some(lines(&form, "post_logout_redirect_uris")),
        backchannel_logout_uri: backchannel,
        scopes: words(&form, "scopes"),
        unit_id: None,
    };
    match clients::update(&s.provider, &con.caller, &id, body, con.now).await {
        Ok(_) => con.done(&format!("/admin/clients/{id}")),
        Err(e) => con.refused(&s, "clients", e).await,
    }
}

async fn rotate(State(s): State<AppState>, Path(id): Path<String>, f: ConsoleForm) -> Response {
    let con = f.console;
    match clients::rotate_secret(&s.provider, &con.caller, &id, con.now).await {
        Ok(r) => secret_page(&s, &con, &r.client_id, r.client_secret),
        Err(e) => con.refused(&s, "clients", e).await,
    }
}

async fn remove(State(s): State<AppState>, Path(id): Path<String>, f: ConsoleForm) -> Response {
    let con = f.console;
    match clients::remove(&s.provider, &con.caller, &id, con.now).await {
        Ok(()) => con.done("/admin/clients"),
        Err(e) => con.refused(&s, "clients", e).await,
    }
}

async fn allow(State(s): State<AppState>, Path(id): Path<String>, f: ConsoleForm) -> Response {
    let con = f.console;
    let unit = f.form.get("unit_id").unwrap_or("").to_owned();
    match signing_units::allow(&s.provider, &con.caller, &id, &unit, con.now).await {
        Ok(_) => con.done(&format!("/admin/clients/{id}")),
        Err(e) => con.refused(&s, "clients", e).await,
    }
}

async fn withdraw(
    State(s): State<AppState>,
    Path((id, unit)): Path<(String, String)>,
    f: ConsoleForm,
) -> Response {
    let con = f.console;
    match signing_units::disallow(&s.provider, &con.caller, &id, &unit, con.now).await {
        Ok(()) => con.done(&format!("/admin/clients/{id}")),
        Err(e) => con.refused(&s, "clients", e).await,
    }
}
