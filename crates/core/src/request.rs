//! What a handler knows of the request it serves, handed down for the audit log.

/// Context of the request being served, for the audit log.
#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}
