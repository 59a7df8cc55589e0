//! `/admin/audit`: the audit log within the caller's scope, filtered by actor, event, unit and
//! days (Vietnam time), with the state of the chains (for root administrators) and exports as
//! JSON lines and CSV for the SOC, chain data included.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use tessera_core::admin_api::audit::{self, AuditQuery, MAX_ENTRIES};
use tessera_core::admin_api::{AdminApiError, Caller, Permission, users};
use tessera_core::audit::Event;
use tessera_store::audit::AuditEntry;

use super::{Console, PAGE_SIZE, Pager, UnitChoice, given, page_offset, query};
use crate::http::AppState;
use crate::pages::events;
use crate::pages::when::when;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/audit", get(list))
        .route("/admin/audit/export", get(export))
}

#[derive(Debug, Default, Deserialize)]
struct Filters {
    actor: Option<String>,
    event: Option<String>,
    unit_id: Option<String>,
    since: Option<String>,
    until: Option<String>,
    page: Option<i64>,
    format: Option<String>,
}

/// Midnight at the start of a `YYYY-MM-DD` day in Vietnam (UTC+07:00).
fn day_start(text: &str) -> Result<i64, AdminApiError> {
    let bad = || AdminApiError::Invalid(format!("{text:?} is not a date (YYYY-MM-DD)"));
    let mut parts = text.splitn(3, '-').map(str::parse::<i32>);
    let (Some(Ok(y)), Some(Ok(m)), Some(Ok(d))) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let month = u8::try_from(m)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .ok_or_else(bad)?;
    let date = u8::try_from(d)
        .ok()
        .and_then(|d| time::Date::from_calendar_date(y, month, d).ok())
        .ok_or_else(bad)?;
    Ok(date.midnight().assume_utc().unix_timestamp() - 7 * 3600)
}

/// The filters as the core takes them; an actor may be named by username (looked up among
/// the users the caller sees) or by id.
async fn audit_query(
    s: &AppState,
    caller: &Caller,
    f: &Filters,
    limit: i64,
    offset: i64,
) -> Result<AuditQuery, AdminApiError> {
    let actor = match given(f.actor.clone()) {
        Some(a) if tessera_core::admin::looks_like_user_id(&a) => Some(a),
        Some(name) => {
            let found = users::list(
                &s.provider,
                caller,
                users::UserQuery {
                    q: Some(name.clone()),
                    limit: Some(users::MAX_PAGE),
                    ..Default::default()
                },
            )
            .await?;
            Some(
                found
                    .users
                    .into_iter()
                    .find(|u| u.username == name)
                    .map(|u| u.id)
                    .ok_or_else(|| AdminApiError::NotFound(format!("user {name} not found")))?,
            )
        }
        None => None,
    };
    Ok(AuditQuery {
        actor,
        event: given(f.event.clone()),
        unit_id: given(f.unit_id.clone()),
        since: given(f.since.clone()).map(|d| day_start(&d)).transpose()?,
        until: given(f.until.clone())
            .map(|d| day_start(&d).map(|t| t + 86_400))
            .transpose()?,
        limit,
        offset,
    })
}

#[derive(Serialize)]
struct Row {
    at: String,
    event: String,
    what: String,
    actor: String,
    client: String,
    source_ip: String,
    failed: bool,
    detail: String,
}

#[derive(Serialize)]
struct Chains {
    ok: bool,
    chains: u64,
    entries: u64,
    problems: Vec<String>,
}

#[derive(Serialize)]
struct ListView {
    actor: String,
    event: String,
    unit_id: String,
    since: String,
    until: String,
    units: Vec<UnitChoice>,
    event_names: Vec<&'static str>,
    rows: Vec<Row>,
    chains: Option<Chains>,
    export_jsonl: String,
    export_csv: String,
    #[serde(flatten)]
    pager: Pager,
}

