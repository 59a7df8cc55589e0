//! The page that links an upstream identity (VNeID) to an official's existing account: the
//! official proves it is theirs with their own password. Nothing is linked without it.

use minijinja::Value;
use minijinja::value::Serde;
use serde::Serialize;

use super::{Base, Lang, Pages};

#[derive(Debug, Serialize)]
pub struct LinkText {
    pub title: &'static str,
    pub heading: &'static str,
    pub intro: &'static str,
    pub username_label: &'static str,
    pub password_label: &'static str,
    pub button: &'static str,
    pub bad_credentials: &'static str,
    pub throttled: &'static str,
    pub not_official: &'static str,
}

const VI: LinkText = LinkText {
    title: "Liên kết tài khoản",
    heading: "Liên kết với tài khoản cán bộ của bạn",
    intro: "Danh tính bạn vừa đăng nhập chưa được liên kết với tài khoản nào. Nhập tên đăng nhập và mật khẩu cán bộ của chính bạn để liên kết; từ lần sau bạn có thể đăng nhập bằng",
    username_label: "Tên đăng nhập",
    password_label: "Mật khẩu",
    button: "Liên kết và đăng nhập",
    bad_credentials: "Tên đăng nhập hoặc mật khẩu không đúng. Chưa có liên kết nào được tạo.",
    throttled: "Bạn đã thử sai quá nhiều lần. Vui lòng thử lại sau vài phút.",
    not_official: "Chỉ tài khoản cán bộ mới được liên kết theo cách này.",
};

const EN: LinkText = LinkText {
    title: "Link your account",
    heading: "Link to your official account",
    intro: "The identity you just signed in with is not linked to any account yet. Enter your own official username and password to link it; from then on you can sign in with",
    username_label: "Username",
    password_label: "Password",
    button: "Link and sign in",
    bad_credentials: "Wrong username or password. Nothing was linked.",
    throttled: "Too many failed attempts. Please try again in a few minutes.",
    not_official: "Only officials' accounts are linked this way.",
};

pub fn text(lang: Lang) -> &'static LinkText {
    match lang {
        Lang::Vi => &VI,
        Lang::En => &EN,
    }
}

#[derive(Debug, Serialize)]
pub struct LinkView {
    pub csrf_token: String,
    pub offer: String,
    pub upstream_name: String,
    pub username: String,
    pub error: Option<&'static str>,
}

#[derive(Serialize)]
struct Ctx<'a> {
    #[serde(flatten)]
    base: Base,
    l: &'static LinkText,
    #[serde(flatten)]
    view: &'a LinkView,
}

impl Pages {
    pub fn upstream_link(&self, lang: Lang, path_and_query: &str, view: &LinkView) -> String {
        let ctx = Value::from(Serde(Ctx {
            base: Base::new(lang, path_and_query),
            l: text(lang),
            view,
        }));
        self.render_or_fallback(lang, "upstream_link.html", ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_in_both_languages_and_escapes() {
        let pages = Pages::new();
        for lang in [Lang::Vi, Lang::En] {
            let view = LinkView {
                csrf_token: "tok".into(),
                offer: "abc".into(),
                upstream_name: "<script>x</script>".into(),
                username: "an.nv".into(),
                error: Some(text(lang).bad_credentials),
            };
            let html = pages.upstream_link(lang, "/login/upstream/link?offer=abc", &view);
            assert!(html.contains(text(lang).heading), "{html}");
            assert!(html.contains("name=\"offer\" value=\"abc\""), "{html}");
            assert!(!html.contains("<script>x"), "{html}");
        }
    }
}
