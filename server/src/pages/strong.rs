//! Pages of strong authentication: the second-factor step, enrolment, recovery codes and the
//! account page. Their strings live in [`StrongText`], one constant per language.

use minijinja::Value;
use minijinja::value::Serde;
use serde::Serialize;

use super::{Base, Lang, Pages};

#[derive(Debug, Serialize)]
pub struct StrongText {
    pub factor_title: &'static str,
    pub factor_lead: &'static str,
    pub use_passkey: &'static str,
    pub use_passkey_help: &'static str,
    pub totp_label: &'static str,
    pub totp_help: &'static str,
    pub token_label: &'static str,
    pub token_help: &'static str,
    pub code_label_any: &'static str,
    pub code_help_any: &'static str,
    pub verify_button: &'static str,
    pub recovery_label: &'static str,
    pub recovery_help: &'static str,
    pub or: &'static str,
    pub wrong_code: &'static str,
    pub too_many: &'static str,
    pub step_expired: &'static str,
    pub passkey_failed: &'static str,
    pub enrol_title: &'static str,
    pub enrol_lead: &'static str,
    pub enrol_passkey_heading: &'static str,
    pub enrol_passkey_help: &'static str,
    pub passkey_name_label: &'static str,
    pub passkey_name_default: &'static str,
    pub add_passkey: &'static str,
    pub enrol_totp_heading: &'static str,
    pub enrol_totp_help: &'static str,
    pub start_totp: &'static str,
    pub scan_qr: &'static str,
    pub secret_label: &'static str,
    pub confirm_code_label: &'static str,
    pub confirm_button: &'static str,
    pub codes_title: &'static str,
    pub codes_lead: &'static str,
    pub continue_button: &'static str,
    pub account_title: &'static str,
    pub profile_heading: &'static str,
    pub name_label: &'static str,
    pub username_label: &'static str,
    pub email_label: &'static str,
    pub phone_label: &'static str,
    pub unit_label: &'static str,
    pub roles_label: &'static str,
    pub level_label: &'static str,
    pub level_1: &'static str,
    pub level_2: &'static str,
    pub step_up_link: &'static str,
    /// Followed by the time the lock lifts.
    pub factor_locked: &'static str,
    /// Followed by the number of wrong codes counted.
    pub factor_failures: &'static str,
    pub sessions_heading: &'static str,
    pub this_device: &'static str,
    pub started: &'static str,
    pub last_seen: &'static str,
    pub end_session: &'static str,
    pub passkeys_heading: &'static str,
    pub no_passkeys: &'static str,
    pub synced: &'static str,
    pub device_bound: &'static str,
    pub last_used: &'static str,
    pub never: &'static str,
    pub rename: &'static str,
    pub remove: &'static str,
    pub totp_heading: &'static str,
    pub totp_on: &'static str,
    pub totp_off: &'static str,
    pub tokens_heading: &'static str,
    pub tokens_note: &'static str,
    pub token_disabled: &'static str,
    pub recovery_heading: &'static str,
    pub recovery_left: &'static str,
    pub regenerate: &'static str,
    pub history_heading: &'static str,
    pub signing_heading: &'static str,
    pub no_signing: &'static str,
    pub signing_waiting: &'static str,
    pub sign_out: &'static str,
    pub needs_level_2: &'static str,
    pub done: &'static str,
    pub js_needed: &'static str,
}

