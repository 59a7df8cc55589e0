//! Pages of remote signing: the official's waiting requests and the approval page. Their
//! strings live in [`SigningText`], one constant per language.

use minijinja::Value;
use minijinja::value::Serde;
use serde::Serialize;

use super::{Base, Lang, Pages, strong};

#[derive(Debug, Serialize)]
pub struct SigningText {
    pub list_title: &'static str,
    pub list_empty: &'static str,
    pub open: &'static str,
    pub request_title: &'static str,
    pub back_to_list: &'static str,
    pub asked_by: &'static str,
    pub created_label: &'static str,
    pub expires_label: &'static str,
    pub decided_label: &'static str,
    pub status_label: &'static str,
    pub documents_heading: &'static str,
    pub documents_count: &'static str,
    pub kind_pdf: &'static str,
    pub kind_data: &'static str,
    pub kind_hash: &'static str,
    pub preview_title: &'static str,
    pub open_pdf: &'static str,
    pub credential_heading: &'static str,
    pub subject_label: &'static str,
    pub issuer_label: &'static str,
    pub serial_label: &'static str,
    pub validity_label: &'static str,
    pub validity_to: &'static str,
    pub credential_unusable: &'static str,
    pub approve_heading: &'static str,
    pub approve_lead: &'static str,
    pub use_passkey: &'static str,
    /// The code field's label for an official with an authenticator app and an OTP token,
    /// the app only, the token only.
    pub code_label: &'static str,
    pub code_label_app: &'static str,
    pub code_label_token: &'static str,
    pub approve_button: &'static str,
    pub reject_heading: &'static str,
    pub reject_help: &'static str,
    pub reject_button: &'static str,
    pub handoff_heading: &'static str,
    /// The hand-off's help for an official with a passkey, and without one.
    pub handoff_help: &'static str,
    pub handoff_help_code: &'static str,
    pub progress_label: &'static str,
    pub status_pending: &'static str,
    pub status_approved: &'static str,
    pub status_signed: &'static str,
    pub status_failed: &'static str,
    pub status_rejected: &'static str,
    pub status_expired: &'static str,
    pub status_cancelled: &'static str,
    pub doc_pending: &'static str,
    pub doc_signed: &'static str,
    pub doc_failed: &'static str,
    pub error_expired: &'static str,
    pub error_decided: &'static str,
    pub error_unusable: &'static str,
    pub error_passkey_none: &'static str,
    pub no_factor: &'static str,
}

pub const VI: SigningText = SigningText {
    list_title: "Yêu cầu ký số đang chờ bạn",
    list_empty: "Không có yêu cầu nào đang chờ bạn ký.",
    open: "Xem và quyết định",
    request_title: "Yêu cầu ký số",
    back_to_list: "Các yêu cầu đang chờ",
    asked_by: "Ứng dụng yêu cầu",
    created_label: "Gửi lúc",
    expires_label: "Hạn quyết định",
    decided_label: "Quyết định lúc",
    status_label: "Trạng thái",
    documents_heading: "Tài liệu",
    documents_count: "tài liệu",
    kind_pdf: "Tệp PDF",
    kind_data: "Dữ liệu",
    kind_hash: "Giá trị băm",
    preview_title: "Xem trước tài liệu",
    open_pdf: "Mở tệp PDF",
    credential_heading: "Chứng thư số sẽ dùng để ký",
    subject_label: "Chủ thể",
    issuer_label: "Tổ chức cấp",
    serial_label: "Số hiệu",
    validity_label: "Hiệu lực",
    validity_to: "đến",
    credential_unusable: "Chứng thư số này hiện không dùng để ký được. Hãy liên hệ quản trị viên chứng thư số của đơn vị. Lý do:",
    approve_heading: "Phê duyệt và ký",
    approve_lead: "Để ký, bạn cần xác thực ngay lúc này — phiên đăng nhập hiện tại là chưa đủ.",
    use_passkey: "Phê duyệt bằng khóa truy cập (passkey)",
    code_label: "Mã 6 số từ ứng dụng xác thực hoặc thiết bị tạo mã OTP",
    code_label_app: "Mã 6 số từ ứng dụng xác thực",
    code_label_token: "Mã từ thiết bị tạo mã OTP",
    approve_button: "Phê duyệt và ký",
    reject_heading: "Không đồng ý ký?",
    reject_help: "Ứng dụng sẽ được thông báo rằng bạn từ chối.",
    reject_button: "Từ chối",
    handoff_heading: "Ký trên điện thoại",
    handoff_help: "Máy tính này không có khóa truy cập? Quét mã QR bằng điện thoại, đăng nhập nếu được hỏi rồi phê duyệt trên điện thoại. Trang này sẽ tự cập nhật.",
    handoff_help_code: "Muốn phê duyệt trên điện thoại? Quét mã QR bằng điện thoại, đăng nhập nếu được hỏi rồi phê duyệt ở đó. Trang này sẽ tự cập nhật.",
    progress_label: "Đã xử lý",
    status_pending: "Đang chờ bạn quyết định",
    status_approved: "Đã phê duyệt, đang ký…",
    status_signed: "Đã ký xong",
    status_failed: "Không ký được",
    status_rejected: "Bạn đã từ chối",
    status_expired: "Đã hết hạn: yêu cầu không còn ký được. Hãy đề nghị ứng dụng gửi lại.",
    status_cancelled: "Ứng dụng đã hủy yêu cầu",
    doc_pending: "chờ ký",
    doc_signed: "đã ký",
    doc_failed: "lỗi",
    error_expired: "Yêu cầu này đã hết hạn nên không thể ký nữa. Hãy đề nghị ứng dụng gửi lại yêu cầu.",
    error_decided: "Yêu cầu này đã được quyết định hoặc đã bị hủy, nên không thể phê duyệt hay từ chối nữa.",
    error_unusable: "Chứng thư số của bạn hiện không dùng để ký được. Hãy liên hệ quản trị viên chứng thư số của đơn vị.",
    error_passkey_none: "Tài khoản của bạn chưa có khóa truy cập; hãy dùng mã từ ứng dụng xác thực.",
    no_factor: "Để ký, bạn cần một yếu tố xác thực thứ hai (khóa truy cập, ứng dụng xác thực hoặc thiết bị tạo mã OTP). Hãy thiết lập trong trang",
};

