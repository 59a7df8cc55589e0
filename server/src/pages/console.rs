//! The administration console's pages (`/admin`): their words, one table for both languages,
//! and their templates (`server/templates/console/`). The pages need no script: every action
//! is a form posted with its CSRF token.

use minijinja::Value;
use minijinja::value::Serde;
use serde::Serialize;

use super::{Base, Lang, Pages};

macro_rules! console_text {
    ($($key:ident: $vi:literal, $en:literal;)*) => {
        /// Every string of the console, in one language.
        #[derive(Debug, Serialize)]
        pub struct ConsoleText {
            $(pub $key: &'static str,)*
        }

        pub static VI: ConsoleText = ConsoleText { $($key: $vi,)* };
        pub static EN: ConsoleText = ConsoleText { $($key: $en,)* };
    };
}

console_text! {
    console: "Quản trị", "Administration";
    nav_label: "Trang quản trị", "Administration pages";
    nav_units: "Đơn vị", "Units";
    nav_users: "Người dùng", "Users";
    nav_clients: "Ứng dụng", "Applications";
    nav_credentials: "Chứng thư số", "Certificates";
    nav_seals: "Con dấu", "Seals";
    nav_audit: "Nhật ký", "Audit log";
    nav_signing: "Hoạt động ký", "Signing activity";
    signed_in_as: "Đăng nhập với tư cách", "Signed in as";
    your_roles: "Quyền của bạn", "Your roles";
    role_admin: "Quản trị viên", "Administrator";
    role_cert_admin: "Quản trị chứng thư", "Certificate administrator";
    role_auditor: "Kiểm tra viên", "Auditor";
    done: "Đã thực hiện.", "Done.";
    filter: "Lọc", "Filter";
    search: "Tìm kiếm", "Search";
    search_placeholder: "Tên đăng nhập hoặc họ tên", "Username or name";
    all: "Tất cả", "All";
    all_units: "Mọi đơn vị", "All units";
    unit: "Đơn vị", "Unit";
    no_unit: "(không thuộc đơn vị)", "(no unit)";
    status: "Trạng thái", "Status";
    active: "Đang hoạt động", "Active";
    disabled: "Đã khóa", "Disabled";
    previous: "Trang trước", "Previous page";
    next: "Trang sau", "Next page";
    page: "Trang", "Page";
    nothing: "Không có mục nào.", "Nothing to show.";
    save: "Lưu", "Save";
    create: "Tạo", "Create";
    created_at: "Tạo lúc", "Created";
    id: "Mã", "ID";
    name: "Tên", "Name";
    back: "Quay lại", "Back";
    units_title: "Cây đơn vị", "Unit tree";
    unit_new: "Thêm đơn vị", "Add a unit";
    unit_parent: "Thuộc đơn vị", "Parent unit";
    unit_name: "Tên đơn vị", "Unit name";
    unit_rename: "Đổi tên", "Rename";
    require_level_2: "Bắt buộc xác thực hai bước cho người dùng của đơn vị", "Require two factors of the unit's people";
    users_title: "Người dùng", "Users";
    user_new: "Tạo người dùng", "Create a user";
    username: "Tên đăng nhập", "Username";
    full_name: "Họ và tên", "Full name";
    email: "Thư điện tử", "E-mail";
    phone: "Điện thoại", "Phone";
    roles: "Vai trò ứng dụng", "Application roles";
    roles_help: "Cách nhau bằng dấu cách", "Separated by spaces";
    one_time_title: "Mật khẩu dùng một lần", "One-time password";
    one_time_lead: "Chỉ hiển thị một lần. Hãy trao cho người dùng qua kênh an toàn; họ phải đổi mật khẩu ở lần đăng nhập đầu tiên.", "Shown only once. Hand it to the person over a safe channel; they must change it at their first sign-in.";
    must_change: "Phải đổi mật khẩu", "Must change password";
    grants: "Quyền quản trị", "Administrative roles";
    factor_lock: "Bước hai đang bị khóa đến", "Second factor locked until";
    factor_failures: "Số lần nhập sai bước hai", "Wrong second-factor codes counted";
    actions: "Thao tác", "Actions";
    disable: "Khóa tài khoản", "Disable";
    enable: "Mở khóa tài khoản", "Enable";
    reset_password: "Đặt lại mật khẩu", "Reset the password";
    reset_factors: "Xóa xác thực bước hai", "Reset second factors";
    reset_factors_help: "Xóa khóa truy cập, ứng dụng xác thực, thiết bị OTP và mã khôi phục; người dùng đăng ký lại ở lần đăng nhập sau.", "Removes passkeys, the authenticator app, OTP tokens and recovery codes; the person enrols again at the next sign-in.";
    end_sessions: "Kết thúc mọi phiên", "End all sessions";
    end_sessions_help: "Đăng xuất người dùng khỏi mọi thiết bị và ứng dụng; mật khẩu giữ nguyên.", "Signs the person out of every device and application; the password stays.";
    unlock: "Gỡ khóa đăng nhập", "Clear lockouts";
    require_level: "Mức xác thực tối thiểu", "Minimum level";
    level_none: "Theo chính sách chung", "As the general policy says";
    level_1: "Mức 1 (mật khẩu)", "Level 1 (password)";
    level_2: "Mức 2 (hai bước)", "Level 2 (two factors)";
    clients_title: "Ứng dụng", "Applications";
    client_new: "Đăng ký ứng dụng", "Register an application";
    client_id: "Mã ứng dụng (client_id)", "Client ID";
    client_public: "Ứng dụng công khai (không có khóa bí mật, PKCE)", "Public client (no secret, PKCE)";
    redirect_uris: "Địa chỉ chuyển hướng (mỗi dòng một địa chỉ)", "Redirect URIs (one per line)";
    logout_uris: "Địa chỉ sau đăng xuất (mỗi dòng một địa chỉ)", "Post-logout redirect URIs (one per line)";
    backchannel_uri: "Địa chỉ đăng xuất kênh sau", "Back-channel logout URI";
    scopes: "Phạm vi được phép (cách nhau bằng dấu cách)", "Allowed scopes (separated by spaces)";
    min_level: "Mức xác thực tối thiểu", "Minimum level";
    secret_title: "Khóa bí mật của ứng dụng", "The application's secret";
    secret_lead: "Chỉ hiển thị một lần. Hãy cấu hình vào ứng dụng ngay.", "Shown only once. Configure it in the application now.";
    rotate_secret: "Cấp khóa bí mật mới", "Rotate the secret";
    remove_client: "Xóa ứng dụng", "Remove the application";
    signing_units: "Đơn vị cho phép ứng dụng yêu cầu ký (sign:request)", "Units whose people the application may ask for signatures (sign:request)";
    allow: "Cho phép", "Allow";
    withdraw: "Thu hồi", "Withdraw";
    console_client: "Bảng quản trị do nhà vận hành cấu hình: chỉ thay đổi bằng dòng lệnh.", "An administration console pinned by the operator: changed only from the command line.";
    credentials_title: "Chứng thư số của cán bộ", "Officials' certificates";
    expiring_title: "Sắp hết hạn (30 ngày)", "Expiring within 30 days";
    credential_new: "Cấp chứng thư số", "Issue a certificate";
    owner: "Người sở hữu (tên đăng nhập)", "Owner (username)";
    algorithm: "Thuật toán khóa", "Key algorithm";
    title: "Chức danh", "Title";
    serial: "Số hiệu", "Serial";
    valid_until: "Hiệu lực đến", "Valid until";
    days_left: "Còn (ngày)", "Days left";
    suspend: "Tạm dừng", "Suspend";
    resume: "Khôi phục", "Resume";
    revoke: "Thu hồi", "Revoke";
    reason: "Lý do", "Reason";
    st_pending: "Chờ chứng thư", "Pending";
    st_active: "Có hiệu lực", "Active";
    st_suspended: "Tạm dừng", "Suspended";
    st_revoked: "Đã thu hồi", "Revoked";
    st_expired: "Hết hạn", "Expired";
    audit_title: "Nhật ký kiểm toán", "Audit log";
    actor: "Người thực hiện (mã)", "Actor (id)";
    event: "Sự kiện", "Event";
    since: "Từ ngày", "From";
    until: "Đến ngày", "To";
    at: "Thời điểm", "Time";
    client: "Ứng dụng", "Client";
    source_ip: "Địa chỉ", "Address";
    outcome: "Kết quả", "Outcome";
    detail: "Chi tiết", "Detail";
    chain_status: "Tính toàn vẹn của nhật ký", "Integrity of the log";
    chain_ok: "Mọi chuỗi nhật ký đều toàn vẹn.", "Every chain of the log is intact.";
    chain_bad: "Phát hiện sai lệch trong nhật ký:", "The log has been tampered with:";
    chain_root_only: "Chỉ quản trị viên của đơn vị gốc xem được tình trạng toàn bộ nhật ký.", "Only administrators of the root unit see the state of the whole log.";
    export_jsonl: "Xuất JSON Lines", "Export as JSON Lines";
    export_csv: "Xuất CSV", "Export as CSV";
    signing_title: "Hoạt động ký theo đơn vị", "Signing activity per unit";
    requests: "Yêu cầu ký", "Signing requests";
    st_signed: "Đã ký", "Signed";
    st_rejected: "Từ chối", "Rejected";
    st_waiting: "Đang chờ", "Waiting";
    st_other: "Khác", "Other";
    documents: "Tài liệu đã ký", "Documents signed";
    refused_title: "Không được phép", "Not allowed";
    not_found_title: "Không tìm thấy", "Not found";
    invalid_title: "Yêu cầu không hợp lệ", "Invalid request";
    conflict_title: "Không thực hiện được", "Cannot be done";
    no_role: "Bạn không có quyền quản trị nào. Hãy liên hệ quản trị viên đơn vị của bạn.", "You hold no administrative role. Ask your unit's administrator.";
    confirm: "Xác nhận", "Confirm";
    profile_edit: "Sửa thông tin", "Edit the profile";
    grant_role: "Quyền", "Role";
    grant_add: "Cấp quyền", "Grant";
    signature_image: "Hình chữ ký", "Signature image";
    seal_image: "Hình con dấu", "Seal image";
    no_image: "Chưa có hình.", "No image yet.";
    image_file: "Tệp PNG (tối đa 1 MB)", "PNG file (at most 1 MB)";
    image_upload: "Tải lên", "Upload";
    image_remove: "Xóa hình", "Remove the image";
    details: "Chi tiết", "Details";
    ca_choice: "Nơi cấp chứng thư", "Issued by";
    ca_internal: "CA của Tessera (cấp ngay)", "Tessera's CA (issued at once)";
    ca_external: "CA bên ngoài (tạo CSR, nhập chứng thư sau)", "An external CA (a CSR now, the certificate imported later)";
    credential_title: "Chứng thư số", "Certificate";
    subject: "Chủ thể", "Subject";
    issuer: "Tổ chức cấp", "Issuer";
    validity: "Hiệu lực", "Valid";
    certificate: "Chứng thư (PEM)", "Certificate (PEM)";
    csr_title: "Yêu cầu cấp chứng thư (CSR)", "Certificate signing request (CSR)";
    csr_help: "Gửi CSR này cho CA bên ngoài; khóa riêng nằm trong HSM và không bao giờ rời khỏi đó. Khi CA trả chứng thư, dán vào ô dưới đây.", "Send this CSR to the external CA; the private key stays in the HSM and never leaves it. When the CA answers, paste its certificate below.";
    import_label: "Chứng thư hoặc chuỗi chứng thư do CA cấp (PEM)", "The certificate or chain the CA issued (PEM)";
    import_certificate: "Nhập chứng thư", "Import the certificate";
    renew: "Gia hạn", "Renew";
    renew_help: "Chứng thư mới được cấp ngay; chứng thư cũ bị thu hồi (superseded).", "The new certificate is issued at once; the old one is revoked as superseded.";
    renew_external_help: "Tạo yêu cầu gia hạn đang chờ, kèm CSR mới để gửi CA bên ngoài.", "Makes a pending renewal with a new CSR for the external CA.";
    new_key: "Tạo cặp khóa mới", "With a new key pair";
    seals_title: "Con dấu của đơn vị", "Units' seals";
    seals_lead: "Chứng thư tổ chức ký văn bản thay mặt đơn vị; chỉ các hệ thống được phép (ví dụ hệ thống văn thư) mới dùng được.", "Organisation credentials sign on the unit's behalf; only the systems allowed here (e.g. the clerk system) may use them.";
    seal_clients: "Ứng dụng được phép dùng", "Applications allowed to use it";
    seal_issue: "Cấp chứng thư con dấu", "Issue a seal credential";
}

pub fn text(lang: Lang) -> &'static ConsoleText {
    match lang {
        Lang::Vi => &VI,
        Lang::En => &EN,
    }
}

