//! People-facing HTML pages: sign-in form, error pages, "you are signed in".
//!
//! Pages are rendered server-side from minijinja templates embedded in the binary
//! (`server/templates/*.html`), with HTML auto-escaping on. They need no JavaScript and
//! load nothing external: the CSS is inline in `base.html` (so a Content-Security-Policy
//! must allow inline styles, e.g. `style-src 'unsafe-inline'`, and needs nothing else).
//! Vietnamese is the default language; every page links to the same URL with
//! `?lang=vi` / `?lang=en` (see [`lang_switch_url`]).

pub mod consent;
pub mod console;
pub mod device;
pub mod device_grant;
pub mod events;
mod i18n;
mod logout;
pub mod password;
pub mod signing;
pub mod strong;
pub mod upstream_link;
pub mod verify;
mod views;
pub mod when;

pub use logout::{LogoutConfirmView, SignedOutView};

pub use views::{ErrorKind, ErrorView, LoginError, LoginView, SignedInView};

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};
use serde::Serialize;

use i18n::Catalogue;

/// Interface language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    /// Parses a language tag: `vi`, `en`, `en-US`, `vi_VN`… (case-insensitive; only the
    /// primary subtag matters). `None` for any other language.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("vi") {
            Some(Lang::Vi)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// BCP 47 tag: `"vi"` or `"en"`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// Picks from the Accept-Language header value; Vietnamese when nothing matches.
    ///
    /// The supported language with the highest quality wins (the first one on a tie);
    /// `q=0` means "not acceptable"; `*` and unsupported languages are ignored.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(Lang, f32)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::from_tag) else {
                continue;
            };
            let mut q = 1.0_f32;
            for param in parts {
                let param = param.trim();
                if let Some((name, value)) = param.split_once('=')
                    && name.trim().eq_ignore_ascii_case("q")
                {
                    q = value.trim().parse().unwrap_or(0.0);
                }
            }
            if q.is_nan() || q <= 0.0 {
                continue;
            }
            if best.is_none_or(|(_, best_q)| q > best_q) {
                best = Some((lang, q));
            }
        }
        best.map_or(Lang::Vi, |(lang, _)| lang)
    }
}

/// URL of the same page in another language: sets/replaces the `lang` query parameter in
/// a path-and-query string like `"/login?req=abc&lang=vi"`.
///
/// Other parameters are kept verbatim (their percent-encoding is untouched) and in order;
/// an existing `lang` is replaced in place (duplicates dropped), otherwise `lang` is
/// appended. Any fragment is dropped. The path must be a plain absolute path: anything a
/// browser could read as another origin (`//host`, `/\host`, control characters, no
/// leading `/`) is replaced by `/`.
pub fn lang_switch_url(path_and_query: &str, lang: Lang) -> String {
    let without_fragment = path_and_query
        .split_once('#')
        .map_or(path_and_query, |(before, _)| before);
    let (path, query) = match without_fragment.split_once('?') {
        Some((path, query)) => (path, query),
        None => (without_fragment, ""),
    };

    let mut out = String::with_capacity(path_and_query.len() + 8);
    out.push_str(if is_safe_local_path(path) { path } else { "/" });

    let mut sep = '?';
    let mut placed = false;
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let key = pair.split_once('=').map_or(pair, |(key, _)| key);
        let is_lang = url::form_urlencoded::parse(key.as_bytes())
            .next()
            .is_some_and(|(key, _)| key == "lang");
        out.push(sep);
        sep = '&';
        if is_lang {
            if placed {
                // Drop the separator we just pushed: duplicates are removed.
                out.pop();
                continue;
            }
            placed = true;
            out.push_str("lang=");
            out.push_str(lang.tag());
        } else {
            out.push_str(pair);
        }
    }
    if !placed {
        out.push(sep);
        out.push_str("lang=");
        out.push_str(lang.tag());
    }
    out
}

/// An absolute path on this origin that no browser will read as a network-path
/// reference (`//evil.example`, `/\evil.example`, tabs/newlines that browsers strip).
fn is_safe_local_path(path: &str) -> bool {
    path.strip_prefix('/')
        .is_some_and(|rest| !rest.starts_with('/'))
        && !path.chars().any(|c| c.is_control() || c == '\\')
}