async fn list(State(s): State<AppState>, con: Console, RawQuery(raw): RawQuery) -> Response {
    let r = async {
        let f: Filters = query(raw.as_deref())?;
        let (page, offset) = page_offset(f.page)?;
        let q = audit_query(&s, &con.caller, &f, PAGE_SIZE + 1, offset).await?;
        let found = audit::search(&s.provider, &con.caller, q).await?;
        let chains = audit::chain_status(&s.provider, &con.caller)
            .await?
            .map(|r| Chains {
                ok: r.problems.is_empty(),
                chains: r.chains,
                entries: r.entries,
                problems: r.problems,
            });
        let more = found.len() as i64 > PAGE_SIZE;
        let rows = found
            .iter()
            .take(PAGE_SIZE as usize)
            .map(|e| Row {
                at: when(e.at),
                what: events::phrase(&e.event, con.lang),
                event: e.event.clone(),
                actor: e.actor.clone().unwrap_or_default(),
                client: e.client_id.clone().unwrap_or_default(),
                source_ip: e.source_ip.clone().unwrap_or_default(),
                failed: e.outcome != "success",
                detail: e.detail.chars().take(300).collect(),
            })
            .collect();
        let filters = [
            ("actor", f.actor.as_deref()),
            ("event", f.event.as_deref()),
            ("unit_id", f.unit_id.as_deref()),
            ("since", f.since.as_deref()),
            ("until", f.until.as_deref()),
        ];
        let export = |format: &str| {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &filters {
                if let Some(v) = v.filter(|v| !v.is_empty()) {
                    q.append_pair(k, v);
                }
            }
            q.append_pair("format", format);
            format!("/admin/audit/export?{}", q.finish())
        };
        Ok::<_, AdminApiError>(ListView {
            actor: f.actor.clone().unwrap_or_default(),
            event: f.event.clone().unwrap_or_default(),
            unit_id: f.unit_id.clone().unwrap_or_default(),
            since: f.since.clone().unwrap_or_default(),
            until: f.until.clone().unwrap_or_default(),
            units: con.unit_choices(Permission::Read),
            event_names: Event::ALL.iter().map(|e| e.as_str()).collect(),
            rows,
            chains,
            export_jsonl: export("jsonl"),
            export_csv: export("csv"),
            pager: Pager::new("/admin/audit", &filters, page, more),
        })
    }
    .await;
    match r {
        Ok(view) => con.render(&s, "audit", "console/audit.html", &view),
        Err(e) => con.refused(&s, "audit", e).await,
    }
}

fn entry_json(e: &AuditEntry) -> serde_json::Value {
    let detail: serde_json::Value =
        serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::String(e.detail.clone()));
    serde_json::json!({
        "chain_id": e.chain_id, "seq": e.seq, "at": e.at, "event": e.event,
        "actor": e.actor, "client_id": e.client_id, "source_ip": e.source_ip,
        "outcome": e.outcome, "detail": detail, "prev_hash": e.prev_hash, "hash": e.hash,
    })
}

/// One CSV field (RFC 4180): quoted, quotes doubled; a leading `=+-@` is prefixed with `'` so
/// a spreadsheet never runs it as a formula.
fn csv_field(v: &str) -> String {
    let safe = if v.starts_with(['=', '+', '-', '@']) {
        format!("'{v}")
    } else {
        v.to_owned()
    };
    format!("\"{}\"", safe.replace('"', "\"\""))
}

fn csv(entries: &[AuditEntry]) -> String {
    let mut out = String::from(
        "chain_id,seq,at,event,actor,client_id,source_ip,outcome,detail,prev_hash,hash\r\n",
    );
    for e in entries {
        let fields = [
            e.chain_id.clone(),
            e.seq.to_string(),
            e.at.to_string(),
            e.event.clone(),
            e.actor.clone().unwrap_or_default(),
            e.client_id.clone().unwrap_or_default(),
            e.source_ip.clone().unwrap_or_default(),
            e.outcome.clone(),
            e.detail.clone(),
            e.prev_hash.clone(),
            e.hash.clone(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// The filtered entries (up to [`MAX_ENTRIES`], newest first) as a download.
async fn export(State(s): State<AppState>, con: Console, RawQuery(raw): RawQuery) -> Response {
    let r = async {
        let f: Filters = query(raw.as_deref())?;
        let format = f.format.clone().unwrap_or_else(|| "jsonl".into());
        if format != "jsonl" && format != "csv" {
            return Err(AdminApiError::Invalid("format must be jsonl or csv".into()));
        }
        let q = audit_query(&s, &con.caller, &f, MAX_ENTRIES, 0).await?;
        let entries = audit::search(&s.provider, &con.caller, q).await?;
        Ok((format, entries))
    }
    .await;
    let (format, entries) = match r {
        Ok(v) => v,
        Err(e) => return con.refused(&s, "audit", e).await,
    };
    let (body, mime, ext) = if format == "csv" {
        (csv(&entries), "text/csv; charset=utf-8", "csv")
    } else {
        let lines: Vec<String> = entries.iter().map(|e| entry_json(e).to_string()).collect();
        (
            lines.join("\n") + "\n",
            "application/jsonl; charset=utf-8",
            "jsonl",
        )
    };
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"tessera-audit.{ext}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_start_at_midnight_in_vietnam() {
        // 2026-12-03 00:00 +07:00 is 2026-12-02 17:00 UTC.
        assert_eq!(day_start("2026-12-03").ok(), Some(1_796_230_800));
        for bad in ["2026-13-01", "2026-02-30", "yesterday", "2026-12", ""] {
            assert!(day_start(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_field("a\"b"), "\"a\"\"b\"");
        assert_eq!(csv_field("=cmd()"), "\"'=cmd()\"");
        assert_eq!(csv_field("login.success"), "\"login.success\"");
    }
}