pub const VI: StrongText = StrongText {
    factor_title: "Xác thực bước hai",
    factor_lead: "Ứng dụng này yêu cầu mức bảo đảm cao hơn. Hãy xác nhận bằng một yếu tố thứ hai.",
    use_passkey: "Dùng khóa truy cập (passkey)",
    use_passkey_help: "Điện thoại, máy tính hoặc khóa bảo mật của bạn sẽ hỏi vân tay, khuôn mặt hoặc mã PIN.",
    totp_label: "Mã 6 số từ ứng dụng xác thực",
    totp_help: "Mở ứng dụng xác thực (Google Authenticator, Microsoft Authenticator…) và nhập mã đang hiển thị.",
    token_label: "Mã từ thiết bị OTP",
    token_help: "Nhập mã đang hiển thị trên thiết bị OTP do đơn vị cấp (nhấn nút trên thiết bị trước, nếu có).",
    code_label_any: "Mã từ ứng dụng xác thực hoặc thiết bị OTP",
    code_help_any: "Nhập mã đang hiển thị trên ứng dụng xác thực, hoặc trên thiết bị OTP do đơn vị cấp.",
    verify_button: "Xác nhận",
    recovery_label: "Mã khôi phục",
    recovery_help: "Mỗi mã khôi phục chỉ dùng được một lần.",
    or: "hoặc",
    wrong_code: "Mã không đúng hoặc đã được sử dụng. Vui lòng thử lại.",
    too_many: "Bạn đã nhập sai quá nhiều lần. Vui lòng thử lại sau ít phút.",
    step_expired: "Phiên đăng nhập đã hết hạn. Vui lòng đăng nhập lại.",
    passkey_failed: "Không xác thực được bằng khóa truy cập.",
    enrol_title: "Thiết lập xác thực hai yếu tố",
    enrol_lead: "Tài khoản của bạn phải dùng xác thực hai yếu tố. Hãy thiết lập một khóa truy cập hoặc ứng dụng xác thực để tiếp tục.",
    enrol_passkey_heading: "Khóa truy cập (khuyên dùng)",
    enrol_passkey_help: "Dùng vân tay, khuôn mặt hoặc mã PIN trên điện thoại, máy tính, hoặc một khóa bảo mật USB/NFC.",
    passkey_name_label: "Tên gợi nhớ",
    passkey_name_default: "Khóa truy cập",
    add_passkey: "Thêm khóa truy cập",
    enrol_totp_heading: "Ứng dụng xác thực",
    enrol_totp_help: "Dùng ứng dụng tạo mã 6 số trên điện thoại.",
    start_totp: "Thiết lập ứng dụng xác thực",
    scan_qr: "Quét mã QR bằng ứng dụng xác thực, hoặc nhập khóa bí mật bên dưới.",
    secret_label: "Khóa bí mật",
    confirm_code_label: "Nhập mã 6 số ứng dụng đang hiển thị",
    confirm_button: "Xác nhận và bật",
    codes_title: "Mã khôi phục",
    codes_lead: "Hãy in hoặc lưu các mã này ở nơi an toàn. Mỗi mã dùng được một lần khi bạn không có điện thoại hay khóa bảo mật. Mã chỉ hiển thị một lần này.",
    continue_button: "Tiếp tục",
    account_title: "Tài khoản của tôi",
    profile_heading: "Thông tin cá nhân",
    name_label: "Họ và tên",
    username_label: "Tên đăng nhập",
    email_label: "Thư điện tử",
    phone_label: "Điện thoại",
    unit_label: "Đơn vị",
    roles_label: "Vai trò",
    level_label: "Mức bảo đảm của phiên này",
    level_1: "Mức 1 (mật khẩu)",
    level_2: "Mức 2 (hai yếu tố hoặc khóa truy cập)",
    step_up_link: "Xác thực lại để thay đổi các phương thức đăng nhập",
    factor_locked: "Yếu tố thứ hai của bạn tạm thời bị khóa vì có quá nhiều mã sai. Nếu không phải bạn nhập, hãy đổi mật khẩu và báo quản trị viên đơn vị (họ có thể mở khóa). Mở lại một lượt thử lúc:",
    factor_failures: "Số mã xác thực sai gần đây (chưa có lần đúng nào sau đó):",
    sessions_heading: "Phiên đăng nhập đang hoạt động",
    this_device: "thiết bị này",
    started: "Bắt đầu",
    last_seen: "Hoạt động gần nhất",
    end_session: "Kết thúc phiên",
    passkeys_heading: "Khóa truy cập",
    no_passkeys: "Chưa có khóa truy cập nào.",
    synced: "đồng bộ giữa các thiết bị",
    device_bound: "gắn với thiết bị",
    last_used: "Dùng lần cuối",
    never: "chưa dùng",
    rename: "Đổi tên",
    remove: "Xóa",
    totp_heading: "Ứng dụng xác thực",
    totp_on: "Đang bật.",
    totp_off: "Chưa thiết lập.",
    tokens_heading: "Thiết bị OTP",
    tokens_note: "Thiết bị do quản trị viên đơn vị cấp. Nếu mất thiết bị, hãy báo ngay để quản trị viên thu hồi.",
    token_disabled: "đang tạm khóa",
    recovery_heading: "Mã khôi phục",
    recovery_left: "Số mã còn lại",
    regenerate: "Tạo bộ mã mới",
    history_heading: "Hoạt động đăng nhập gần đây",
    signing_heading: "Lịch sử ký số",
    no_signing: "Chưa có yêu cầu ký số nào.",
    signing_waiting: "Các yêu cầu đang chờ bạn ký",
    sign_out: "Đăng xuất",
    needs_level_2: "Để thay đổi các phương thức đăng nhập, hãy xác thực lại (bằng yếu tố thứ hai nếu bạn đã có) trong vòng 15 phút trước đó.",
    done: "Đã lưu thay đổi.",
    js_needed: "Khóa truy cập cần trình duyệt có bật JavaScript.",
};