pub const EN: SigningText = SigningText {
    list_title: "Signing requests waiting for you",
    list_empty: "Nothing is waiting for your signature.",
    open: "Review and decide",
    request_title: "Signing request",
    back_to_list: "Waiting requests",
    asked_by: "Requested by",
    created_label: "Sent",
    expires_label: "Decide before",
    decided_label: "Decided",
    status_label: "Status",
    documents_heading: "Documents",
    documents_count: "documents",
    kind_pdf: "PDF file",
    kind_data: "Data",
    kind_hash: "Hash",
    preview_title: "Document preview",
    open_pdf: "Open the PDF",
    credential_heading: "Certificate that will sign",
    subject_label: "Subject",
    issuer_label: "Issuer",
    serial_label: "Serial number",
    validity_label: "Valid",
    validity_to: "to",
    credential_unusable: "This certificate cannot sign now. Contact your unit's certificate administrator. Reason:",
    approve_heading: "Approve and sign",
    approve_lead: "To sign, prove it is you right now — being signed in is not enough.",
    use_passkey: "Approve with a passkey",
    code_label: "6-digit code from your authenticator app or OTP token",
    code_label_app: "6-digit code from your authenticator app",
    code_label_token: "Code from your OTP token",
    approve_button: "Approve and sign",
    reject_heading: "Do not want to sign?",
    reject_help: "The application will be told that you rejected it.",
    reject_button: "Reject",
    handoff_heading: "Sign on your phone",
    handoff_help: "No passkey on this computer? Scan the QR code with your phone, sign in there if asked, and approve on the phone. This page updates by itself.",
    handoff_help_code: "Rather approve on your phone? Scan the QR code with it, sign in there if asked, and approve there. This page updates by itself.",
    progress_label: "Done",
    status_pending: "Waiting for your decision",
    status_approved: "Approved, signing…",
    status_signed: "Signed",
    status_failed: "Signing failed",
    status_rejected: "You rejected it",
    status_expired: "Expired: it can no longer be signed. Ask the application to send it again.",
    status_cancelled: "The application cancelled it",
    doc_pending: "waiting",
    doc_signed: "signed",
    doc_failed: "failed",
    error_expired: "This request expired and can no longer be signed. Ask the application to send it again.",
    error_decided: "This request was already decided or cancelled; it can no longer be approved or rejected.",
    error_unusable: "Your certificate cannot sign now. Contact your unit's certificate administrator.",
    error_passkey_none: "Your account has no passkey; use a code from your authenticator app.",
    no_factor: "Signing needs a second factor (a passkey, an authenticator app or an OTP token). Set one up on",
};

pub fn text(lang: Lang) -> &'static SigningText {
    match lang {
        Lang::Vi => &VI,
        Lang::En => &EN,
    }
}

