//! `/admin/seals`: a unit's organisation seal — its organisation credentials (issued from
//! Tessera's CA; suspended, resumed, revoked; the clerk systems allowed to sign with each) and
//! the seal image visible signatures carry. Each is the administration API's operation over
//! the unit (`cert_admin` to change anything; any role of the unit to read).

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tessera_core::admin_api::{AdminApiError, Permission, credentials, organisation};
use tessera_core::signing::images::ImageOwner;
use tessera_proto::admin as wire;

use super::{Console, ConsoleForm, ConsoleUpload, UnitChoice, given, query};
use crate::http::AppState;
use crate::pages::console::{ConsoleText, text};
use crate::pages::when::day;

/// RFC 5280 §5.3.1 reasons an administrator picks from (as for officials' certificates).
const REASONS: [&str; 4] = [
    "unspecified",
    "keyCompromise",
    "superseded",
    "cessationOfOperation",
];

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/seals", get(show))
        .route("/admin/seals/{unit}/issue", post(issue))
        .route("/admin/seals/{unit}/seal/remove", post(remove_image))
        .route("/admin/seals/{unit}/credentials/{id}/{action}", post(act))
}

pub(super) fn upload_routes() -> Router<AppState> {
    Router::new().route("/admin/seals/{unit}/seal", post(upload_image))
}

#[derive(Debug, Default, Deserialize)]
struct ShowQuery {
    unit_id: Option<String>,
    done: Option<String>,
}

#[derive(Serialize)]
struct Row {
    id: String,
    status: String,
    status_text: &'static str,
    key_alg: String,
    serial: String,
    subject: String,
    valid_until: String,
    clients: Vec<String>,
    actions: Vec<&'static str>,
}

#[derive(Serialize)]
struct ImageView {
    src: String,
    width: i64,
    height: i64,
}

#[derive(Serialize)]
struct SealsView {
    unit_id: String,
    unit: String,
    units: Vec<UnitChoice>,
    rows: Vec<Row>,
    manage: bool,
    image: Option<ImageView>,
    reasons: [&'static str; 4],
    done: bool,
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

async fn show(State(s): State<AppState>, con: Console, RawQuery(raw): RawQuery) -> Response {
    let r = async {
        let q: ShowQuery = query(raw.as_deref())?;
        // The unit asked for, else the first the caller manages seals of, else the first seen.
        let unit_id = given(q.unit_id)
            .or_else(|| {
                con.unit_choices(Permission::Credentials)
                    .first()
                    .map(|u| u.id.clone())
            })
            .or_else(|| con.units.first().map(|u| u.unit.id.clone()))
            .ok_or_else(|| AdminApiError::NotFound("you see no unit".into()))?;
        let list = organisation::list(&s.provider, &con.caller, &unit_id).await?;
        let manage = con
            .caller
            .actor
            .may(Permission::Credentials, Some(&unit_id));
        let image = if manage {
            let owner = || ImageOwner::Unit(unit_id.clone());
            match organisation::image_png(&s.provider, &con.caller, owner()).await {
                Ok(png) => {
                    let info = organisation::get_image(&s.provider, &con.caller, owner()).await?;
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
        let c = text(con.lang);
        let rows = list
            .credentials
            .into_iter()
            .map(|k| {
                let actions = match (manage, k.status.as_str()) {
                    (false, _) => vec![],
                    (true, "active") => vec!["suspend", "revoke"],
                    (true, "suspended") => vec!["resume", "revoke"],
                    (true, "pending") => vec!["revoke"],
                    _ => vec![],
                };
                Row {
                    status_text: status_text(c, &k.status),
                    serial: k.serial.unwrap_or_default(),
                    subject: k.subject.unwrap_or_default(),
                    valid_until: k.not_after.map(day).unwrap_or_default(),
                    clients: k.allowed_clients,
                    key_alg: k.key_alg,
                    status: k.status,
                    id: k.id,
                    actions,
                }
            })
            .collect();
        Ok::<_, AdminApiError>(SealsView {
            unit: con.unit_name(Some(&unit_id)),
            unit_id,
            units: con.unit_choices(Permission::Read),
            rows,
            manage,
            image,
            reasons: REASONS,
            done: q.done.is_some(),
        })
    }
    .await;
    match r {
        Ok(view) => con.render(&s, "seals", "console/seals.html", &view),
        Err(e) => con.refused(&s, "seals", e).await,
    }
}

fn back(unit: &str) -> String {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("unit_id", unit)
        .finish();
    format!("/admin/seals?{q}")
}

/// Issues an organisation credential for the unit from Tessera's CA.
async fn issue(State(s): State<AppState>, Path(unit): Path<String>, f: ConsoleForm) -> Response {
    let (con, form) = (f.console, f.form);
    let body = wire::NewOrganisationCredentialBody {
        alg: given(form.get("alg").map(str::to_owned)),
    };
    match organisation::issue(&s.provider, &con.caller, &unit, body, con.now).await {
        Ok(_) => con.done(&back(&unit)),
        Err(e) => con.refused(&s, "seals", e).await,
    }
}

/// The life cycle of an organisation credential and the clients allowed to sign with it.
async fn act(
    State(s): State<AppState>,
    Path((unit, id, action)): Path<(String, String, String)>,
    f: ConsoleForm,
) -> Response {
    let (con, form) = (f.console, f.form);
    let (p, caller, now) = (&s.provider, &con.caller, con.now);
    let client = form.get("client_id").unwrap_or_default().trim().to_owned();
    let r = match action.as_str() {
        "allow" => {
            let body = wire::AllowClientBody { client_id: client };
            organisation::allow_client(p, caller, &id, body, now)
                .await
                .map(drop)
        }
        "withdraw" => organisation::disallow_client(p, caller, &id, &client, now).await,
        "suspend" => organisation::suspend(p, caller, &id, now).await.map(drop),
        "resume" => organisation::resume(p, caller, &id, now).await.map(drop),
        "revoke" => {
            let reason = form.get("reason").unwrap_or("unspecified");
            if REASONS.contains(&reason) {
                let body = credentials::RevokeBody {
                    reason: Some(credentials::ReasonValue::Name(reason.to_owned())),
                };
                organisation::revoke(p, caller, &id, body, now)
                    .await
                    .map(drop)
            } else {
                Err(AdminApiError::Invalid(format!("unknown reason {reason:?}")))
            }
        }
        other => Err(AdminApiError::NotFound(format!("no such action: {other}"))),
    };
    match r {
        Ok(()) => con.done(&back(&unit)),
        Err(e) => con.refused(&s, "seals", e).await,
    }
}

/// The seal image form: a PNG of at most 1 MB, checked by the core as the API checks it.
async fn upload_image(
    State(s): State<AppState>,
    Path(unit): Path<String>,
    f: ConsoleUpload,
) -> Response {
    f.save_image(&s, ImageOwner::Unit(unit.clone()), &back(&unit), "seals")
        .await
}

async fn remove_image(
    State(s): State<AppState>,
    Path(unit): Path<String>,
    f: ConsoleForm,
) -> Response {
    let con = f.console;
    let owner = ImageOwner::Unit(unit.clone());
    match organisation::remove_image(&s.provider, &con.caller, owner, con.now).await {
        Ok(()) => con.done(&back(&unit)),
        Err(e) => con.refused(&s, "seals", e).await,
    }
}
