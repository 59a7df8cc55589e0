//! The device grant's verification page (`/device`): the person types the code a kiosk shows
//! (or arrives with it from the QR code), sees which device application asks for what, and
//! approves or denies. Its strings live in [`DeviceText`], one constant per language.

use minijinja::Value;
use minijinja::value::Serde;
use serde::Serialize;

use super::{Base, Lang, Pages};

#[derive(Debug, Serialize)]
pub struct DeviceText {
    pub title: &'static str,
    pub enter_heading: &'static str,
    pub enter_help: &'static str,
    pub code_label: &'static str,
    pub continue_button: &'static str,
    pub confirm_heading: &'static str,
    pub asks: &'static str,
    pub code_shown: &'static str,
    pub scopes_label: &'static str,
    pub expires_label: &'static str,
    pub warning: &'static str,
    pub approve: &'static str,
    pub deny: &'static str,
    pub approved: &'static str,
    pub denied: &'static str,
    pub wrong_code: &'static str,
    pub throttled: &'static str,
}

const VI: DeviceText = DeviceText {
    title: "Đăng nhập trên thiết bị",
    enter_heading: "Đăng nhập trên ki-ốt hoặc màn hình quầy",
    enter_help: "Nhập mã hiển thị trên thiết bị (8 chữ cái, không phân biệt hoa thường, có hoặc không có dấu gạch).",
    code_label: "Mã thiết bị",
    continue_button: "Tiếp tục",
    confirm_heading: "Cho phép thiết bị này đăng nhập bằng tài khoản của bạn?",
    asks: "trên thiết bị hiển thị mã",
    code_shown: "Chỉ đồng ý nếu thiết bị trước mặt bạn đang hiển thị đúng mã này.",
    scopes_label: "Thông tin được chia sẻ:",
    expires_label: "Mã hết hạn lúc",
    warning: "Nếu bạn không tự bắt đầu đăng nhập trên một thiết bị, hoặc ai đó đưa mã cho bạn, hãy chọn Từ chối.",
    approve: "Đồng ý",
    deny: "Từ chối",
    approved: "Đã đồng ý. Thiết bị sẽ đăng nhập trong giây lát; bạn có thể đóng trang này. Khi đăng xuất khỏi Tessera, thiết bị cũng được đăng xuất.",
    denied: "Đã từ chối. Thiết bị không được đăng nhập.",
    wrong_code: "Mã không đúng, đã hết hạn hoặc đã được dùng. Kiểm tra lại mã trên thiết bị.",
    throttled: "Bạn đã nhập sai mã quá nhiều lần. Vui lòng thử lại sau vài phút.",
};

const EN: DeviceText = DeviceText {
    title: "Sign in on a device",
    enter_heading: "Sign in on a kiosk or counter screen",
    enter_help: "Type the code the device shows (8 letters, in any case, with or without the dash).",
    code_label: "Device code",
    continue_button: "Continue",
    confirm_heading: "Let this device sign in with your account?",
    asks: "on the device showing the code",
    code_shown: "Approve only if the device in front of you shows exactly this code.",
    scopes_label: "Information shared:",
    expires_label: "The code expires at",
    warning: "If you did not start signing in on a device yourself, or someone gave you the code, choose Deny.",
    approve: "Approve",
    deny: "Deny",
    approved: "Approved. The device will be signed in shortly; you may close this page. Signing out of Tessera signs the device out too.",
    denied: "Denied. The device is not signed in.",
    wrong_code: "This code is wrong, expired or already used. Check the code on the device.",
    throttled: "Too many wrong codes. Please try again in a few minutes.",
};

pub fn text(lang: Lang) -> &'static DeviceText {
    match lang {
        Lang::Vi => &VI,
        Lang::En => &EN,
    }
}

/// What the page shows.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Enter,
    Confirm,
    Approved,
    Denied,
}

#[derive(Debug, Serialize)]
pub struct DeviceView {
    pub step: Step,
    pub csrf_token: String,
    /// As typed (enter) or as shown (confirm).
    pub user_code: String,
    pub client_name: String,
    pub client_id: String,
    pub scope: Vec<String>,
    pub expires_at: String,
    pub display_name: String,
    pub username: String,
    pub error: Option<&'static str>,
}

#[derive(Serialize)]
struct Ctx<'a> {
    #[serde(flatten)]
    base: Base,
    d: &'static DeviceText,
    #[serde(flatten)]
    view: &'a DeviceView,
}

impl Pages {
    /// The verification page in one of its steps.
    pub fn device_grant(&self, lang: Lang, path_and_query: &str, view: &DeviceView) -> String {
        let ctx = Value::from(Serde(Ctx {
            base: Base::new(lang, path_and_query),
            d: text(lang),
            view,
        }));
        self.render_or_fallback(lang, "device.html", ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every step renders in both languages, and what applications control is escaped.
    #[test]
    fn every_step_renders_in_both_languages() {
        let pages = Pages::new();
        for lang in [Lang::Vi, Lang::En] {
            for step in [Step::Enter, Step::Confirm, Step::Approved, Step::Denied] {
                let view = DeviceView {
                    step,
                    csrf_token: "tok".into(),
                    user_code: "BCDF-GHJK".into(),
                    client_name: "<script>x</script>".into(),
                    client_id: "kiosk".into(),
                    scope: vec!["openid".into()],
                    expires_at: "10:00".into(),
                    display_name: "Nguyễn Văn An".into(),
                    username: "an.nv".into(),
                    error: Some(text(lang).wrong_code),
                };
                let html = pages.device_grant(lang, "/device", &view);
                assert!(html.contains(text(lang).title), "{html}");
                assert!(!html.contains("<script>x"), "{html}");
            }
        }
    }
}