const TEMPLATES: [(&str, &str); 18] = [
    (
        "upstream_link.html",
        include_str!("../../templates/upstream_link.html"),
    ),
    ("device.html", include_str!("../../templates/device.html")),
    (
        "sign_list.html",
        include_str!("../../templates/sign_list.html"),
    ),
    (
        "sign_request.html",
        include_str!("../../templates/sign_request.html"),
    ),
    ("verify.html", include_str!("../../templates/verify.html")),
    (
        "totp_setup.html",
        include_str!("../../templates/totp_setup.html"),
    ),
    ("factor.html", include_str!("../../templates/factor.html")),
    ("enrol.html", include_str!("../../templates/enrol.html")),
    (
        "password.html",
        include_str!("../../templates/password.html"),
    ),
    (
        "recovery_codes.html",
        include_str!("../../templates/recovery_codes.html"),
    ),
    ("account.html", include_str!("../../templates/account.html")),
    ("base.html", include_str!("../../templates/base.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("error.html", include_str!("../../templates/error.html")),
    (
        "signed_in.html",
        include_str!("../../templates/signed_in.html"),
    ),
    (
        "logout_confirm.html",
        include_str!("../../templates/logout_confirm.html"),
    ),
    (
        "signed_out.html",
        include_str!("../../templates/signed_out.html"),
    ),
    ("consent.html", include_str!("../../templates/consent.html")),
];

/// The page renderer. Cheap to share (`Arc` it or clone it into the router state).
#[derive(Clone, Debug)]
pub struct Pages {
    env: Environment<'static>,
}

impl Default for Pages {
    fn default() -> Self {
        Pages::new()
    }
}

/// Context shared by every page (what `base.html` uses).
#[derive(Serialize)]
struct Base {
    lang: &'static str,
    t: &'static Catalogue,
    switch_vi: String,
    switch_en: String,
}

impl Base {
    fn new(lang: Lang, path_and_query: &str) -> Base {
        Base {
            lang: lang.tag(),
            t: i18n::catalogue(lang),
            switch_vi: lang_switch_url(path_and_query, Lang::Vi),
            switch_en: lang_switch_url(path_and_query, Lang::En),
        }
    }
}

#[derive(Serialize)]
struct LoginCtx<'a> {
    #[serde(flatten)]
    base: Base,
    req: Option<&'a str>,
    csrf_token: &'a str,
    username: &'a str,
    client_name: Option<&'a str>,
    error_message: Option<String>,
    bad_credentials: bool,
    upstreams: Vec<UpstreamButton>,
}

#[derive(Serialize)]
struct UpstreamButton {
    href: String,
    label: String,
}

#[derive(Serialize)]
struct ErrorCtx<'a> {
    #[serde(flatten)]
    base: Base,
    title: &'static str,
    message: String,
    detail: Option<&'a str>,
    code: &'static str,
}

#[derive(Serialize)]
struct SignedInCtx<'a> {
    #[serde(flatten)]
    base: Base,
    display_name: &'a str,
    username: &'a str,
}

impl Pages {
    /// Builds the template environment. The templates are embedded and checked by the
    /// tests; should one ever fail to compile anyway, the error is logged and the
    /// affected pages render a minimal static error page instead.
    pub fn new() -> Pages {
        match build_env() {
            Ok(env) => Pages { env },
            Err(err) => {
                tracing::error!(error = %err, "embedded page templates failed to compile");
                Pages {
                    env: Environment::empty(),
                }
            }
        }
    }

    /// The sign-in form.
    pub fn login(&self, lang: Lang, view: &LoginView<'_>) -> String {
        self.render_or_fallback(lang, "login.html", login_ctx(lang, view))
    }

    /// A full-page error. Pick the HTTP status with [`ErrorKind::http_status`].
    pub fn error(&self, lang: Lang, view: &ErrorView<'_>) -> String {
        self.render_or_fallback(lang, "error.html", error_ctx(lang, view))
    }

    /// "You are signed in as …".
    pub fn signed_in(&self, lang: Lang, view: &SignedInView<'_>) -> String {
        self.render_or_fallback(lang, "signed_in.html", signed_in_ctx(lang, view))
    }