/// The console's templates, added to the page environment with the others.
pub const TEMPLATES: [(&str, &str); 14] = [
    (
        "console/credential.html",
        include_str!("../../templates/console/credential.html"),
    ),
    (
        "console/seals.html",
        include_str!("../../templates/console/seals.html"),
    ),
    (
        "console/clients.html",
        include_str!("../../templates/console/clients.html"),
    ),
    (
        "console/client.html",
        include_str!("../../templates/console/client.html"),
    ),
    (
        "console/credentials.html",
        include_str!("../../templates/console/credentials.html"),
    ),
    (
        "console/audit.html",
        include_str!("../../templates/console/audit.html"),
    ),
    (
        "console/signing.html",
        include_str!("../../templates/console/signing.html"),
    ),
    (
        "console/pager.html",
        include_str!("../../templates/console/pager.html"),
    ),
    (
        "console/base.html",
        include_str!("../../templates/console/base.html"),
    ),
    (
        "console/error.html",
        include_str!("../../templates/console/error.html"),
    ),
    (
        "console/units.html",
        include_str!("../../templates/console/units.html"),
    ),
    (
        "console/users.html",
        include_str!("../../templates/console/users.html"),
    ),
    (
        "console/user.html",
        include_str!("../../templates/console/user.html"),
    ),
    (
        "console/secret.html",
        include_str!("../../templates/console/secret.html"),
    ),
];

