//! Logout pages: "do you want to sign out?" and "you are signed out".

use minijinja::Value;
use minijinja::value::Serde;
use serde::Serialize;

use super::{Base, Lang, Pages};

/// The confirmation asked before ending a session when the application did not prove who is
/// signed in (RP-Initiated Logout 1.0 §2 and §6: logout requests can be forged).
#[derive(Clone, Copy, Debug)]
pub struct LogoutConfirmView<'a> {
    /// For the language switch links.
    pub path_and_query: &'a str,
    /// Posted back as the hidden field `csrf_token`.
    pub csrf_token: &'a str,
    /// The validated request, posted back and validated again.
    pub client_id: Option<&'a str>,
    pub post_logout_redirect_uri: Option<&'a str>,
    pub state: Option<&'a str>,
    /// The application asking, when known.
    pub client_name: Option<&'a str>,
    pub display_name: &'a str,
    pub username: &'a str,
}

/// Shown when no application is to be returned to.
#[derive(Clone, Copy, Debug)]
pub struct SignedOutView<'a> {
    pub path_and_query: &'a str,
}

#[derive(Serialize)]
struct ConfirmCtx<'a> {
    #[serde(flatten)]
    base: Base,
    csrf_token: &'a str,
    client_id: Option<&'a str>,
    post_logout_redirect_uri: Option<&'a str>,
    state: Option<&'a str>,
    client_name: Option<&'a str>,
    display_name: &'a str,
    username: &'a str,
}

#[derive(Serialize)]
struct SignedOutCtx {
    #[serde(flatten)]
    base: Base,
}

fn confirm_ctx(lang: Lang, v: &LogoutConfirmView<'_>) -> Value {
    Value::from(Serde(ConfirmCtx {
        base: Base::new(lang, v.path_and_query),
        csrf_token: v.csrf_token,
        client_id: v.client_id,
        post_logout_redirect_uri: v.post_logout_redirect_uri,
        state: v.state,
        client_name: v.client_name.filter(|n| !n.is_empty()),
        display_name: v.display_name,
        username: v.username,
    }))
}

fn signed_out_ctx(lang: Lang, v: &SignedOutView<'_>) -> Value {
    Value::from(Serde(SignedOutCtx {
        base: Base::new(lang, v.path_and_query),
    }))
}

impl Pages {
    pub fn logout_confirm(&self, lang: Lang, view: &LogoutConfirmView<'_>) -> String {
        self.render_or_fallback(lang, "logout_confirm.html", confirm_ctx(lang, view))
    }

    pub fn signed_out(&self, lang: Lang, view: &SignedOutView<'_>) -> String {
        self.render_or_fallback(lang, "signed_out.html", signed_out_ctx(lang, view))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn view<'a>(name: &'a str) -> LogoutConfirmView<'a> {
        LogoutConfirmView {
            path_and_query: "/logout?client_id=vanban",
            csrf_token: "tok<1>",
            client_id: Some("vanban"),
            post_logout_redirect_uri: Some("https://vanban.test/bye?a=1&b=2"),
            state: Some("st\"9"),
            client_name: Some(name),
            display_name: "Nguyễn Văn An",
            username: "an.nv",
        }
    }

    #[test]
    fn confirmation_is_a_csrf_protected_form_in_both_languages() {
        let pages = Pages::new();
        for (lang, question, button) in [
            (
                Lang::Vi,
                "Bạn có muốn đăng xuất khỏi Tessera không?",
                "Đăng xuất",
            ),
            (Lang::En, "Do you want to sign out of Tessera?", "Sign out"),
        ] {
            let v = view("Quản lý văn bản");
            pages
                .render("logout_confirm.html", confirm_ctx(lang, &v))
                .unwrap();
            let html = pages.logout_confirm(lang, &v);
            assert!(html.contains(question), "{html}");
            assert!(html.contains(&format!("<button type=\"submit\">{button}</button>")));
            assert!(html.contains("<form method=\"post\" action=\"/logout/confirm\""));
            assert!(
                html.contains("name=\"csrf_token\" value=\"tok&lt;1&gt;\""),
                "{html}"
            );
            assert!(html.contains("name=\"client_id\" value=\"vanban\""));
            assert!(
                html.contains("value=\"https:&#x2f;&#x2f;vanban.test&#x2f;bye?a=1&amp;b=2\""),
                "{html}"
            );
            assert!(
                html.contains("name=\"state\" value=\"st&quot;9\""),
                "{html}"
            );
            assert!(html.contains("Quản lý văn bản"));
            assert!(html.contains("an.nv"));
            assert!(!html.contains("<script"));
            assert!(html.contains("lang=en\"") && html.contains("lang=vi\""));
        }
        let hostile = pages.logout_confirm(Lang::Vi, &view("<script>alert(1)</script>"));
        assert!(!hostile.contains("<script"));
        let bare = LogoutConfirmView {
            client_id: None,
            post_logout_redirect_uri: None,
            state: None,
            client_name: None,
            ..view("")
        };
        let html = pages.logout_confirm(Lang::Vi, &bare);
        assert!(!html.contains("name=\"client_id\""));
        assert!(!html.contains("Yêu cầu đăng xuất đến từ"));
    }

    #[test]
    fn signed_in_page_links_to_sign_out() {
        let view = super::super::SignedInView {
            path_and_query: "/login",
            display_name: "Nguyễn Văn An",
            username: "an.nv",
        };
        let html = Pages::new().signed_in(Lang::Vi, &view);
        assert!(html.contains("<a href=\"/logout\">Đăng xuất</a>"), "{html}");
    }

    #[test]
    fn signed_out_page() {
        let pages = Pages::new();
        for (lang, heading) in [
            (Lang::Vi, "Bạn đã đăng xuất"),
            (Lang::En, "You are signed out"),
        ] {
            let v = SignedOutView {
                path_and_query: "/logout",
            };
            pages
                .render("signed_out.html", signed_out_ctx(lang, &v))
                .unwrap();
            let html = pages.signed_out(lang, &v);
            assert!(html.contains(heading), "{html}");
            assert!(html.contains("<style>"));
        }
    }
}