    fn render(&self, name: &str, ctx: Value) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(ctx)
    }

    fn render_or_fallback(&self, lang: Lang, name: &str, ctx: Value) -> String {
        match self.render(name, ctx) {
            Ok(html) => html,
            Err(err) => {
                tracing::error!(template = name, error = %err, "page rendering failed");
                fallback_page(lang)
            }
        }
    }
}

fn build_env() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    // A typo in a template is an error, not an empty string (the tests render everything).
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()?,
    );
    for (name, source) in TEMPLATES.into_iter().chain(console::TEMPLATES) {
        env.add_template(name, source)?;
    }
    Ok(env)
}

fn login_ctx(lang: Lang, view: &LoginView<'_>) -> Value {
    Value::from(Serde(LoginCtx {
        base: Base::new(lang, view.path_and_query),
        req: view.req,
        csrf_token: view.csrf_token,
        username: view.username,
        client_name: view.client_name.filter(|name| !name.is_empty()),
        error_message: view.error.map(|e| i18n::login_error_message(lang, e)),
        bad_credentials: view.error == Some(LoginError::BadCredentials),
        upstreams: view
            .upstreams
            .iter()
            .map(|(id, name)| UpstreamButton {
                href: match view.req.filter(|r| crate::http::web::valid_handle(r)) {
                    Some(r) => format!("/login/upstream/{id}?req={r}"),
                    None => format!("/login/upstream/{id}"),
                },
                label: i18n::upstream_sign_in(lang, name),
            })
            .collect(),
    }))
}

fn error_ctx(lang: Lang, view: &ErrorView<'_>) -> Value {
    let (title, message) = i18n::error_text(lang, view.kind);
    Value::from(Serde(ErrorCtx {
        base: Base::new(lang, view.path_and_query),
        title,
        message,
        detail: view.detail.filter(|d| !d.trim().is_empty()),
        code: view.kind.code(),
    }))
}

fn signed_in_ctx(lang: Lang, view: &SignedInView<'_>) -> Value {
    Value::from(Serde(SignedInCtx {
        base: Base::new(lang, view.path_and_query),
        display_name: view.display_name,
        username: view.username,
    }))
}

