//! `/admin/users`: search the users of the caller's units, create one (the one-time password
//! shown once), and on a user's page edit their profile, unit and application roles, give or
//! take away administrative grants, set their signature image, disable or enable them, reset
//! their password or second factors, end their sessions and clear their lockouts.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tessera_core::admin_api::{AdminApiError, Permission, organisation, users};
use tessera_core::signing::images::ImageOwner;
use tessera_proto::admin as wire;

use super::{
    Console, ConsoleForm, ConsoleUpload, PAGE_SIZE, Pager, UnitChoice, given, page_offset, query,
};
use crate::http::AppState;
use crate::http::forms::Form;
use crate::pages::console::text;
use crate::pages::when::when;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list).post(create))
        .route("/admin/users/{id}", get(show))
        .route("/admin/users/{id}/{action}", post(act))
}

pub(super) fn upload_routes() -> Router<AppState> {
    Router::new().route("/admin/users/{id}/signature-image", post(upload_signature))
}

/// The roles of an administrative grant, as the grant form offers them.
const GRANT_ROLES: [&str; 3] = ["admin", "cert_admin", "auditor"];

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    q: Option<String>,
    unit_id: Option<String>,
    status: Option<String>,
    page: Option<i64>,
}

#[derive(Serialize)]
struct Row {
    id: String,
    username: String,
    name: String,
    unit: String,
    active: bool,
}

#[derive(Serialize)]
struct ListView {
    q: String,
    unit_id: String,
    status: String,
    units: Vec<UnitChoice>,
    manage_units: Vec<UnitChoice>,
    rows: Vec<Row>,
    #[serde(flatten)]
    pager: Pager,
}

async fn list(State(s): State<AppState>, con: Console, RawQuery(raw): RawQuery) -> Response {
    let r = async {
        let q: ListQuery = query(raw.as_deref())?;
        let (page, offset) = page_offset(q.page)?;
        let (text_q, unit_id, status) = (given(q.q), given(q.unit_id), given(q.status));
        // One row more than shown tells whether a next page exists.
        let found = users::list(
            &s.provider,
            &con.caller,
            users::UserQuery {
                unit_id: unit_id.clone(),
                q: text_q.clone(),
                status: status.clone(),
                limit: Some(PAGE_SIZE + 1),
                offset: Some(offset),
            },
        )
        .await?;
        let more = found.users.len() as i64 > PAGE_SIZE;
        let rows = found
            .users
            .iter()
            .take(PAGE_SIZE as usize)
            .map(|u| Row {
                id: u.id.clone(),
                username: u.username.clone(),
                name: u.name.clone(),
                unit: con.unit_name(u.unit_id.as_deref()),
                active: u.status == "active",
            })
            .collect();
        let pager = Pager::new(
            "/admin/users",
            &[
                ("q", text_q.as_deref()),
                ("unit_id", unit_id.as_deref()),
                ("status", status.as_deref()),
            ],
            page,
            more,
        );
        Ok::<_, AdminApiError>(ListView {
            q: text_q.unwrap_or_default(),
            unit_id: unit_id.unwrap_or_default(),
            status: status.unwrap_or_default(),
            units: con.unit_choices(Permission::Read),
            manage_units: con.unit_choices(Permission::Manage),
            rows,
            pager,
        })
    }
    .await;
    match r {
        Ok(view) => con.render(&s, "users", "console/users.html", &view),
        Err(e) => con.refused(&s, "users", e).await,
    }
}

/// The one-time password, shown once.
fn one_time_password(
    s: &AppState,
    con: &Console,
    username: &str,
    id: &str,
    pw: String,
) -> Response {
    let c = text(con.lang);
    con.secret_page(
        s,
        "users",
        (c.one_time_title, c.one_time_lead),
        format!("{}: {username}", c.username),
        pw,
        format!("/admin/users/{id}"),
    )
}

async fn create(State(s): State<AppState>, f: ConsoleForm) -> Response {
    let con = f.console;
    let form = f.form;
    let field = |k: &str| given(form.get(k).map(str::to_owned));
    let body = wire::NewUserBody {
        username: field("username").unwrap_or_default(),
        name: field("name").unwrap_or_default(),
        email: field("email"),
        phone: field("phone"),
        unit_id: field("unit_id"),
        roles: Vec::new(),
    };
    match users::create(&s.provider, &con.caller, body, con.now).await {
        Ok(n) => one_time_password(&s, &con, &n.user.username, &n.user.id, n.temporary_password),
        Err(e) => con.refused(&s, "users", e).await,
    }
}

#[derive(Serialize)]
struct Action {
    path: &'static str,
    label: &'static str,
    help: Option<&'static str>,
}

#[derive(Serialize)]
struct LockView {
    failures: i64,
    until: Option<String>,
}

#[derive(Serialize)]
struct GrantRow {
    role: String,
    unit_id: String,
    text: String,
}

#[derive(Serialize)]
struct ImageView {
    src: String,
    width: i64,
    height: i64,
}