/// What every console page shows around its content: who is administering, with which roles.
#[derive(Debug, Serialize)]
pub struct Frame {
    pub username: String,
    pub roles: Vec<String>,
    /// The page's section, for the navigation (`units`, `users`…).
    pub section: &'static str,
    pub csrf_token: String,
}

#[derive(Serialize)]
struct Ctx<'a, T: Serialize> {
    #[serde(flatten)]
    base: Base,
    c: &'static ConsoleText,
    frame: &'a Frame,
    #[serde(flatten)]
    view: &'a T,
}

impl Pages {
    /// Renders one of the console's templates with `view` as its context.
    pub fn console<T: Serialize>(
        &self,
        lang: Lang,
        template: &str,
        path_and_query: &str,
        frame: &Frame,
        view: &T,
    ) -> String {
        let ctx = Value::from(Serde(Ctx {
            base: Base::new(lang, path_and_query),
            c: text(lang),
            frame,
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

    /// Every console page renders in both languages (not the fallback page), with the
    /// navigation, and escapes what administrators and users typed.
    #[test]
    fn console_pages_render_in_both_languages_escaped() {
        let pages = Pages::new();
        let frame = Frame {
            username: HOSTILE.into(),
            roles: vec![HOSTILE.into()],
            section: "users",
            csrf_token: HOSTILE.into(),
        };
        let unit = json!({ "id": "u1", "label": HOSTILE });
        let pager = json!({ "page": 2, "prev_url": "/admin/users?page=1", "next_url": null });
        let user = json!({
            "id": "x", "username": HOSTILE, "name": HOSTILE, "email": HOSTILE, "phone": null,
            "unit_id": "u1", "roles": [HOSTILE], "status": "active", "password_must_change": true,
            "created_at": 0, "updated_at": 0,
        });
        let client = json!({
            "client_id": "app", "name": HOSTILE, "unit_id": null, "public": false,
            "redirect_uris": [HOSTILE], "post_logout_redirect_uris": [], "backchannel_logout_uri": null,
            "scopes": ["openid"], "grant_types": [], "auth_method": "client_secret_basic",
            "alg": "ES256", "min_acr": null, "admin_console": false, "created_at": 0, "updated_at": 0,
        });
        let views = [
            (
                "console/units.html",
                json!({
                "tree": [{ "id": "u1", "name": HOSTILE, "level": "city", "manage": true,
                           "children": [{ "id": "u2", "name": "Sở", "level": "department", "manage": false, "children": [] }] }],
                "parents": [unit], "done": true }),
            ),
            (
                "console/users.html",
                json!({
                "q": HOSTILE, "unit_id": "u1", "status": "active", "units": [unit], "manage_units": [unit],
                "rows": [{ "id": "x", "username": HOSTILE, "name": HOSTILE, "unit": HOSTILE, "active": false }],
                "page": pager["page"], "prev_url": pager["prev_url"], "next_url": pager["next_url"] }),
            ),
            (
                "console/user.html",
                json!({
                "user": user, "unit": HOSTILE, "created": "x",
                "grants": [{ "role": "admin", "unit_id": "u1", "text": HOSTILE }],
                "lock": { "failures": 3, "until": "y" }, "manage": true,
                "actions": [{ "path": "disable", "label": "x", "help": HOSTILE }],
                "move_units": [unit], "roles_text": HOSTILE, "grant_roles": [["admin", "x"]],
                "may_image": true, "image": { "src": "data:image/png;base64,AA==", "width": 10, "height": 5 },
                "done": true }),
            ),
            (
                "console/credential.html",
                json!({
                "k": { "id": "k", "user": { "id": "x", "username": HOSTILE, "name": HOSTILE, "unit_id": "u1" },
                       "status": "pending", "source": "external", "key_alg": "P-256", "subject": HOSTILE,
                       "issuer": null, "serial": null, "revocation_reason": null,
                       "csr_pem": HOSTILE, "certificate_pem": HOSTILE, "chain_pem": [HOSTILE] },
                "unit": HOSTILE, "status_text": "x", "valid_from": "", "valid_until": "", "external": true,
                "actions": ["revoke"], "may_import": true, "may_renew": true,
                "reasons": ["unspecified"], "done": true }),
            ),
            (
                "console/seals.html",
                json!({
                "unit_id": "u1", "unit": HOSTILE, "units": [unit],
                "rows": [{ "id": "o", "status": "active", "status_text": "x", "key_alg": "P-256",
                           "serial": "01", "subject": HOSTILE, "valid_until": "d", "clients": [HOSTILE],
                           "actions": ["suspend", "revoke"] }],
                "manage": true, "image": null, "reasons": ["unspecified"], "done": true }),
            ),
            (
                "console/secret.html",
                json!({
                "heading": "h", "lead": "l", "subject": HOSTILE, "secret": HOSTILE, "back": "/admin/users" }),
            ),
            (
                "console/error.html",
                json!({
                "heading": "h", "code": "forbidden", "message": HOSTILE, "back": "/admin/users" }),
            ),
            (
                "console/clients.html",
                json!({
                "q": HOSTILE, "unit_id": "", "units": [unit], "manage_units": [unit],
                "rows": [{ "id": "app", "name": HOSTILE, "unit": HOSTILE, "public": true }], "done": true,
                "page": 1, "prev_url": null, "next_url": "/admin/clients?page=2" }),
            ),
            (
                "console/client.html",
                json!({
                "client": client, "unit": HOSTILE, "min_level": null, "redirect_uris": HOSTILE,
                "logout_uris": "", "scopes": "openid", "manage": true,
                "signing_units": [{ "id": "u1", "name": HOSTILE }], "allow_units": [unit], "done": false }),
            ),
            (
                "console/credentials.html",
                json!({
                "unit_id": "", "status": "", "units": [unit], "statuses": [["active", "x"]],
                "reasons": ["unspecified", "keyCompromise"],
                "rows": [{ "id": "k", "owner": HOSTILE, "owner_name": HOSTILE, "unit": HOSTILE,
                           "status": "active", "status_text": "x", "serial": "01", "valid_until": "d",
                           "actions": ["suspend", "revoke"] }],
                "expiring": [{ "owner": HOSTILE, "serial": "01", "valid_until": "d", "days_left": 3 }],
                "may_issue": true, "done": true, "page": 1, "prev_url": null, "next_url": null }),
            ),
            (
                "console/audit.html",
                json!({
                "actor": HOSTILE, "event": "login.", "unit_id": "", "since": "", "until": "",
                "units": [unit], "event_names": ["login.success"],
                "rows": [{ "at": "x", "event": "login.success", "what": "x", "actor": HOSTILE,
                           "client": HOSTILE, "source_ip": "::1", "failed": true, "detail": HOSTILE }],
                "chains": { "ok": false, "chains": 1, "entries": 2, "problems": [HOSTILE] },
                "export_jsonl": "/admin/audit/export?format=jsonl", "export_csv": "/admin/audit/export?format=csv",
                "page": 1, "prev_url": null, "next_url": null }),
            ),
            (
                "console/signing.html",
                json!({
                "unit_id": "", "days": 30, "since": "d", "units": [unit],
                "rows": [{ "unit": HOSTILE, "signed": 1, "rejected": 0, "waiting": 2, "other": 0, "documents": 3 }] }),
            ),
        ];
        for lang in [Lang::Vi, Lang::En] {
            for (name, view) in &views {
                let html = pages.console(lang, name, "/admin/users", &frame, view);
                assert!(html.contains("nav class=\"console\""), "{name}: {html}");
                assert!(html.contains(text(lang).nav_audit), "{name}");
                assert!(!html.contains("<script>"), "{name}: {html}");
                assert!(html.contains("&lt;script&gt;"), "{name}");
            }
        }
    }
}
