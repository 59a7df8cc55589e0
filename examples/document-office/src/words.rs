//! Every word the pages show, in Vietnamese (the default) and English.

use axum::http::HeaderMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Vi,
    En,
}

impl Lang {
    /// The language chosen with the switch (cookie `lang`), Vietnamese otherwise.
    pub fn of(headers: &HeaderMap) -> Lang {
        let chosen = headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().strip_prefix("lang="))
            .next_back();
        match chosen {
            Some("en") => Lang::En,
            _ => Lang::Vi,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    pub fn words(self) -> &'static Words {
        match self {
            Lang::Vi => &VI,
            Lang::En => &EN,
        }
    }
}

pub struct Words {
    pub switch_label: &'static str,
    pub switch_to: &'static str,
    pub welcome: &'static str,
    pub welcome_text: &'static str,
    pub sign_in: &'static str,
    pub sign_out: &'static str,
    pub documents: &'static str,
    pub no_documents: &'static str,
    pub upload: &'static str,
    pub title: &'static str,
    pub pdf_file: &'static str,
    pub upload_button: &'static str,
    pub uploaded_by: &'static str,
    pub uploaded_at: &'static str,
    pub status: &'static str,
    pub not_requested: &'static str,
    pub request_signature: &'static str,
    pub signer: &'static str,
    pub signer_help: &'static str,
    pub anchor: &'static str,
    pub anchor_help: &'static str,
    pub request_button: &'static str,
    pub progress: &'static str,
    pub approval_link: &'static str,
    pub approval_help: &'static str,
    pub download_original: &'static str,
    pub download_signed: &'static str,
    pub report: &'static str,
    pub report_json: &'static str,
    pub signed_by: &'static str,
    pub verdict: &'static str,
    pub back: &'static str,
    pub error_title: &'static str,
    pub not_found: &'static str,
    pub bad_form: &'static str,
    pub not_pdf: &'static str,
    pub too_large: &'static str,
    pub no_title: &'static str,
    pub no_signer: &'static str,
    pub tessera_refused: &'static str,
    pub tessera_unreachable: &'static str,
    pub internal: &'static str,
    pub expires: &'static str,
}

impl Words {
    /// A signing status in words.
    /// Why Tessera refused, in words, from the error code of its answer (its
    /// `error_description` is English, meant for the application's team: it goes to the log).
    pub fn refusal(&self, error: &str) -> &'static str {
        let vi = std::ptr::eq(self, &VI);
        match (error, vi) {
            ("not_found", true) => {
                "không tìm thấy người ký này, hoặc người đó không thuộc các đơn vị ứng dụng được phép yêu cầu ký"
            }
            ("not_found", false) => {
                "this signer does not exist, or is outside the units the application may ask for signatures"
            }
            ("access_denied" | "insufficient_scope", true) => {
                "ứng dụng không được phép yêu cầu chữ ký của người này"
            }
            ("access_denied" | "insufficient_scope", false) => {
                "the application may not ask this person for signatures"
            }
            ("credential_unusable", true) => "người ký chưa có chứng thư số còn hiệu lực",
            ("credential_unusable", false) => "the signer has no usable signing certificate",
            ("invalid_state", true) => "yêu cầu ký không còn ở trạng thái cho phép thao tác này",
            ("invalid_state", false) => {
                "the signing request is no longer in a state that allows this"
            }
            ("temporarily_unavailable", true) => {
                "dịch vụ ký tạm thời không sẵn sàng, hãy thử lại sau"
            }
            ("temporarily_unavailable", false) => {
                "the signing service is unavailable for now; try again later"
            }
            (_, true) => "yêu cầu không hợp lệ",
            (_, false) => "the request is not valid",
        }
    }

    pub fn status_name(&self, status: &str) -> &'static str {
        let vi = std::ptr::eq(self, &VI);
        match (status, vi) {
            ("pending", true) => "Chờ phê duyệt",
            ("pending", false) => "Waiting for approval",
            ("approved", true) => "Đã phê duyệt, đang ký",
            ("approved", false) => "Approved, signing",
            ("signed", true) => "Đã ký",
            ("signed", false) => "Signed",
            ("rejected", true) => "Bị từ chối",
            ("rejected", false) => "Rejected",
            ("expired", true) => "Hết hạn",
            ("expired", false) => "Expired",
            ("cancelled", true) => "Đã huỷ",
            ("cancelled", false) => "Cancelled",
            ("failed", true) => "Ký không thành công",
            ("failed", false) => "Signing failed",
            (_, true) => "Không rõ",
            (_, false) => "Unknown",
        }
    }

    /// A verification verdict in words.
    pub fn verdict_name(&self, indication: &str) -> &'static str {
        let vi = std::ptr::eq(self, &VI);
        match (indication, vi) {
            ("TOTAL-PASSED", true) => "Hợp lệ",
            ("TOTAL-PASSED", false) => "Valid",
            ("TOTAL-FAILED", true) => "Không hợp lệ",
            ("TOTAL-FAILED", false) => "Invalid",
            (_, true) => "Chưa xác định",
            (_, false) => "Indeterminate",
        }
    }
}

