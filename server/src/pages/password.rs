//! The password-change page: the change a password set by an administrator demands at the
//! next sign-in, and the change people make themselves from `/account`.

use minijinja::Value;
use minijinja::value::Serde;
use serde::Serialize;

use super::{Base, Lang, Pages};

#[derive(Debug, Serialize)]
pub struct PasswordText {
    pub forced_title: &'static str,
    pub forced_lead: &'static str,
    pub own_title: &'static str,
    pub own_lead: &'static str,
    pub current_label: &'static str,
    pub new_label: &'static str,
    pub confirm_label: &'static str,
    pub rules: &'static str,
    pub submit: &'static str,
    pub back: &'static str,
    pub mismatch: &'static str,
    pub wrong_current: &'static str,
    pub too_many: &'static str,
    pub weak: &'static str,
    pub unchanged: &'static str,
    pub conflict: &'static str,
    pub heading: &'static str,
    pub change_link: &'static str,
}

pub const VI: PasswordText = PasswordText {
    forced_title: "Đặt mật khẩu mới",
    forced_lead: "Mật khẩu này do quản trị viên cấp. Trước khi tiếp tục, hãy đặt một mật khẩu mới chỉ mình bạn biết.",
    own_title: "Đổi mật khẩu",
    own_lead: "Sau khi đổi, các phiên đăng nhập khác của bạn sẽ kết thúc; phiên này vẫn giữ nguyên.",
    current_label: "Mật khẩu hiện tại",
    new_label: "Mật khẩu mới",
    confirm_label: "Nhập lại mật khẩu mới",
    rules: "Ít nhất 10 ký tự; không dùng mật khẩu phổ biến hoặc chứa tên đăng nhập. Một câu dễ nhớ là lựa chọn tốt.",
    submit: "Lưu mật khẩu mới",
    back: "Quay lại trang tài khoản",
    mismatch: "Hai lần nhập mật khẩu mới không khớp nhau.",
    wrong_current: "Mật khẩu hiện tại không đúng.",
    too_many: "Bạn đã nhập sai quá nhiều lần. Vui lòng thử lại sau ít phút.",
    weak: "Mật khẩu mới chưa đạt yêu cầu: ít nhất 10 ký tự, không phải mật khẩu phổ biến, không chứa tên đăng nhập.",
    unchanged: "Mật khẩu mới phải khác mật khẩu hiện tại.",
    conflict: "Mật khẩu vừa được thay đổi ở nơi khác. Vui lòng đăng nhập lại.",
    heading: "Mật khẩu",
    change_link: "Đổi mật khẩu",
};

pub const EN: PasswordText = PasswordText {
    forced_title: "Choose a new password",
    forced_lead: "This password was set by an administrator. Before you continue, choose a new password that only you know.",
    own_title: "Change password",
    own_lead: "Your other sessions end once the password is changed; this one stays.",
    current_label: "Current password",
    new_label: "New password",
    confirm_label: "New password again",
    rules: "At least 10 characters; not a common password and not containing your username. A sentence you remember is a good choice.",
    submit: "Save the new password",
    back: "Back to my account",
    mismatch: "The two new passwords differ.",
    wrong_current: "The current password is not right.",
    too_many: "Too many wrong attempts. Please try again in a few minutes.",
    weak: "The new password does not meet the rules: at least 10 characters, not a common password, not containing your username.",
    unchanged: "The new password must differ from the current one.",
    conflict: "The password was just changed elsewhere. Please sign in again.",
    heading: "Password",
    change_link: "Change password",
};

pub fn text(lang: Lang) -> &'static PasswordText {
    match lang {
        Lang::Vi => &VI,
        Lang::En => &EN,
    }
}

/// What the page shows.
#[derive(Debug, Serialize)]
pub struct PasswordView<'a> {
    /// The change demanded at sign-in (no current password asked) rather than on `/account`.
    pub forced: bool,
    pub action: &'a str,
    pub req: Option<&'a str>,
    pub csrf_token: &'a str,
    pub display_name: &'a str,
    pub username: &'a str,
    pub error: Option<&'static str>,
}

#[derive(Serialize)]
struct Ctx<'a> {
    #[serde(flatten)]
    base: Base,
    p: &'static PasswordText,
    #[serde(flatten)]
    view: &'a PasswordView<'a>,
}

impl Pages {
    pub fn password(&self, lang: Lang, path_and_query: &str, view: &PasswordView<'_>) -> String {
        let ctx = Value::from(Serde(Ctx {
            base: Base::new(lang, path_and_query),
            p: text(lang),
            view,
        }));
        self.render_or_fallback(lang, "password.html", ctx)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const HOSTILE: &str = "<script>alert(1)</script>\"'&";

    #[test]
    fn renders_both_forms_in_both_languages_and_escapes() {
        let pages = Pages::new();
        for lang in [Lang::Vi, Lang::En] {
            for forced in [true, false] {
                let html = pages.password(
                    lang,
                    "/login/password",
                    &PasswordView {
                        forced,
                        action: "/login/password",
                        req: Some(HOSTILE),
                        csrf_token: HOSTILE,
                        display_name: HOSTILE,
                        username: HOSTILE,
                        error: Some(text(lang).mismatch),
                    },
                );
                assert!(html.contains("id=\"password-form\""), "{html}");
                assert!(html.contains(text(lang).mismatch));
                assert_eq!(html.contains("name=\"current_password\""), !forced);
                assert!(!html.contains("<script>"), "{html}");
                assert!(html.contains("&lt;script&gt;"));
            }
        }
    }
}
