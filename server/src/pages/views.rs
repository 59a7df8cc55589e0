//! The data each page needs. Handlers build these and hand them to [`super::Pages`].
//!
//! Every string in a view is user- or client-controlled as far as the templates are
//! concerned: it is always HTML-escaped on output.

/// The sign-in form (`GET /login`, and `POST /login` after a failed attempt).
#[derive(Clone, Copy, Debug)]
pub struct LoginView<'a> {
    /// Path and query of the current page (e.g. `/login?req=abc`), used to build the
    /// language switch links. When re-rendering after a `POST /login`, pass a URL that
    /// still carries the pending request (e.g. `/login?req=abc`) so that switching
    /// language does not lose it.
    pub path_and_query: &'a str,
    /// Pending authorization request id, posted back as the hidden field `req`.
    pub req: Option<&'a str>,
    /// Anti-CSRF token, posted back as the hidden field `csrf_token`.
    pub csrf_token: &'a str,
    /// Prefill for the username field (`login_hint` or the previous attempt).
    pub username: &'a str,
    /// Display name of the relying party: "Đăng nhập để tiếp tục vào …".
    pub client_name: Option<&'a str>,
    /// Why the previous attempt failed, if it did.
    pub error: Option<LoginError>,
    /// Upstream providers offered as buttons: `(id, display name)`.
    pub upstreams: &'a [(String, String)],
}

/// Why a sign-in attempt failed, as shown above the form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginError {
    /// Unknown user or wrong password (deliberately the same message for both).
    BadCredentials,
    /// Rate-limited; the user may try again after this many seconds.
    TooManyAttempts { retry_after_secs: u64 },
    /// The account exists but is disabled.
    AccountDisabled,
    /// The pending authorization request expired: start again from the application.
    SessionExpired,
}

/// A full-page error.
#[derive(Clone, Copy, Debug)]
pub struct ErrorView<'a> {
    /// Path and query of the current page, for the language switch links.
    pub path_and_query: &'a str,
    pub kind: ErrorKind,
    /// Extra detail shown (escaped) under the explanation, e.g. an OAuth `error_description`.
    pub detail: Option<&'a str>,
}

/// What went wrong, for the error page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// `client_id` is not registered.
    UnknownClient,
    /// `redirect_uri` is not registered for the client: we must not redirect.
    InvalidRedirectUri,
    /// Malformed or incomplete request.
    BadRequest,
    /// The anti-CSRF check failed.
    CsrfFailed,
    /// The pending authorization request expired.
    RequestExpired,
    NotFound,
    TooManyRequests,
    Internal,
    /// The key store (HSM) is out of service for a while: try again shortly.
    Unavailable,
    /// The application is for the other population (citizens / officials).
    WrongAudience,
    /// The upstream identity provider (e.g. VNeID) could not be reached.
    UpstreamUnavailable,
    /// The upstream's answer failed verification (signature, nonce, audience, state).
    UpstreamRejected,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 12] = [
        ErrorKind::UnknownClient,
        ErrorKind::InvalidRedirectUri,
        ErrorKind::BadRequest,
        ErrorKind::CsrfFailed,
        ErrorKind::RequestExpired,
        ErrorKind::NotFound,
        ErrorKind::TooManyRequests,
        ErrorKind::Internal,
        ErrorKind::Unavailable,
        ErrorKind::WrongAudience,
        ErrorKind::UpstreamUnavailable,
        ErrorKind::UpstreamRejected,
    ];

    /// Short stable code shown on the page ("Mã lỗi"), handy for help-desk calls.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::UnknownClient => "unknown_client",
            ErrorKind::InvalidRedirectUri => "invalid_redirect_uri",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::CsrfFailed => "csrf_failed",
            ErrorKind::RequestExpired => "request_expired",
            ErrorKind::NotFound => "not_found",
            ErrorKind::TooManyRequests => "too_many_requests",
            ErrorKind::Internal => "internal",
            ErrorKind::Unavailable => "temporarily_unavailable",
            ErrorKind::WrongAudience => "wrong_audience",
            ErrorKind::UpstreamUnavailable => "upstream_unavailable",
            ErrorKind::UpstreamRejected => "upstream_rejected",
        }
    }

    /// A suitable HTTP status code for the page.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::UnknownClient
            | ErrorKind::InvalidRedirectUri
            | ErrorKind::BadRequest
            | ErrorKind::RequestExpired => 400,
            ErrorKind::CsrfFailed | ErrorKind::WrongAudience => 403,
            ErrorKind::UpstreamUnavailable | ErrorKind::UpstreamRejected => 502,
            ErrorKind::NotFound => 404,
            ErrorKind::TooManyRequests => 429,
            ErrorKind::Internal => 500,
            ErrorKind::Unavailable => 503,
        }
    }
}

/// "You are signed in" page, shown when someone opens the IdP directly.
#[derive(Clone, Copy, Debug)]
pub struct SignedInView<'a> {
    /// Path and query of the current page, for the language switch links.
    pub path_and_query: &'a str,
    /// Human name (may be empty: the username is shown instead).
    pub display_name: &'a str,
    pub username: &'a str,
}