pub const EN: StrongText = StrongText {
    factor_title: "Second step",
    factor_lead: "This application needs a higher level of assurance. Confirm with a second factor.",
    use_passkey: "Use a passkey",
    use_passkey_help: "Your phone, computer or security key will ask for a fingerprint, your face or a PIN.",
    totp_label: "6-digit code from your authenticator app",
    totp_help: "Open your authenticator app (Google Authenticator, Microsoft Authenticator…) and type the code it shows.",
    token_label: "Code from your OTP token",
    token_help: "Type the code your OTP token from your unit shows (press its button first, if it has one).",
    code_label_any: "Code from your authenticator app or OTP token",
    code_help_any: "Type the code your authenticator app, or the OTP token from your unit, shows.",
    verify_button: "Confirm",
    recovery_label: "Recovery code",
    recovery_help: "Each recovery code works once.",
    or: "or",
    wrong_code: "The code is wrong or was already used. Please try again.",
    too_many: "Too many wrong attempts. Please try again in a few minutes.",
    step_expired: "The sign-in expired. Please sign in again.",
    passkey_failed: "The passkey could not be verified.",
    enrol_title: "Set up two-factor authentication",
    enrol_lead: "Your account must use two-factor authentication. Set up a passkey or an authenticator app to continue.",
    enrol_passkey_heading: "Passkey (recommended)",
    enrol_passkey_help: "Use a fingerprint, your face or a PIN on your phone or computer, or a USB/NFC security key.",
    passkey_name_label: "Name",
    passkey_name_default: "Passkey",
    add_passkey: "Add a passkey",
    enrol_totp_heading: "Authenticator app",
    enrol_totp_help: "Use an app on your phone that shows 6-digit codes.",
    start_totp: "Set up an authenticator app",
    scan_qr: "Scan the QR code with your authenticator app, or type the secret key below.",
    secret_label: "Secret key",
    confirm_code_label: "Type the 6-digit code the app shows",
    confirm_button: "Confirm and turn on",
    codes_title: "Recovery codes",
    codes_lead: "Print these codes or keep them somewhere safe. Each works once when you have neither your phone nor your security key. They are shown only this once.",
    continue_button: "Continue",
    account_title: "My account",
    profile_heading: "Profile",
    name_label: "Full name",
    username_label: "Username",
    email_label: "E-mail",
    phone_label: "Phone",
    unit_label: "Unit",
    roles_label: "Roles",
    level_label: "Level of assurance of this session",
    level_1: "Level 1 (password)",
    level_2: "Level 2 (two factors or a passkey)",
    step_up_link: "Authenticate again to change your sign-in methods",
    factor_locked: "Your second factor is locked for now after too many wrong codes. If that was not you, change your password and tell your unit's administrator (who can unlock it). One more attempt opens at:",
    factor_failures: "Wrong codes recently (with no right one since):",
    sessions_heading: "Active sessions",
    this_device: "this device",
    started: "Started",
    last_seen: "Last active",
    end_session: "End session",
    passkeys_heading: "Passkeys",
    no_passkeys: "No passkeys yet.",
    synced: "synced across devices",
    device_bound: "bound to one device",
    last_used: "Last used",
    never: "never",
    rename: "Rename",
    remove: "Remove",
    totp_heading: "Authenticator app",
    totp_on: "On.",
    totp_off: "Not set up.",
    tokens_heading: "OTP tokens",
    tokens_note: "Your unit's administrator gave you these. If you lose one, tell them at once so that they withdraw it.",
    token_disabled: "turned off",
    recovery_heading: "Recovery codes",
    recovery_left: "Codes left",
    regenerate: "Make new codes",
    history_heading: "Recent sign-in activity",
    signing_heading: "Signing history",
    no_signing: "No signing requests yet.",
    signing_waiting: "Requests waiting for your signature",
    sign_out: "Sign out",
    needs_level_2: "To change your sign-in methods, authenticate again (with your second factor, if you have one) within the previous 15 minutes.",
    done: "Changes saved.",
    js_needed: "Passkeys need a browser with JavaScript turned on.",
};