#[derive(Serialize)]
struct UserView {
    user: wire::User,
    unit: String,
    created: String,
    grants: Vec<GrantRow>,
    lock: Option<LockView>,
    manage: bool,
    actions: Vec<Action>,
    /// Units the user may be moved to (the caller's, with `admin`).
    move_units: Vec<UnitChoice>,
    roles_text: String,
    grant_roles: Vec<(&'static str, &'static str)>,
    /// Whether the caller may set the signature image (cert_admin over the user's unit).
    may_image: bool,
    image: Option<ImageView>,
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
        let d = users::get(&s.provider, &con.caller, &id, con.now).await?;
        let c = text(con.lang);
        let manage = con
            .caller
            .actor
            .may(Permission::Manage, d.user.unit_id.as_deref());
        let active = d.user.status == "active";
        let actions = vec![
            Action {
                path: if active { "disable" } else { "enable" },
                label: if active { c.disable } else { c.enable },
                help: None,
            },
            Action {
                path: "password",
                label: c.reset_password,
                help: None,
            },
            Action {
                path: "reset-factors",
                label: c.reset_factors,
                help: Some(c.reset_factors_help),
            },
            Action {
                path: "end-sessions",
                label: c.end_sessions,
                help: Some(c.end_sessions_help),
            },
            Action {
                path: "unlock",
                label: c.unlock,
                help: None,
            },
        ];
        let may_image = con
            .caller
            .actor
            .may(Permission::Credentials, d.user.unit_id.as_deref());
        let image = if may_image {
            match organisation::image_png(&s.provider, &con.caller, ImageOwner::User(id.clone()))
                .await
            {
                Ok(png) => {
                    let info = organisation::get_image(
                        &s.provider,
                        &con.caller,
                        ImageOwner::User(id.clone()),
                    )
                    .await?;
                    Some(ImageView {
                        src: Console::png_data_url(&png),
                        width: info.width,
                        height: info.height,
                    })
                }
                Err(AdminApiError::NotFound(_)) => None,
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        Ok::<_, AdminApiError>(UserView {
            unit: con.unit_name(d.user.unit_id.as_deref()),
            created: when(d.user.created_at),
            grants: d
                .grants
                .iter()
                .map(|g| GrantRow {
                    role: g.role.clone(),
                    unit_id: g.unit_id.clone(),
                    text: format!(
                        "{} — {}",
                        super::role_name(con.lang, &g.role),
                        con.unit_name(Some(&g.unit_id))
                    ),
                })
                .collect(),
            move_units: con.unit_choices(Permission::Manage),
            roles_text: d.user.roles.join(" "),
            grant_roles: GRANT_ROLES
                .into_iter()
                .map(|r| (r, super::role_name(con.lang, r)))
                .collect(),
            may_image,
            image,
            lock: d.second_factor_lock.map(|l| LockView {
                failures: l.failures,
                until: l.locked_until.map(when),
            }),
            user: d.user,
            manage,
            actions,
            done: q.done.is_some(),
        })
    }
    .await;
    match r {
        Ok(view) => con.render(&s, "users", "console/user.html", &view),
        Err(e) => con.refused(&s, "users", e).await,
    }
}

/// The profile form as the API's patch: every field is sent, an empty one clears it; the unit
/// only when it changes (moving needs the caller's rights at the destination).
fn profile_patch(form: &Form, current_unit: Option<&str>) -> wire::UserPatch {
    let field = |k: &str| given(form.get(k).map(str::to_owned));
    let unit = field("unit_id");
    wire::UserPatch {
        name: field("name"),
        email: Some(field("email")),
        phone: Some(field("phone")),
        unit_id: (unit.is_some() && unit.as_deref() != current_unit).then_some(unit),
        roles: Some(
            form.get("roles")
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        ),
    }
}

/// One of the user page's buttons, each the API's operation of the same name.
async fn act(
    State(s): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    f: ConsoleForm,
) -> Response {
    let (con, form) = (f.console, f.form);
    let (p, caller, now) = (&s.provider, &con.caller, con.now);
    let field = |k: &str| form.get(k).unwrap_or_default().trim().to_owned();
    let r = match action.as_str() {
        "profile" => match users::get(p, caller, &id, now).await {
            Ok(d) => {
                let patch = profile_patch(&form, d.user.unit_id.as_deref());
                users::update(p, caller, &id, patch, now).await.map(drop)
            }
            Err(e) => Err(e),
        },
        "grant" => {
            let body = wire::GrantBody {
                role: field("role"),
                unit_id: field("unit_id"),
            };
            users::add_grant(p, caller, &id, body, now).await.map(drop)
        }
        "revoke-grant" => {
            let (role, unit) = (field("role"), field("unit_id"));
            users::remove_grant(p, caller, &id, &role, &unit, now).await
        }
        "remove-signature-image" => {
            organisation::remove_image(p, caller, ImageOwner::User(id.clone()), now).await
        }
        "disable" => users::disable(p, caller, &id, now).await.map(drop),
        "enable" => users::enable(p, caller, &id, now).await.map(drop),
        "reset-factors" => users::reset_factors(p, caller, &id, now).await.map(drop),
        "end-sessions" => users::end_sessions(p, caller, &id, now).await.map(drop),
        "unlock" => users::unlock(p, caller, &id, now).await.map(drop),
        "password" => {
            return match users::reset_password(p, caller, &id, now).await {
                Ok(r) => one_time_password(&s, &con, &r.username, &r.id, r.temporary_password),
                Err(e) => con.refused(&s, "users", e).await,
            };
        }
        other => Err(AdminApiError::NotFound(format!("no such action: {other}"))),
    };
    match r {
        Ok(()) => con.done(&format!("/admin/users/{id}")),
        Err(e) => con.refused(&s, "users", e).await,
    }
}

/// The signature image form: a PNG of at most 1 MB, checked by the core as the API checks it.
async fn upload_signature(
    State(s): State<AppState>,
    Path(id): Path<String>,
    f: ConsoleUpload,
) -> Response {
    f.save_image(
        &s,
        ImageOwner::User(id.clone()),
        &format!("/admin/users/{id}"),
        "users",
    )
    .await
}