static VI: Words = Words {
    switch_label: "English",
    switch_to: "en",
    welcome: "Quản lý văn bản",
    welcome_text: "Đăng nhập một lần bằng tài khoản công vụ để xem văn bản của đơn vị, tải lên văn bản PDF và trình lãnh đạo ký số.",
    sign_in: "Đăng nhập",
    sign_out: "Đăng xuất",
    documents: "Văn bản của đơn vị",
    no_documents: "Chưa có văn bản nào.",
    upload: "Tải lên văn bản",
    title: "Trích yếu",
    pdf_file: "Tệp PDF",
    upload_button: "Tải lên",
    uploaded_by: "Người tải lên",
    uploaded_at: "Thời gian",
    status: "Trạng thái ký",
    not_requested: "Chưa trình ký",
    request_signature: "Trình ký",
    signer: "Người ký (tên đăng nhập)",
    signer_help: "Cán bộ của đơn vị có chứng thư số, ví dụ hoa.lt.",
    anchor: "Vị trí chữ ký (không bắt buộc)",
    anchor_help: "Một dòng chữ trong văn bản, ví dụ tên người ký: chữ ký hiện ngay bên trên.",
    request_button: "Gửi yêu cầu ký",
    progress: "Tiến độ",
    approval_link: "Mở trang phê duyệt trên Tessera",
    approval_help: "Người ký phê duyệt trên máy tính hoặc điện thoại bằng yếu tố xác thực thứ hai.",
    download_original: "Tải văn bản gốc",
    download_signed: "Tải văn bản đã ký",
    report: "Kết quả kiểm tra chữ ký",
    report_json: "Báo cáo đầy đủ (JSON)",
    signed_by: "Người ký",
    verdict: "Kết luận",
    back: "Về danh sách",
    error_title: "Không thực hiện được",
    not_found: "Không tìm thấy văn bản này, hoặc bạn không có quyền xem.",
    bad_form: "Biểu mẫu đã hết hạn hoặc không hợp lệ. Hãy tải lại trang và thử lại.",
    not_pdf: "Tệp tải lên không phải là PDF.",
    too_large: "Tệp quá lớn (tối đa 25 MB).",
    no_title: "Hãy nhập trích yếu của văn bản.",
    no_signer: "Hãy nhập tên đăng nhập của người ký.",
    tessera_refused: "Tessera từ chối yêu cầu",
    tessera_unreachable: "Không kết nối được tới Tessera. Hãy thử lại sau.",
    internal: "Đã có lỗi. Hãy thử lại sau.",
    expires: "Hết hạn lúc",
};

static EN: Words = Words {
    switch_label: "Tiếng Việt",
    switch_to: "vi",
    welcome: "Document office",
    welcome_text: "Sign in once with your government account to see your unit's documents, upload PDF documents and ask officials to sign them.",
    sign_in: "Sign in",
    sign_out: "Sign out",
    documents: "Your unit's documents",
    no_documents: "No documents yet.",
    upload: "Upload a document",
    title: "Subject",
    pdf_file: "PDF file",
    upload_button: "Upload",
    uploaded_by: "Uploaded by",
    uploaded_at: "Time",
    status: "Signature",
    not_requested: "Not requested",
    request_signature: "Request a signature",
    signer: "Signer (username)",
    signer_help: "An official of the unit with a signing certificate, e.g. hoa.lt.",
    anchor: "Signature position (optional)",
    anchor_help: "A line of text in the document, e.g. the signer's name: the signature appears just above it.",
    request_button: "Send the request",
    progress: "Progress",
    approval_link: "Open the approval page on Tessera",
    approval_help: "The signer approves on a computer or a phone with a second factor.",
    download_original: "Download the original",
    download_signed: "Download the signed PDF",
    report: "Signature check",
    report_json: "Full report (JSON)",
    signed_by: "Signer",
    verdict: "Verdict",
    back: "Back to the list",
    error_title: "That did not work",
    not_found: "This document does not exist, or you may not see it.",
    bad_form: "The form has expired or is not valid. Reload the page and try again.",
    not_pdf: "The uploaded file is not a PDF.",
    too_large: "The file is too large (25 MB at most).",
    no_title: "Give the document's subject.",
    no_signer: "Give the signer's username.",
    tessera_refused: "Tessera refused the request",
    tessera_unreachable: "Tessera cannot be reached. Try again later.",
    internal: "Something went wrong. Try again later.",
    expires: "Expires at",
};
