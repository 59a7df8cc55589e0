//! Audit events as the person reads them in their recent activity ("Đăng nhập thành công"),
//! instead of the stable names (`login.success`) kept for the SOC and the console's filters.

use super::Lang;

/// `(event, Vietnamese, English)` for every event a person's own history shows.
const PHRASES: &[(&str, &str, &str)] = &[
    ("login.success", "Đăng nhập thành công", "Signed in"),
    (
        "login.failure",
        "Đăng nhập thất bại (sai tên hoặc mật khẩu)",
        "Sign-in failed (wrong username or password)",
    ),
    (
        "login.throttled",
        "Đăng nhập bị tạm chặn do thử sai nhiều lần",
        "Sign-in blocked after too many attempts",
    ),
    (
        "login.disabled",
        "Đăng nhập vào tài khoản đã bị khóa",
        "Sign-in to a disabled account",
    ),
    (
        "password.confirm.failure",
        "Xác nhận mật khẩu thất bại",
        "Password confirmation failed",
    ),
    (
        "password.confirm.throttled",
        "Xác nhận mật khẩu bị tạm chặn",
        "Password confirmation blocked",
    ),
    (
        "password.confirm.disabled",
        "Xác nhận mật khẩu của tài khoản đã bị khóa",
        "Password confirmation by a disabled account",
    ),
    ("password.changed", "Đổi mật khẩu", "Password changed"),
    (
        "mfa.step_up",
        "Xác thực bước hai để nâng mức bảo đảm",
        "Second factor proven to raise the level",
    ),
    (
        "mfa.failure",
        "Xác thực bước hai thất bại",
        "Second factor refused",
    ),
    (
        "mfa.locked",
        "Tạm khóa xác thực bước hai do nhập sai nhiều lần",
        "Second factor locked after too many wrong codes",
    ),
    (
        "mfa.reset",
        "Quản trị viên xóa mọi phương thức xác thực bước hai",
        "An administrator removed every second factor",
    ),
    (
        "mfa.totp.enrolled",
        "Thêm ứng dụng xác thực",
        "Authenticator app added",
    ),
    (
        "mfa.totp.removed",
        "Gỡ ứng dụng xác thực",
        "Authenticator app removed",
    ),
    (
        "mfa.otp_token.imported",
        "Được cấp thiết bị OTP",
        "Hardware OTP token issued",
    ),
    (
        "mfa.otp_token.removed",
        "Thu hồi thiết bị OTP",
        "Hardware OTP token withdrawn",
    ),
    (
        "mfa.otp_token.disabled",
        "Tạm ngừng thiết bị OTP",
        "Hardware OTP token turned off",
    ),
    (
        "mfa.otp_token.enabled",
        "Bật lại thiết bị OTP",
        "Hardware OTP token turned on",
    ),
    (
        "mfa.otp_token.resynced",
        "Đồng bộ lại thiết bị OTP",
        "Hardware OTP token resynchronised",
    ),
    (
        "mfa.passkey.registered",
        "Thêm khóa truy cập",
        "Passkey added",
    ),
    (
        "mfa.passkey.renamed",
        "Đổi tên khóa truy cập",
        "Passkey renamed",
    ),
    ("mfa.passkey.removed", "Gỡ khóa truy cập", "Passkey removed"),
    (
        "mfa.recovery_codes.generated",
        "Tạo bộ mã khôi phục mới",
        "New recovery codes generated",
    ),
    (
        "mfa.recovery_code.used",
        "Dùng một mã khôi phục",
        "A recovery code was used",
    ),
    ("logout", "Đăng xuất", "Signed out"),
];

/// The phrase for `event`, or the stable name itself for an event without one.
pub fn phrase(event: &str, lang: Lang) -> String {
    match PHRASES.iter().find(|(name, _, _)| *name == event) {
        Some((_, vi, en)) => match lang {
            Lang::Vi => (*vi).to_owned(),
            Lang::En => (*en).to_owned(),
        },
        None => event.to_owned(),
    }
}

/// "Thành công" / "Không thành công" for an entry's stored outcome.
pub fn outcome(outcome: &str, lang: Lang) -> &'static str {
    match (outcome, lang) {
        ("success", Lang::Vi) => "Thành công",
        ("success", Lang::En) => "Succeeded",
        (_, Lang::Vi) => "Không thành công",
        (_, Lang::En) => "Failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::audit::Event;

    /// Every event a person's history can show has a phrase in both languages, and only
    /// events that exist are listed.
    #[test]
    fn every_history_event_has_a_phrase() {
        for e in Event::ALL {
            let name = e.as_str();
            if tessera_core::account::HISTORY
                .iter()
                .any(|p| name.starts_with(p))
            {
                assert_ne!(phrase(name, Lang::Vi), name, "{name}");
                assert_ne!(phrase(name, Lang::En), name, "{name}");
            }
        }
        for (name, _, _) in PHRASES {
            assert!(Event::ALL.iter().any(|e| e.as_str() == *name), "{name}");
        }
        assert_eq!(phrase("login.success", Lang::Vi), "Đăng nhập thành công");
        assert_eq!(phrase("no.such", Lang::En), "no.such");
        assert_eq!(outcome("failure", Lang::Vi), "Không thành công");
    }
}
