//! The pages, as plain HTML strings: a frame, the list, a document, an error. Readable at
//! 390 px (tables become stacked cards) and without JavaScript; a pending signature refreshes
//! the page by itself.

use std::fmt::Write;

use serde_json::Value;

use crate::store::{Document, Signing};
use crate::words::{Lang, Words};

/// What every page's frame shows.
pub struct Frame<'a> {
    pub lang: Lang,
    pub app_name: &'a str,
    /// The signed-in person's name and unit.
    pub user: Option<(&'a str, &'a str)>,
    pub logout_path: &'a str,
    /// The current path, to come back to after the language switch.
    pub path: &'a str,
    /// Seconds after which the page reloads itself (a pending signature).
    pub refresh: Option<u32>,
}

pub use tessera_sdk::axum::escape_html as esc;

/// Vietnam time (UTC+7, no daylight saving), day first: `03/12/2026 17:25`.
pub fn vn_time(unix: i64) -> String {
    let t = unix + 7 * 3600;
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{day:02}/{month:02}/{year} {:02}:{:02}",
        secs / 3600,
        (secs % 3600) / 60
    )
}

const STYLE: &str = r#"
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1b1f24;background:#f4f6f8}
header{background:#a51d21;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;justify-content:space-between}
header a,header button{color:#fff}header .app{font-weight:700;font-size:1.1rem;text-decoration:none}
header form{display:inline}header .who{overflow-wrap:anywhere}
button,.button{background:#a51d21;color:#fff;border:0;border-radius:4px;padding:.5rem 1rem;font:inherit;cursor:pointer;text-decoration:none;display:inline-block}
header button{background:transparent;border:1px solid #fff;padding:.2rem .6rem}
main{max-width:960px;margin:0 auto;padding:1rem}
section{background:#fff;border-radius:6px;padding:1rem;margin-bottom:1rem;box-shadow:0 1px 2px #0002}
h1{font-size:1.4rem;margin:.2rem 0 .8rem}h2{font-size:1.15rem;margin:.2rem 0 .6rem}
label{display:block;font-weight:600;margin-top:.6rem}input[type=text],input[type=file]{width:100%;padding:.45rem;font:inherit;border:1px solid #9aa3ad;border-radius:4px}
.help{color:#555;font-size:.9rem;margin:.1rem 0}.error{background:#fde8e8;border-left:4px solid #a51d21;padding:.6rem}
table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:.45rem;border-bottom:1px solid #e1e4e8;vertical-align:top;overflow-wrap:anywhere}
.badge{display:inline-block;border-radius:3px;padding:0 .4rem;background:#e1e4e8}.badge.signed,.badge.TOTAL-PASSED{background:#d3f0d8}.badge.failed,.badge.rejected,.badge.TOTAL-FAILED{background:#fde8e8}
progress{width:100%;height:1rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
.actions{display:flex;flex-wrap:wrap;gap:.5rem;margin-top:.8rem}
@media (max-width:600px){table,thead,tbody,tr,th,td{display:block}thead{display:none}tr{border-bottom:1px solid #c9ced4;padding:.4rem 0}td{border:0;padding:.15rem 0}td::before{content:attr(data-label) ": ";font-weight:600}dl{grid-template-columns:1fr}dd{margin-bottom:.4rem}}
"#;

pub fn frame(f: &Frame<'_>, body: &str) -> String {
    let w = f.lang.words();
    let mut out = String::new();
    let refresh = f
        .refresh
        .map(|s| format!("<meta http-equiv=\"refresh\" content=\"{s}\">"))
        .unwrap_or_default();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">{refresh}\
         <title>{app}</title><style>{STYLE}</style></head><body><header>\
         <a class=\"app\" href=\"/\">{app}</a><span>",
        lang = f.lang.code(),
        app = esc(f.app_name),
    );
    if let Some((name, unit)) = f.user {
        let _ = write!(
            out,
            "<span class=\"who\" id=\"who\">{} · {}</span> \
             <form method=\"post\" action=\"{}\"><button type=\"submit\" id=\"logout\">{}</button></form> ",
            esc(name),
            esc(unit),
            esc(f.logout_path),
            w.sign_out
        );
    }
    let _ = write!(
        out,
        "<a id=\"lang-switch\" href=\"/lang?set={}&amp;back={}\">{}</a></span></header><main>{body}</main></body></html>",
        w.switch_to,
        esc(&url_encode(f.path)),
        w.switch_label,
    );
    out
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn welcome(w: &Words, login_path: &str) -> String {
    format!(
        "<section><h1>{}</h1><p>{}</p><a class=\"button\" id=\"login\" href=\"{}\">{}</a></section>",
        w.welcome,
        w.welcome_text,
        esc(login_path),
        w.sign_in
    )
}

fn status_badge(w: &Words, signing: Option<&Signing>) -> String {
    match signing {
        None => format!("<span class=\"badge\">{}</span>", w.not_requested),
        Some(s) => format!(
            "<span class=\"badge {}\">{}</span>",
            esc(&s.status),
            w.status_name(&s.status)
        ),
    }
}

pub fn list(w: &Words, docs: &[Document], csrf: &str, error: Option<&str>) -> String {
    let mut out = String::new();
    let _ = write!(out, "<section><h1>{}</h1>", w.documents);
    if docs.is_empty() {
        let _ = write!(out, "<p id=\"no-documents\">{}</p>", w.no_documents);
    } else {
        let _ = write!(
            out,
            "<table id=\"documents\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            w.title, w.uploaded_by, w.uploaded_at, w.status
        );
        for d in docs {
            let _ = write!(
                out,
                "<tr><td data-label=\"{t}\"><a href=\"/documents/{id}\">{title}</a></td>\
                 <td data-label=\"{b}\">{owner}</td><td data-label=\"{a}\">{when}</td>\
                 <td data-label=\"{s}\">{badge}</td></tr>",
                t = w.title,
                id = esc(&d.id),
                title = esc(&d.title),
                b = w.uploaded_by,
                owner = esc(&d.owner_name),
                a = w.uploaded_at,
                when = vn_time(d.uploaded_at),
                s = w.status,
                badge = status_badge(w, d.signing.as_ref()),
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");
    let _ = write!(
        out,
        "<section><h2>{}</h2>{}<form id=\"upload\" method=\"post\" action=\"/documents\" enctype=\"multipart/form-data\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{}\">\
         <label for=\"title\">{}</label><input type=\"text\" id=\"title\" name=\"title\" required maxlength=\"300\">\
         <label for=\"file\">{}</label><input type=\"file\" id=\"file\" name=\"file\" accept=\"application/pdf,.pdf\" required>\
         <div class=\"actions\"><button type=\"submit\">{}</button></div></form></section>",
        w.upload,
        error_box(error),
        esc(csrf),
        w.title,
        w.pdf_file,
        w.upload_button
    );
    out
}

fn error_box(error: Option<&str>) -> String {
    error
        .map(|e| {
            format!(
                "<p class=\"error\" role=\"alert\" id=\"form-error\">{}</p>",
                esc(e)
            )
        })
        .unwrap_or_default()
}

pub struct DocumentView<'a> {
    pub doc: &'a Document,
    pub csrf: &'a str,
    pub default_signer: &'a str,
    pub report: Option<&'a Value>,
    pub error: Option<&'a str>,
}

pub fn document(w: &Words, v: &DocumentView<'_>) -> String {
    let d = v.doc;
    let mut out = String::new();
    let _ = write!(
        out,
        "<section><h1 id=\"doc-title\">{}</h1><dl><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd>\
         <dt>{}</dt><dd id=\"sign-status\" data-status=\"{}\">{}</dd></dl>",
        esc(&d.title),
        w.uploaded_by,
        esc(&d.owner_name),
        w.uploaded_at,
        vn_time(d.uploaded_at),
        w.status,
        esc(d.signing.as_ref().map_or("none", |s| s.status.as_str())),
        status_badge(w, d.signing.as_ref()),
    );
    if let Some(s) = &d.signing {
        let _ = write!(
            out,
            "<dl><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd><progress id=\"progress\" value=\"{}\" max=\"{}\">{}/{}</progress> {}/{}</dd></dl>",
            w.signer,
            esc(&s.signer),
            w.progress,
            s.done,
            s.total,
            s.done,
            s.total,
            s.done,
            s.total
        );
        if s.status == "pending" {
            let _ = write!(
                out,
                "<p>{}: {}</p><p class=\"help\">{}</p><div class=\"actions\"><a class=\"button\" id=\"approval-link\" href=\"{}\">{}</a></div>",
                w.expires,
                vn_time(s.expires_at),
                w.approval_help,
                esc(&s.approval_url),
                w.approval_link
            );
        }
        if let Some(e) = &s.error {
            let _ = write!(out, "<p class=\"error\">{}</p>", esc(e));
        }
    }
    let _ = write!(
        out,
        "<div class=\"actions\"><a class=\"button\" id=\"download-original\" href=\"/documents/{id}/original.pdf\">{}</a>",
        w.download_original,
        id = esc(&d.id)
    );
    if d.signing.as_ref().is_some_and(|s| s.verdict.is_some()) {
        let _ = write!(
            out,
            "<a class=\"button\" id=\"download-signed\" href=\"/documents/{id}/signed.pdf\">{}</a>",
            w.download_signed,
            id = esc(&d.id)
        );
    }
    out.push_str("</div></section>");
    if let Some(report) = v.report {
        out.push_str(&report_section(w, &d.id, report));
    }
    let can_request = d
        .signing
        .as_ref()
        .is_none_or(|s| !matches!(s.status.as_str(), "pending" | "approved" | "signed"));
    if can_request {
        let _ = write!(
            out,
            "<section><h2>{}</h2>{}<form id=\"request-signature\" method=\"post\" action=\"/documents/{}/sign\">\
             <input type=\"hidden\" name=\"csrf_token\" value=\"{}\">\
             <label for=\"signer\">{}</label><input type=\"text\" id=\"signer\" name=\"signer\" value=\"{}\" required>\
             <p class=\"help\">{}</p>\
             <label for=\"anchor\">{}</label><input type=\"text\" id=\"anchor\" name=\"anchor\">\
             <p class=\"help\">{}</p>\
             <div class=\"actions\"><button type=\"submit\">{}</button></div></form></section>",
            w.request_signature,
            error_box(v.error),
            esc(&d.id),
            esc(v.csrf),
            w.signer,
            esc(v.default_signer),
            w.signer_help,
            w.anchor,
            w.anchor_help,
            w.request_button
        );
    }
    let _ = write!(out, "<p><a href=\"/\">{}</a></p>", w.back);
    out
}

/// The verification report of `/api/verify`: one line per signature, with its verdict.
fn report_section(w: &Words, id: &str, report: &Value) -> String {
    let overall = report["overall"].as_str().unwrap_or("INDETERMINATE");
    let mut out = format!(
        "<section><h2>{}</h2><p>{}: <span class=\"badge {o}\" id=\"verdict\" data-indication=\"{o}\">{}</span></p>",
        w.report,
        w.verdict,
        w.verdict_name(overall),
        o = esc(overall),
    );
    let empty = Vec::new();
    let signatures = report["signatures"].as_array().unwrap_or(&empty);
    if !signatures.is_empty() {
        let _ = write!(
            out,
            "<table><thead><tr><th>{}</th><th>{}</th></tr></thead><tbody>",
            w.signed_by, w.verdict
        );
        for s in signatures {
            let subject = s["signer"]["subject"].as_str().unwrap_or("?");
            let indication = s["verdict"]["indication"]
                .as_str()
                .unwrap_or("INDETERMINATE");
            let detail = s["verdict"]["detail"].as_str().unwrap_or("");
            let _ = write!(
                out,
                "<tr><td data-label=\"{}\">{}</td><td data-label=\"{}\"><span class=\"badge {i}\">{}</span> {}</td></tr>",
                w.signed_by,
                esc(subject),
                w.verdict,
                w.verdict_name(indication),
                esc(detail),
                i = esc(indication),
            );
        }
        out.push_str("</tbody></table>");
    }
    let _ = write!(
        out,
        "<p><a href=\"/documents/{}/report.json\">{}</a></p></section>",
        esc(id),
        w.report_json
    );
    out
}

pub fn error(w: &Words, message: &str) -> String {
    format!(
        "<section><h1>{}</h1><p class=\"error\" role=\"alert\">{}</p><p><a href=\"/\">{}</a></p></section>",
        w.error_title,
        esc(message),
        w.back
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnam_time_is_seven_hours_ahead_day_first() {
        // 2026-12-03 10:25 UTC
        assert_eq!(vn_time(1_796_293_500), "03/12/2026 17:25");
        // Across midnight and a leap day: 2024-02-28 20:00 UTC is 29/02 03:00 in Hà Nội.
        assert_eq!(vn_time(1_709_150_400), "29/02/2024 03:00");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
