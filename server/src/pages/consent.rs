//! The consent page for the administration scope: it names the application and what it will
//! be able to do, and the person approves or refuses, every time.

use minijinja::Value;
use minijinja::value::Serde;
use serde::Serialize;

use super::{Base, Lang, Pages};

#[derive(Debug, Serialize)]
pub struct ConsentText {
    pub title: &'static str,
    pub heading: &'static str,
    pub asks: &'static str,
    pub explain: &'static str,
    pub your_rights: &'static str,
    pub scopes_label: &'static str,
    pub warning: &'static str,
    pub approve: &'static str,
    pub deny: &'static str,
}

const VI: ConsentText = ConsentText {
    title: "Cấp quyền quản trị",
    heading: "Cho phép ứng dụng quản trị thay bạn?",
    asks: "yêu cầu quyền sử dụng API quản trị của Tessera với tư cách của bạn.",
    explain: "Nếu bạn đồng ý, ứng dụng này có thể xem và thay đổi đơn vị, người dùng, ứng dụng, \
              quyền quản trị và chứng thư số trong phạm vi quyền của bạn, cho đến khi phiên cấp \
              quyền hết hạn.",
    your_rights: "Quyền quản trị của bạn:",
    scopes_label: "Phạm vi yêu cầu:",
    warning: "Chỉ đồng ý nếu chính bạn vừa mở ứng dụng quản trị này. Nếu bạn nhận được đường \
              liên kết từ người khác, hãy chọn Từ chối.",
    approve: "Đồng ý",
    deny: "Từ chối",
};

const EN: ConsentText = ConsentText {
    title: "Grant administration rights",
    heading: "Let this application administer on your behalf?",
    asks: "asks to use Tessera's administration API as you.",
    explain: "If you approve, this application can see and change units, users, applications, \
              administrative grants and certificates within your rights, until the grant \
              expires.",
    your_rights: "Your administrative rights:",
    scopes_label: "Scopes requested:",
    warning: "Approve only if you have just opened this administration application yourself. \
              If someone sent you a link, choose Deny.",
    approve: "Approve",
    deny: "Deny",
};

pub fn text(lang: Lang) -> &'static ConsentText {
    match lang {
        Lang::Vi => &VI,
        Lang::En => &EN,
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct GrantView {
    pub role: String,
    pub unit: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct ConsentView<'a> {
    pub csrf_token: &'a str,
    /// The pending request's handle and the page's single-use token, posted back.
    pub req: &'a str,
    pub consent: &'a str,
    pub client_id: &'a str,
    pub client_name: &'a str,
    pub display_name: &'a str,
    pub username: &'a str,
    pub scope: &'a [String],
    pub grants: Vec<GrantView>,
}

#[derive(Serialize)]
struct Ctx<'a> {
    #[serde(flatten)]
    base: Base,
    m: &'static ConsentText,
    #[serde(flatten)]
    view: &'a ConsentView<'a>,
}

impl Pages {
    pub fn consent(&self, lang: Lang, path_and_query: &str, view: &ConsentView<'_>) -> String {
        let ctx = Value::from(Serde(Ctx {
            base: Base::new(lang, path_and_query),
            m: text(lang),
            view,
        }));
        self.render_or_fallback(lang, "consent.html", ctx)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn consent_names_the_application_in_both_languages_and_escapes_it() {
        let pages = Pages::new();
        let scope = vec!["openid".to_owned(), "tessera:admin".to_owned()];
        let view = ConsentView {
            csrf_token: "tok<1>",
            req: "handle",
            consent: "c-1",
            client_id: "console",
            client_name: "<script>x</script>",
            display_name: "Nguyễn Văn An",
            username: "an.nv",
            scope: &scope,
            grants: vec![GrantView {
                role: "cert_admin".into(),
                unit: "Sở Nội vụ".into(),
            }],
        };
        for (lang, heading, approve) in [
            (Lang::Vi, VI.heading, "Đồng ý"),
            (Lang::En, EN.heading, "Approve"),
        ] {
            let html = pages.consent(lang, "/authorize/consent?req=handle", &view);
            assert!(html.contains(heading), "{html}");
            assert!(html.contains(&format!("value=\"approve\">{approve}</button>")));
            assert!(html.contains("value=\"deny\""));
            assert!(html.contains("name=\"csrf_token\" value=\"tok&lt;1&gt;\""));
            assert!(html.contains("name=\"consent\" value=\"c-1\""));
            assert!(html.contains("&lt;script&gt;") && !html.contains("<script>x"));
            assert!(html.contains("Sở Nội vụ") && html.contains("tessera:admin"));
        }
    }
}
