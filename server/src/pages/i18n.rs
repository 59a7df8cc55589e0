//! Message catalogue (Vietnamese and English).
//!
//! Fixed strings live in [`Catalogue`], one constant per language, so a missing
//! translation is a compile error. Strings that depend on a view (error kinds, login
//! errors with a delay) are produced by the functions below.

use serde::Serialize;

use super::Lang;
use super::views::{ErrorKind, LoginError};

/// Fixed interface strings, exposed to templates as `t`.
#[derive(Debug, Serialize)]
pub(crate) struct Catalogue {
    pub site_header: &'static str,
    pub skip_to_content: &'static str,
    pub language_nav: &'static str,
    pub footer_security: &'static str,
    pub fallback_error: &'static str,

    pub login_title: &'static str,
    pub login_heading: &'static str,
    pub continue_to: &'static str,
    pub username_label: &'static str,
    pub password_label: &'static str,
    pub sign_in_button: &'static str,
    pub passkey_sign_in: &'static str,
    pub login_help: &'static str,

    pub details_label: &'static str,
    pub error_code_label: &'static str,

    pub signed_in_title: &'static str,
    pub signed_in_heading: &'static str,
    pub signed_in_as: &'static str,
    pub signed_in_hint: &'static str,

    pub logout_title: &'static str,
    pub logout_question: &'static str,
    pub logout_requested_by: &'static str,
    pub logout_explain: &'static str,
    pub logout_button: &'static str,
    pub logout_cancel: &'static str,

    pub signed_out_title: &'static str,
    pub signed_out_heading: &'static str,
    pub signed_out_hint: &'static str,
}

const CONTACT_IT_VI: &str = "Vui lòng liên hệ bộ phận quản trị công nghệ thông tin của đơn vị bạn.";
const CONTACT_IT_EN: &str = "Please contact your unit’s IT administrator.";

pub(crate) const VI: Catalogue = Catalogue {
    site_header: "Tessera — Cổng định danh và xác thực dùng chung",
    skip_to_content: "Bỏ qua, đến nội dung chính",
    language_nav: "Ngôn ngữ",
    footer_security: "Không chia sẻ mật khẩu với bất kỳ ai. Tessera không bao giờ hỏi mật khẩu \
                      của bạn qua điện thoại hoặc thư điện tử.",
    fallback_error: "Đã xảy ra lỗi hệ thống. Vui lòng thử lại sau.",

    login_title: "Đăng nhập",
    login_heading: "Đăng nhập",
    continue_to: "Đăng nhập để tiếp tục vào",
    username_label: "Tên đăng nhập",
    password_label: "Mật khẩu",
    sign_in_button: "Đăng nhập",
    passkey_sign_in: "Đăng nhập bằng khóa truy cập (passkey)",
    login_help: "Nếu bạn quên mật khẩu hoặc không đăng nhập được, vui lòng liên hệ bộ phận \
                 quản trị công nghệ thông tin của đơn vị bạn.",

    details_label: "Chi tiết",
    error_code_label: "Mã lỗi",

    signed_in_title: "Đã đăng nhập",
    signed_in_heading: "Bạn đã đăng nhập",
    signed_in_as: "Bạn đang đăng nhập với tài khoản",
    signed_in_hint: "Bạn có thể quay lại ứng dụng đang sử dụng hoặc đóng trang này.",

    logout_title: "Đăng xuất",
    logout_question: "Bạn có muốn đăng xuất khỏi Tessera không?",
    logout_requested_by: "Yêu cầu đăng xuất đến từ",
    logout_explain: "Bạn sẽ được đăng xuất khỏi Tessera và khỏi mọi ứng dụng đã đăng nhập qua \
                     Tessera trong trình duyệt này.",
    logout_button: "Đăng xuất",
    logout_cancel: "Không, tiếp tục phiên làm việc",

    signed_out_title: "Đã đăng xuất",
    signed_out_heading: "Bạn đã đăng xuất",
    signed_out_hint: "Bạn đã đăng xuất khỏi Tessera và các ứng dụng dùng chung phiên đăng nhập. \
                      Nếu bạn dùng máy tính chung, hãy đóng trình duyệt.",
};

pub(crate) const EN: Catalogue = Catalogue {
    site_header: "Tessera — Shared identity and sign-on platform",
    skip_to_content: "Skip to main content",
    language_nav: "Language",
    footer_security: "Never share your password with anyone. Tessera will never ask for your \
                      password by phone or email.",
    fallback_error: "A system error occurred. Please try again later.",

    login_title: "Sign in",
    login_heading: "Sign in",
    continue_to: "Sign in to continue to",
    username_label: "Username",
    password_label: "Password",
    sign_in_button: "Sign in",
    passkey_sign_in: "Sign in with a passkey",
    login_help: "If you have forgotten your password or cannot sign in, please contact your \
                 unit’s IT administrator.",

    details_label: "Details",
    error_code_label: "Error code",

    signed_in_title: "Signed in",
    signed_in_heading: "You are signed in",
    signed_in_as: "You are signed in as",
    signed_in_hint: "You can go back to the application you were using, or close this page.",

    logout_title: "Sign out",
    logout_question: "Do you want to sign out of Tessera?",
    logout_requested_by: "The request to sign out comes from",
    logout_explain: "You will be signed out of Tessera and of every application you signed in \
                     to through Tessera in this browser.",
    logout_button: "Sign out",
    logout_cancel: "No, stay signed in",

    signed_out_title: "Signed out",
    signed_out_heading: "You are signed out",
    signed_out_hint: "You are signed out of Tessera and of the applications that shared your \
                      sign-in. If you are using a shared computer, close the browser.",
};