impl SigningText {
    /// A request's status in words.
    pub fn status(&self, status: &str) -> &'static str {
        match status {
            "pending" => self.status_pending,
            "approved" => self.status_approved,
            "signed" => self.status_signed,
            "failed" => self.status_failed,
            "rejected" => self.status_rejected,
            "expired" => self.status_expired,
            _ => self.status_cancelled,
        }
    }

    /// A document's status in words.
    pub fn document_status(&self, status: &str) -> &'static str {
        match status {
            "signed" => self.doc_signed,
            "failed" => self.doc_failed,
            _ => self.doc_pending,
        }
    }

    /// A document's kind in words.
    pub fn kind(&self, kind: &str) -> &'static str {
        match kind {
            "pdf" => self.kind_pdf,
            "hash" => self.kind_hash,
            _ => self.kind_data,
        }
    }
}

#[derive(Serialize)]
struct Ctx<'a, T: Serialize> {
    #[serde(flatten)]
    base: Base,
    g: &'static SigningText,
    m: &'static strong::StrongText,
    #[serde(flatten)]
    view: &'a T,
}

impl Pages {
    /// Renders one of the signing templates with `view` as its context.
    pub fn signing<T: Serialize>(
        &self,
        lang: Lang,
        template: &str,
        path_and_query: &str,
        view: &T,
    ) -> String {
        let ctx = Value::from(Serde(Ctx {
            base: Base::new(lang, path_and_query),
            g: text(lang),
            m: strong::text(lang),
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

    /// Both signing pages render in both languages (not the fallback page); what applications
    /// control (titles, names, errors) is escaped; the decision forms appear only while pending.
    #[test]
    fn pages_render_in_both_languages_and_escape_what_applications_control() {
        let pages = Pages::new();
        let request = |status: &str, pending: bool| {
            json!({
                "base_path": "/sign/requests/r1", "continue_query": "", "title": HOSTILE, "client_name": HOSTILE,
                "status": status, "status_text": "x", "pending": pending,
                "show_progress": !pending, "refresh": status == "approved", "done": 1, "total": 2,
                "created_at": "a", "expires_at": "b", "decided_at": null,
                "documents": [{ "idx": 0, "name": HOSTILE, "kind_text": "PDF", "sha256": "ab",
                                "status_text": "x", "error": HOSTILE,
                                "preview_url": "/sign/requests/r1/documents/0/preview" }],
                "credential": { "subject": HOSTILE, "issuer": HOSTILE, "serial": "01",
                                "not_before": "c", "not_after": "d", "unusable": HOSTILE },
                "csrf_token": "tok", "has_passkey": true, "has_totp": true, "has_otp_token": true,
                "qr_svg": "<svg id=\"q\"></svg>", "error": "wrong", "code_error": true,
            })
        };
        let list = json!({ "requests": [{ "id": "r1", "title": HOSTILE, "client_name": HOSTILE,
                                          "documents": 2, "expires_at": "b" }] });
        for lang in [Lang::Vi, Lang::En] {
            let g = text(lang);
            let html = pages.signing(lang, "sign_list.html", "/sign/requests", &list);
            assert!(html.contains(g.list_title) && html.contains("href=\"/sign/requests/r1\""));
            assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"));

            let html = pages.signing(lang, "sign_request.html", "/x", &request("pending", true));
            for marker in [
                "id=\"approve-form\"",
                "id=\"passkey-approve\"",
                "id=\"reject-button\"",
                "<svg id=\"q\"></svg>",
                "<script src=\"/static/signing.js\" defer></script>",
                "aria-invalid=\"true\"",
                g.approve_button,
            ] {
                assert!(html.contains(marker), "{marker}: {html}");
            }
            assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"));
            assert!(!html.contains("http-equiv"));

            // Only the factors the official has are offered, each with its own words.
            let factors = |passkey: bool, totp: bool, token: bool| {
                let mut v = request("pending", true);
                v["has_passkey"] = json!(passkey);
                v["has_totp"] = json!(totp);
                v["has_otp_token"] = json!(token);
                pages.signing(lang, "sign_request.html", "/x", &v)
            };
            let html = factors(false, true, false);
            assert!(!html.contains("passkey-approve") && !html.contains(g.handoff_help));
            assert!(html.contains(g.code_label_app) && html.contains(g.handoff_help_code));
            let html = factors(false, false, true);
            assert!(!html.contains("passkey-approve") && html.contains(g.code_label_token));
            let html = factors(true, false, false);
            assert!(html.contains("passkey-approve") && !html.contains("approve-form"));
            assert!(html.contains(g.handoff_help));
            let html = factors(false, false, false);
            assert!(html.contains("id=\"no-factor\"") && !html.contains("approve-form"));
            assert!(!html.contains("passkey-approve"));

            let html = pages.signing(lang, "sign_request.html", "/x", &request("approved", false));
            assert!(html.contains("<progress id=\"progress\" max=\"2\" value=\"1\">"));
            assert!(html.contains("http-equiv=\"refresh\""));
            assert!(!html.contains("approve-form") && !html.contains("reject-button"));
        }
    }
}