/// Static last-resort page (no template involved, nothing interpolated).
fn fallback_page(lang: Lang) -> String {
    let t = i18n::catalogue(lang);
    format!(
        "<!doctype html>\n<html lang=\"{}\">\n<head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Tessera</title></head>\n<body><p>{}</p><p>{}</p></body>\n</html>\n",
        lang.tag(),
        t.site_header,
        t.fallback_error
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]
mod tests {
    use super::*;

    const HOSTILE: &str = "<script>alert(1)</script>\"'&";

    fn login_view<'a>(error: Option<LoginError>) -> LoginView<'a> {
        LoginView {
            path_and_query: "/login?req=abc&lang=vi",
            req: Some("abc"),
            csrf_token: "tok123",
            username: "nguyenvana",
            client_name: Some("Cổng dịch vụ công"),
            error,
            upstreams: &[],
        }
    }

    fn all_login_errors() -> Vec<Option<LoginError>> {
        vec![
            None,
            Some(LoginError::BadCredentials),
            Some(LoginError::TooManyAttempts {
                retry_after_secs: 0,
            }),
            Some(LoginError::TooManyAttempts {
                retry_after_secs: 61,
            }),
            Some(LoginError::AccountDisabled),
            Some(LoginError::SessionExpired),
        ]
    }

    /// Checks shared by every page.
    fn assert_common(html: &str, lang: Lang) {
        assert!(html.starts_with("<!doctype html>"), "{html}");
        assert!(html.contains(&format!("<html lang=\"{}\">", lang.tag())));
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert!(html.contains("name=\"viewport\""));
        let header = match lang {
            Lang::Vi => "Tessera — Cổng định danh và xác thực dùng chung",
            Lang::En => "Tessera — Shared identity and sign-on platform",
        };
        assert!(html.contains(header), "{html}");
        assert!(html.contains(">Tiếng Việt</a>"));
        assert!(html.contains(">English</a>"));
        assert!(html.contains("lang=vi\""));
        assert!(html.contains("lang=en\""));
        // Nothing external; the only script is Tessera's own passkey script.
        assert!(
            html.matches("<script").count()
                == html
                    .matches("<script src=\"/static/tessera.js\" defer></script>")
                    .count(),
            "{html}"
        );
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(!html.contains("<link"));
        // Not the fallback page.
        assert!(html.contains("<style>"));
    }

    #[test]
    fn templates_compile() {
        let env = build_env().unwrap();
        for (name, _) in TEMPLATES {
            env.get_template(name).unwrap();
        }
        assert_eq!(env.get_template("login.html").unwrap().name(), "login.html");
    }

    #[test]
    fn auto_escape_is_on_for_html() {
        let env = build_env().unwrap();
        let out = env
            .template_from_named_str("x.html", "{{ v }}")
            .unwrap()
            .render(minijinja::context! { v => "<b>" })
            .unwrap();
        assert_eq!(out, "&lt;b&gt;");
    }

    #[test]
    fn every_page_renders_in_both_languages() {
        let pages = Pages::new();
        for lang in [Lang::Vi, Lang::En] {
            for error in all_login_errors() {
                let view = login_view(error);
                pages.render("login.html", login_ctx(lang, &view)).unwrap();
                assert_common(&pages.login(lang, &view), lang);
            }
            for kind in ErrorKind::ALL {
                for detail in [None, Some("invalid scope")] {
                    let view = ErrorView {
                        path_and_query: "/authorize?client_id=x",
                        kind,
                        detail,
                    };
                    pages.render("error.html", error_ctx(lang, &view)).unwrap();
                    let html = pages.error(lang, &view);
                    assert_common(&html, lang);
                    assert!(html.contains(kind.code()));
                    assert_eq!(html.contains("invalid scope"), detail.is_some());
                }
            }
            for display_name in ["Nguyễn Văn A", ""] {
                let view = SignedInView {
                    path_and_query: "/",
                    display_name,
                    username: "nguyenvana",
                };
                pages
                    .render("signed_in.html", signed_in_ctx(lang, &view))
                    .unwrap();
                let html = pages.signed_in(lang, &view);
                assert_common(&html, lang);
                assert!(html.contains("nguyenvana"));
                assert!(html.contains(display_name));
            }
        }
    }

    #[test]
    fn login_offers_each_upstream() {
        let pages = Pages::new();
        let upstreams = [("vneid".to_owned(), "VNeID".to_owned())];
        let view = LoginView {
            upstreams: &upstreams,
            ..login_view(None)
        };
        let html = pages.login(Lang::Vi, &view);
        // Attribute values are HTML-escaped, `/` included.
        let href = "href=\"&#x2f;login&#x2f;upstream&#x2f;vneid?req=abc\"";
        assert!(html.contains(href), "{html}");
        assert!(html.contains("Đăng nhập bằng VNeID"));
        assert!(pages.login(Lang::En, &view).contains("Sign in with VNeID"));
        assert!(
            !pages
                .login(Lang::Vi, &login_view(None))
                .contains("upstream&#x2f;")
        );
    }

    #[test]
    fn login_form_fields() {
        let pages = Pages::new();
        let html = pages.login(Lang::Vi, &login_view(None));
        assert!(html.contains("<form id=\"login-form\" method=\"post\" action=\"/login\""));
        assert!(html.contains("name=\"username\""));
        assert!(html.contains("name=\"password\""));
        assert!(html.contains("type=\"password\""));
        assert!(html.contains("autocomplete=\"username\""));
        assert!(html.contains("autocomplete=\"current-password\""));
        assert!(html.contains("<input type=\"hidden\" name=\"csrf_token\" value=\"tok123\">"));
        assert!(html.contains("<input type=\"hidden\" name=\"req\" value=\"abc\">"));
        assert!(html.contains("value=\"nguyenvana\""));
        assert!(html.contains("type=\"submit\""));
        assert!(html.contains("<label for=\"username\">Tên đăng nhập</label>"));
        assert!(html.contains("<label for=\"password\">Mật khẩu</label>"));
        assert!(html.contains("Đăng nhập để tiếp tục vào <strong>Cổng dịch vụ công</strong>"));
        assert!(!html.contains("role=\"alert\""));

        let en = pages.login(Lang::En, &login_view(None));
        assert!(en.contains("<label for=\"username\">Username</label>"));
        assert!(en.contains("Sign in to continue to <strong>Cổng dịch vụ công</strong>"));

        let view = LoginView {
            req: None,
            client_name: None,
            ..login_view(None)
        };
        let html = pages.login(Lang::Vi, &view);
        assert!(!html.contains("name=\"req\""));
        assert!(!html.contains("tiếp tục vào"));
        assert!(html.contains("name=\"csrf_token\""));
    }

    #[test]
    fn bad_credentials_message_is_exact() {
        let pages = Pages::new();
        let view = login_view(Some(LoginError::BadCredentials));
        let vi = pages.login(Lang::Vi, &view);
        assert!(
            vi.contains("Tên đăng nhập hoặc mật khẩu không đúng."),
            "{vi}"
        );
        assert!(vi.contains("role=\"alert\""));
        assert!(vi.contains("aria-invalid=\"true\""));
        let en = pages.login(Lang::En, &view);
        assert!(en.contains("Incorrect username or password."), "{en}");
        assert_eq!(
            i18n::login_error_message(Lang::Vi, LoginError::BadCredentials),
            "Tên đăng nhập hoặc mật khẩu không đúng."
        );
        assert_eq!(
            i18n::login_error_message(Lang::En, LoginError::BadCredentials),
            "Incorrect username or password."
        );
    }

    #[test]
    fn too_many_attempts_mentions_the_delay() {
        let msg = |lang, secs| {
            i18n::login_error_message(
                lang,
                LoginError::TooManyAttempts {
                    retry_after_secs: secs,
                },
            )
        };
        assert!(msg(Lang::Vi, 30).contains("30 giây"));
        assert!(msg(Lang::Vi, 61).contains("2 phút"));
        assert!(msg(Lang::En, 1).contains("1 second."));
        assert!(msg(Lang::En, 60).contains("1 minute."));
        assert!(msg(Lang::En, 600).contains("10 minutes."));
    }

    #[test]
    fn error_pages_have_distinct_helpful_text() {
        for lang in [Lang::Vi, Lang::En] {
            let mut seen = std::collections::HashSet::new();
            for kind in ErrorKind::ALL {
                let (title, message) = i18n::error_text(lang, kind);
                assert!(seen.insert(title), "duplicate title {title}");
                assert!(message.len() > 30);
            }
        }
        let (_, csrf) = i18n::error_text(Lang::Vi, ErrorKind::CsrfFailed);
        assert!(csrf.contains("tải lại trang"));
        let (_, redirect) = i18n::error_text(Lang::En, ErrorKind::InvalidRedirectUri);
        assert!(redirect.contains("does not send you back"));
        let (_, unknown) = i18n::error_text(Lang::En, ErrorKind::UnknownClient);
        assert!(unknown.contains("IT administrator"));
    }

    #[test]
    fn hostile_input_is_escaped() {
        let pages = Pages::new();
        for lang in [Lang::Vi, Lang::En] {
            let view = LoginView {
                path_and_query: "/login?req=\"><script>x</script>",
                req: Some(HOSTILE),
                csrf_token: HOSTILE,
                username: HOSTILE,
                client_name: Some(HOSTILE),
                upstreams: &[("vneid".to_owned(), HOSTILE.to_owned())],
                error: Some(LoginError::BadCredentials),
            };
            let html = pages.login(lang, &view);
            assert!(!html.contains("<script>"), "{html}");
            assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;&quot;&#x27;&amp;"));

            let html = pages.error(
                lang,
                &ErrorView {
                    path_and_query: "/x?<script>",
                    kind: ErrorKind::BadRequest,
                    detail: Some(HOSTILE),
                },
            );
            assert!(!html.contains("<script"), "{html}");
            assert!(html.contains("&lt;script&gt;alert(1)"));

            let html = pages.signed_in(
                lang,
                &SignedInView {
                    path_and_query: "/",
                    display_name: HOSTILE,
                    username: HOSTILE,
                },
            );
            assert!(!html.contains("<script"), "{html}");
            assert!(html.contains("&lt;script&gt;alert(1)"));
        }
    }

    #[test]
    fn lang_switch_url_sets_and_replaces() {
        assert_eq!(
            lang_switch_url("/login?req=abc&lang=vi", Lang::En),
            "/login?req=abc&lang=en"
        );
        assert_eq!(
            lang_switch_url("/login?lang=en&req=a%2Fb%20c&x=1+2", Lang::Vi),
            "/login?lang=vi&req=a%2Fb%20c&x=1+2"
        );
        assert_eq!(lang_switch_url("/login", Lang::En), "/login?lang=en");
        assert_eq!(lang_switch_url("/login?", Lang::En), "/login?lang=en");
        assert_eq!(
            lang_switch_url("/login?req=%C3%A1", Lang::En),
            "/login?req=%C3%A1&lang=en"
        );
        // Duplicates and encoded keys are handled; similar names are kept.
        assert_eq!(
            lang_switch_url("/a?lang=vi&b=1&l%61ng=en&language=x&flag", Lang::En),
            "/a?lang=en&b=1&language=x&flag"
        );
        // Fragments dropped; values that merely contain "lang" are kept.
        assert_eq!(
            lang_switch_url("/a?q=lang%3Den#top", Lang::Vi),
            "/a?q=lang%3Den&lang=vi"
        );
        // Never points at another origin.
        assert_eq!(
            lang_switch_url("//evil.example/x?a=1", Lang::En),
            "/?a=1&lang=en"
        );
        assert_eq!(lang_switch_url("/\\evil.example", Lang::En), "/?lang=en");
        assert_eq!(lang_switch_url("/\t/evil.example", Lang::En), "/?lang=en");
        assert_eq!(
            lang_switch_url("https://evil.example/", Lang::En),
            "/?lang=en"
        );
        assert_eq!(lang_switch_url("", Lang::Vi), "/?lang=vi");
    }

    #[test]
    fn lang_tags() {
        assert_eq!(Lang::from_tag("vi"), Some(Lang::Vi));
        assert_eq!(Lang::from_tag("VI-vn"), Some(Lang::Vi));
        assert_eq!(Lang::from_tag("en"), Some(Lang::En));
        assert_eq!(Lang::from_tag("EN-US"), Some(Lang::En));
        assert_eq!(Lang::from_tag("en_GB"), Some(Lang::En));
        assert_eq!(Lang::from_tag(" en "), Some(Lang::En));
        assert_eq!(Lang::from_tag("fr"), None);
        assert_eq!(Lang::from_tag("eng"), None);
        assert_eq!(Lang::from_tag(""), None);
        assert_eq!(Lang::Vi.tag(), "vi");
        assert_eq!(Lang::En.tag(), "en");
        assert_eq!(Lang::default(), Lang::Vi);
    }

    #[test]
    fn accept_language() {
        assert_eq!(Lang::from_accept_language("en-US,en;q=0.9"), Lang::En);
        assert_eq!(Lang::from_accept_language("fr"), Lang::Vi);
        assert_eq!(Lang::from_accept_language(""), Lang::Vi);
        assert_eq!(Lang::from_accept_language("*"), Lang::Vi);
        assert_eq!(
            Lang::from_accept_language("vi-VN,vi;q=0.9,en;q=0.8"),
            Lang::Vi
        );
        assert_eq!(
            Lang::from_accept_language("fr-FR,fr;q=0.9,en;q=0.5"),
            Lang::En
        );
        assert_eq!(Lang::from_accept_language("vi;q=0.2, en;q=0.8"), Lang::En);
        assert_eq!(Lang::from_accept_language("en;q=0"), Lang::Vi);
        assert_eq!(Lang::from_accept_language("en;q=bogus"), Lang::Vi);
        assert_eq!(Lang::from_accept_language("en, vi"), Lang::En);
    }

    #[test]
    fn fallback_page_is_valid_html() {
        let pages = Pages {
            env: Environment::empty(),
        };
        let html = pages.error(
            Lang::En,
            &ErrorView {
                path_and_query: "/",
                kind: ErrorKind::Internal,
                detail: Some(HOSTILE),
            },
        );
        assert!(html.contains("<html lang=\"en\">"));
        assert!(!html.contains("<script"));
    }
}