pub(crate) fn catalogue(lang: Lang) -> &'static Catalogue {
    match lang {
        Lang::Vi => &VI,
        Lang::En => &EN,
    }
}

/// The message shown above the login form.
pub(crate) fn login_error_message(lang: Lang, error: LoginError) -> String {
    match (lang, error) {
        (Lang::Vi, LoginError::BadCredentials) => {
            "Tên đăng nhập hoặc mật khẩu không đúng.".to_owned()
        }
        (Lang::En, LoginError::BadCredentials) => "Incorrect username or password.".to_owned(),
        (lang, LoginError::TooManyAttempts { retry_after_secs }) => {
            let wait = duration_phrase(lang, retry_after_secs);
            match lang {
                Lang::Vi => format!(
                    "Bạn đã đăng nhập không thành công quá nhiều lần. Vui lòng thử lại sau {wait}."
                ),
                Lang::En => {
                    format!("Too many unsuccessful sign-in attempts. Please try again in {wait}.")
                }
            }
        }
        (Lang::Vi, LoginError::AccountDisabled) => {
            format!("Tài khoản của bạn đã bị vô hiệu hóa. {CONTACT_IT_VI}")
        }
        (Lang::En, LoginError::AccountDisabled) => {
            format!("Your account has been disabled. {CONTACT_IT_EN}")
        }
        (Lang::Vi, LoginError::SessionExpired) => "Phiên đăng nhập đã hết hạn. Vui lòng quay lại \
                                                   ứng dụng bạn đang sử dụng và bắt đầu lại."
            .to_owned(),
        (Lang::En, LoginError::SessionExpired) => "Your sign-in session has expired. Please go \
                                                   back to the application you were using and \
                                                   start again."
            .to_owned(),
    }
}

/// "45 giây", "3 phút", "1 minute", "2 minutes"… Rounded up to whole minutes from one
/// minute on, so the user never comes back too early.
fn duration_phrase(lang: Lang, secs: u64) -> String {
    let secs = secs.max(1);
    if secs < 60 {
        match lang {
            Lang::Vi => format!("{secs} giây"),
            Lang::En if secs == 1 => "1 second".to_owned(),
            Lang::En => format!("{secs} seconds"),
        }
    } else {
        let mins = secs.div_ceil(60);
        match lang {
            Lang::Vi => format!("{mins} phút"),
            Lang::En if mins == 1 => "1 minute".to_owned(),
            Lang::En => format!("{mins} minutes"),
        }
    }
}

/// The label of an upstream's button: "Đăng nhập bằng VNeID".
pub(crate) fn upstream_sign_in(lang: Lang, name: &str) -> String {
    match lang {
        Lang::Vi => format!("Đăng nhập bằng {name}"),
        Lang::En => format!("Sign in with {name}"),
    }
}