pub fn text(lang: Lang) -> &'static StrongText {
    match lang {
        Lang::Vi => &VI,
        Lang::En => &EN,
    }
}

#[derive(Serialize)]
struct Ctx<'a, T: Serialize> {
    #[serde(flatten)]
    base: Base,
    m: &'static StrongText,
    #[serde(flatten)]
    view: &'a T,
}

impl Pages {
    /// Renders one of the strong-authentication templates with `view` as its context.
    pub fn strong<T: Serialize>(
        &self,
        lang: Lang,
        template: &str,
        path_and_query: &str,
        view: &T,
    ) -> String {
        let ctx = Value::from(Serde(Ctx {
            base: Base::new(lang, path_and_query),
            m: text(lang),
            view,
        }));
        self.render_or_fallback(lang, template, ctx)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    const HOSTILE: &str = "<script>alert(1)</script>\"'&";

    /// Every strong-authentication page renders in both languages (not the fallback page), and
    /// what people or browsers control (passkey names, user agents, codes) is escaped.
    #[test]
    fn pages_render_in_both_languages_and_escape_what_people_control() {
        let pages = Pages::new();
        let totp = json!({ "qr_svg": "<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>", "secret_base32": HOSTILE });
        let account = json!({
            "csrf_token": HOSTILE, "display_name": HOSTILE, "username": HOSTILE,
            "email": HOSTILE, "phone": null, "unit": HOSTILE, "roles": [HOSTILE],
            "level": 1, "amr": ["pwd"], "can_manage": true, "has_factor": true,
            "passkeys": [{ "id": HOSTILE, "name": HOSTILE, "synced": true, "last_used": null }],
            "totp_on": false, "totp": totp, "totp_confirm_action": "/account/totp/confirm",
            "otp_tokens": [{ "serial": HOSTILE, "kind": "HOTP", "last_used": null, "disabled": true }],
            "req": null, "recovery_left": 3,
            "sessions": [{ "sid": HOSTILE, "current": true, "user_agent": HOSTILE, "device": HOSTILE,
                           "source_ip": HOSTILE, "created": "x", "last_seen": "y" }],
            "history": [{ "event": HOSTILE, "what": HOSTILE, "at": "x", "source_ip": HOSTILE,
                         "outcome": "x", "failed": true }],
            "signing": [{ "id": "r1", "title": HOSTILE, "client_name": HOSTILE, "status": "signed",
                          "status_text": "x", "at": "y" }],
            "done": true, "error": null,
            "pw": crate::pages::password::VI,
            "factor_lock": { "failures": 5, "locked_until": HOSTILE },
        });
        let factor = json!({
            "req": HOSTILE, "csrf_token": HOSTILE, "display_name": HOSTILE, "username": HOSTILE,
            "has_passkey": true, "has_totp": true, "has_token": true, "recovery_left": 2, "error": HOSTILE,
        });
        let enrol = json!({
            "req": HOSTILE, "csrf_token": HOSTILE, "display_name": HOSTILE, "username": HOSTILE,
            "totp": totp, "totp_confirm_action": "/login/enrol/totp/confirm", "error": null,
        });
        let codes = json!({ "codes": [HOSTILE], "continue_path": "/account", "req": null });
        for lang in [Lang::Vi, Lang::En] {
            for (name, view, marker) in [
                ("account.html", &account, "id=\"factor-lock\""),
                ("factor.html", &factor, "id=\"passkey-verify\""),
                ("enrol.html", &enrol, "id=\"passkey-add\""),
                ("recovery_codes.html", &codes, "id=\"recovery-codes\""),
            ] {
                let html = pages.strong(lang, name, "/account", view);
                assert!(html.contains(marker), "{name}: {html}");
                assert!(!html.contains("<script>"), "{name}: {html}");
                assert!(html.contains("&lt;script&gt;"), "{name}");
                let m = text(lang);
                assert!(html.contains(m.continue_button) || name != "recovery_codes.html");
                // Hardware tokens: listed on the account, and their codes asked for with the app's.
                assert!(name != "account.html" || html.contains(m.token_disabled));
                assert!(name != "factor.html" || html.contains(m.code_label_any));
            }
        }
    }
}