/// Title and explanation of an error page.
pub(crate) fn error_text(lang: Lang, kind: ErrorKind) -> (&'static str, String) {
    match lang {
        Lang::Vi => match kind {
            ErrorKind::UnknownClient => (
                "Ứng dụng chưa được đăng ký",
                format!(
                    "Ứng dụng bạn đang sử dụng chưa được đăng ký với nền tảng Tessera, nên không \
                     thể đăng nhập qua Tessera. {CONTACT_IT_VI}"
                ),
            ),
            ErrorKind::InvalidRedirectUri => (
                "Địa chỉ quay lại không hợp lệ",
                format!(
                    "Địa chỉ quay lại của ứng dụng chưa được đăng ký với Tessera. Để bảo đảm an \
                     toàn, Tessera không chuyển bạn trở lại ứng dụng. {CONTACT_IT_VI}"
                ),
            ),
            ErrorKind::BadRequest => (
                "Yêu cầu không hợp lệ",
                "Yêu cầu gửi đến Tessera không hợp lệ hoặc thiếu thông tin. Vui lòng quay lại \
                 ứng dụng bạn đang sử dụng và thử lại."
                    .to_owned(),
            ),
            ErrorKind::CsrfFailed => (
                "Biểu mẫu không còn hợp lệ",
                "Biểu mẫu đã hết hạn hoặc đã bị thay đổi. Vui lòng tải lại trang và thử lại."
                    .to_owned(),
            ),
            ErrorKind::RequestExpired => (
                "Yêu cầu đăng nhập đã hết hạn",
                "Yêu cầu đăng nhập đã hết hạn. Vui lòng quay lại ứng dụng bạn đang sử dụng và \
                 đăng nhập lại từ đầu."
                    .to_owned(),
            ),
            ErrorKind::NotFound => (
                "Không tìm thấy trang",
                "Trang bạn yêu cầu không tồn tại. Vui lòng kiểm tra lại địa chỉ.".to_owned(),
            ),
            ErrorKind::TooManyRequests => (
                "Quá nhiều yêu cầu",
                "Bạn đã gửi quá nhiều yêu cầu trong một thời gian ngắn. Vui lòng đợi một lát rồi \
                 thử lại."
                    .to_owned(),
            ),
            ErrorKind::Internal => (
                "Lỗi hệ thống",
                format!(
                    "Đã xảy ra lỗi trong hệ thống. Vui lòng thử lại sau. Nếu lỗi vẫn tiếp diễn, \
                     {}",
                    lowercase_first(CONTACT_IT_VI)
                ),
            ),
            ErrorKind::Unavailable => (
                "Dịch vụ ký số tạm thời gián đoạn",
                "Thiết bị lưu giữ khóa ký số (HSM) tạm thời không phản hồi. Vui lòng đợi vài giây rồi thử lại; bạn không cần đăng nhập lại."
                    .to_owned(),
            ),
            ErrorKind::WrongAudience => (
                "Ứng dụng không dành cho tài khoản này",
                "Ứng dụng này chỉ dành cho cán bộ, công chức (hoặc chỉ dành cho công dân), nên \
                 tài khoản bạn vừa đăng nhập không được sử dụng ứng dụng này. Vui lòng dùng cổng \
                 dịch vụ công dành cho bạn."
                    .to_owned(),
            ),
            ErrorKind::UpstreamUnavailable => (
                "Không kết nối được nhà cung cấp định danh",
                "Tessera không kết nối được với nhà cung cấp định danh (ví dụ VNeID). Chưa có tài \
                 khoản nào được tạo. Vui lòng thử lại sau ít phút."
                    .to_owned(),
            ),
            ErrorKind::UpstreamRejected => (
                "Không xác minh được kết quả đăng nhập",
                "Kết quả đăng nhập do nhà cung cấp định danh gửi về không hợp lệ, nên Tessera \
                 không chấp nhận. Chưa có tài khoản nào được tạo. Vui lòng đăng nhập lại từ đầu."
                    .to_owned(),
            ),
        },
        Lang::En => match kind {
            ErrorKind::UnknownClient => (
                "Application not registered",
                format!(
                    "The application you are using is not registered with the Tessera platform, \
                     so it cannot sign you in through Tessera. {CONTACT_IT_EN}"
                ),
            ),
            ErrorKind::InvalidRedirectUri => (
                "Invalid return address",
                format!(
                    "The application’s return address is not registered with Tessera. For your \
                     security, Tessera does not send you back to the application. {CONTACT_IT_EN}"
                ),
            ),
            ErrorKind::BadRequest => (
                "Invalid request",
                "The request sent to Tessera is invalid or incomplete. Please go back to the \
                 application you were using and try again."
                    .to_owned(),
            ),
            ErrorKind::CsrfFailed => (
                "The form is no longer valid",
                "The form has expired or was tampered with. Please reload the page and try again."
                    .to_owned(),
            ),
            ErrorKind::RequestExpired => (
                "Sign-in request expired",
                "Your sign-in request has expired. Please go back to the application you were \
                 using and sign in again from the start."
                    .to_owned(),
            ),
            ErrorKind::NotFound => (
                "Page not found",
                "The page you requested does not exist. Please check the address.".to_owned(),
            ),
            ErrorKind::TooManyRequests => (
                "Too many requests",
                "You have sent too many requests in a short time. Please wait a moment and try \
                 again."
                    .to_owned(),
            ),
            ErrorKind::Internal => (
                "System error",
                format!(
                    "Something went wrong on our side. Please try again later. If the problem \
                     persists, {}",
                    lowercase_first(CONTACT_IT_EN)
                ),
            ),
            ErrorKind::Unavailable => (
                "The signing service is temporarily unavailable",
                "The device that keeps the signing keys (HSM) is not answering for the moment. Please wait a few seconds and try again; you do not need to sign in again."
                    .to_owned(),
            ),
            ErrorKind::WrongAudience => (
                "This application is not for this account",
                "This application is only for officials (or only for citizens), so the account \
                 you signed in with cannot use it. Please use the portal meant for you."
                    .to_owned(),
            ),
            ErrorKind::UpstreamUnavailable => (
                "The identity provider cannot be reached",
                "Tessera cannot reach the identity provider (such as VNeID). No account was \
                 created. Please try again in a few minutes."
                    .to_owned(),
            ),
            ErrorKind::UpstreamRejected => (
                "The sign-in could not be verified",
                "The identity provider's answer was not valid, so Tessera did not accept it. No \
                 account was created. Please sign in again from the start."
                    .to_owned(),
            ),
        },
    }
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
