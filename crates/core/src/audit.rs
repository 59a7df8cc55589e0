//! Typed audit events: every kind of event the provider records, under a stable dotted name.
//!
//! The names are a published interface (the console and SOC exports filter on them; the README
//! lists them), so a kind is never renamed. Each kind also fixes its outcome: no call site can
//! record a refusal as a success.

use tessera_store::audit::{AuditEvent, Outcome};

macro_rules! events {
    ($($kind:ident => $name:literal, $outcome:ident;)*) => {
        /// A kind of audit event.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Event {
            $($kind,)*
        }

        impl Event {
            /// Every kind, in the README's order.
            pub const ALL: &'static [Event] = &[$(Event::$kind,)*];

            /// The stable name stored in `audit_log.event`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Event::$kind => $name,)*
                }
            }

            /// Whether this kind records something done or something refused.
            pub fn outcome(self) -> Outcome {
                match self {
                    $(Event::$kind => Outcome::$outcome,)*
                }
            }
        }
    };
}

events! {
    // Sign-in and second factors.
    LoginSuccess => "login.success", Success;
    LoginFailure => "login.failure", Failure;
    LoginThrottled => "login.throttled", Failure;
    LoginDisabled => "login.disabled", Failure;
    PasswordConfirmFailure => "password.confirm.failure", Failure;
    PasswordConfirmThrottled => "password.confirm.throttled", Failure;
    PasswordConfirmDisabled => "password.confirm.disabled", Failure;
    PasswordChanged => "password.changed", Success;
    MfaStepUp => "mfa.step_up", Success;
    MfaFailure => "mfa.failure", Failure;
    MfaLocked => "mfa.locked", Failure;
    MfaReset => "mfa.reset", Success;
    MfaTotpEnrolled => "mfa.totp.enrolled", Success;
    MfaTotpRemoved => "mfa.totp.removed", Success;
    MfaOtpTokenImported => "mfa.otp_token.imported", Success;
    MfaOtpTokenRemoved => "mfa.otp_token.removed", Success;
    MfaOtpTokenDisabled => "mfa.otp_token.disabled", Success;
    MfaOtpTokenEnabled => "mfa.otp_token.enabled", Success;
    MfaOtpTokenResynced => "mfa.otp_token.resynced", Success;
    MfaPasskeyRegistered => "mfa.passkey.registered", Success;
    MfaPasskeyRenamed => "mfa.passkey.renamed", Success;
    MfaPasskeyRemoved => "mfa.passkey.removed", Success;
    MfaRecoveryCodesGenerated => "mfa.recovery_codes.generated", Success;
    MfaRecoveryCodeUsed => "mfa.recovery_code.used", Success;
    PolicyAcrAdded => "policy.acr.added", Success;
    PolicyAcrRemoved => "policy.acr.removed", Success;
    // OpenID Connect and OAuth.
    CodeIssued => "code.issued", Success;
    CodeReplayed => "code.replayed", Failure;
    DeviceCodeIssued => "device.code_issued", Success;
    DeviceUserCodeRefused => "device.user_code_refused", Failure;
    DeviceApproved => "device.approved", Success;
    DeviceDenied => "device.denied", Success;
    UpstreamSignIn => "upstream.sign_in", Success;
    UpstreamRefused => "upstream.refused", Failure;
    UpstreamLinked => "upstream.linked", Success;
    UpstreamAdded => "upstream.added", Success;
    UpstreamRemoved => "upstream.removed", Success;
    TokenIssued => "token.issued", Success;
    TokenRefused => "token.refused", Failure;
    TokenRevoked => "token.revoked", Success;
    RefreshRefused => "refresh.refused", Failure;
    RefreshReused => "refresh.reused", Failure;
    ClientAuthFailed => "client.auth_failed", Failure;
    AdminConsentGiven => "admin.consent_given", Success;
    AdminConsentDenied => "admin.consent_denied", Failure;
    AdminRefused => "admin.refused", Failure;
    Logout => "logout", Success;
    BackchannelDelivered => "backchannel.delivered", Success;
    BackchannelFailed => "backchannel.failed", Failure;
    BackchannelNotAllowed => "backchannel.not_allowed", Failure;
    BackchannelAbandoned => "backchannel.abandoned", Failure;
    KeyRotated => "key.rotated", Success;
    // Administration.
    UnitCreated => "unit.created", Success;
    UnitRenamed => "unit.renamed", Success;
    UserCreated => "user.created", Success;
    UserImported => "user.imported", Success;
    DirectorySynced => "directory.synced", Success;
    DirectorySyncFailed => "directory.sync_failed", Failure;
    UserUpdated => "user.updated", Success;
    UserEnabled => "user.enabled", Success;
    UserDisabled => "user.disabled", Success;
    UserPasswordSet => "user.password_set", Success;
    UserPasswordReset => "user.password_reset", Success;
    UserUnlocked => "user.unlocked", Success;
    UserSessionsEnded => "user.sessions_ended", Success;
    UserTitleSet => "user.title_set", Success;
    GrantAdded => "grant.added", Success;
    GrantRemoved => "grant.removed", Success;
    ClientCreated => "client.created", Success;
    ClientUpdated => "client.updated", Success;
    ClientAdminConsole => "client.admin_console", Success;
    ClientSecretRotated => "client.secret_rotated", Success;
    ClientRemoved => "client.removed", Success;
    ScopeCreated => "scope.created", Success;
    ScopeRemoved => "scope.removed", Success;
    // Certificates.
    PkiCaCreated => "pki.ca.created", Success;
    PkiCaCsrCreated => "pki.ca.csr_created", Success;
    PkiCaImported => "pki.ca.imported", Success;
    PkiCrlPublished => "pki.crl.published", Success;
    PkiOcspResponderCertified => "pki.ocsp_responder.certified", Success;
    PkiTsaUnitCertified => "pki.tsa_unit.certified", Success;
    PkiTrustAdded => "pki.trust.added", Success;
    PkiTrustRemoved => "pki.trust.removed", Success;
    PkiCredentialCreated => "pki.credential.created", Success;
    PkiCredentialIssued => "pki.credential.issued", Success;
    PkiCredentialImportRefused => "pki.credential.import_refused", Failure;
    PkiCredentialRenewed => "pki.credential.renewed", Success;
    PkiCredentialSuspended => "pki.credential.suspended", Success;
    PkiCredentialResumed => "pki.credential.resumed", Success;
    PkiCredentialRevoked => "pki.credential.revoked", Success;
    PkiCredentialExpiring => "pki.credential.expiring", Success;
    PkiCredentialExpired => "pki.credential.expired", Success;
    PkiCredentialClientAllowed => "pki.credential.client_allowed", Success;
    PkiCredentialClientDisallowed => "pki.credential.client_disallowed", Success;
    SigningImageSet => "signing.image.set", Success;
    SigningImageRemoved => "signing.image.removed", Success;
    SigningImageRefused => "signing.image.refused", Failure;
    SigningCmsSigned => "signing.cms.signed", Success;
    SigningPdfSigned => "signing.pdf.signed", Success;
    SigningPdfExtended => "signing.pdf.extended", Success;
    SigningRefused => "signing.refused", Failure;
    SigningRequestCreated => "signing.request.created", Success;
    SigningRequestApproved => "signing.request.approved", Success;
    SigningRequestRejected => "signing.request.rejected", Success;
    SigningRequestCancelled => "signing.request.cancelled", Success;
    SigningRequestExpired => "signing.request.expired", Success;
    SigningRequestRefused => "signing.request.refused", Failure;
    SigningDocumentSigned => "signing.document.signed", Success;
    SigningDocumentFailed => "signing.document.failed", Failure;
    SigningSadRefused => "signing.sad.refused", Failure;
    SigningCscAuthorized => "signing.csc.authorized", Success;
    SigningCscSigned => "signing.csc.signed", Success;
    SigningCscRefused => "signing.csc.refused", Failure;
    SigningRequestClientAllowed => "signing.request_client.allowed", Success;
    SigningRequestClientDisallowed => "signing.request_client.disallowed", Success;
    SigningWebhookDelivered => "signing.webhook.delivered", Success;
    SigningWebhookFailed => "signing.webhook.failed", Failure;
    SigningWebhookAbandoned => "signing.webhook.abandoned", Failure;
    // Alerts for the SOC, each with the entry that raised it (see `alerts.rs`).
    AlertBruteForce => "alert.brute_force", Failure;
    AlertRefreshTokenReuse => "alert.refresh_token_reuse", Failure;
    AlertSignCounterRegression => "alert.sign_counter_regression", Failure;
    AlertHsmFailure => "alert.hsm_failure", Failure;
    AlertAuditVerificationFailed => "alert.audit_verification_failed", Failure;
    AlertCertificateExpiring => "alert.certificate_expiring", Failure;
}

impl Event {
    /// Starts a record of this event at `now`; finish it with the builder and pass it to
    /// [`Provider::audit`](crate::Provider::audit).
    pub fn at(self, now: i64) -> Record {
        Record(AuditEvent {
            at: now,
            event: self.as_str().to_owned(),
            actor: None,
            client_id: None,
            source_ip: None,
            outcome: self.outcome(),
            detail: serde_json::json!({}),
        })
    }
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One audit entry being built: who acted, through which client, from where, and the details.
#[derive(Clone, Debug, PartialEq)]
#[must_use = "an audit record does nothing until it is passed to Provider::audit"]
pub struct Record(AuditEvent);

impl Record {
    /// Who acted: a user id, `cli:<os user>`, or a client id.
    pub fn actor(self, actor: &str) -> Record {
        self.maybe_actor(Some(actor))
    }

    pub fn maybe_actor(mut self, actor: Option<&str>) -> Record {
        self.0.actor = actor.map(str::to_owned);
        self
    }

    /// The client the event concerns or came through.
    pub fn client(self, client_id: &str) -> Record {
        self.maybe_client(Some(client_id))
    }

    pub fn maybe_client(mut self, client_id: Option<&str>) -> Record {
        self.0.client_id = client_id.map(str::to_owned);
        self
    }

    /// The address the request came from; callers holding a `RequestMeta` use `meta`.
    pub fn source_ip(mut self, source_ip: Option<&str>) -> Record {
        self.0.source_ip = source_ip.map(str::to_owned);
        self
    }

    /// What happened, as JSON (kept free-form: each kind has its own fields).
    pub fn detail(mut self, detail: serde_json::Value) -> Record {
        self.0.detail = detail;
        self
    }

    pub(crate) fn into_event(self) -> AuditEvent {
        self.0
    }

    /// The `alert` raised by this entry: the same time, actor, client, address and details,
    /// with the name of this entry's event as `cause`.
    pub(crate) fn alert(&self, alert: Event) -> Record {
        let mut detail = match &self.0.detail {
            serde_json::Value::Object(fields) => fields.clone(),
            _ => serde_json::Map::new(),
        };
        detail.insert("cause".into(), self.0.event.clone().into());
        Record(AuditEvent {
            event: alert.as_str().to_owned(),
            outcome: alert.outcome(),
            detail: detail.into(),
            ..self.0.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::RequestMeta;

    #[test]
    fn names_are_unique_and_dotted_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for kind in Event::ALL {
            let name = kind.as_str();
            assert!(seen.insert(name), "{name} is used by two kinds");
            let well_formed = name.split('.').all(|part| {
                !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            });
            assert!(well_formed, "{name} is not dotted lower case");
        }
    }

    /// The README's table is the published list: it must name every kind, with its outcome,
    /// and nothing else.
    #[test]
    fn the_readme_lists_every_event_with_its_outcome() {
        let readme = include_str!("../../../README.md");
        let listed: Vec<(String, String)> = readme
            .lines()
            .filter_map(|line| {
                let mut cells = line.strip_prefix("| `")?.split(" | ");
                let name = cells.next()?.strip_suffix('`')?;
                let outcome = cells.next()?;
                Some((name.to_owned(), outcome.to_owned()))
            })
            .filter(|(_, outcome)| outcome == "success" || outcome == "failure")
            .collect();
        let expected: Vec<(String, String)> = Event::ALL
            .iter()
            .map(|k| (k.as_str().to_owned(), k.outcome().as_str().to_owned()))
            .collect();
        assert_eq!(listed, expected);
    }

    #[test]
    fn the_builder_fills_every_field() {
        let meta = RequestMeta {
            source_ip: Some("203.0.113.7".into()),
            user_agent: Some("ua".into()),
        };
        let got = Event::TokenRefused
            .at(42)
            .actor("u1")
            .client("c1")
            .meta(&meta)
            .detail(serde_json::json!({ "reason": "r" }))
            .into_event();
        assert_eq!(
            got,
            AuditEvent {
                at: 42,
                event: "token.refused".into(),
                actor: Some("u1".into()),
                client_id: Some("c1".into()),
                source_ip: Some("203.0.113.7".into()),
                outcome: Outcome::Failure,
                detail: serde_json::json!({ "reason": "r" }),
            }
        );
        let bare = Event::PkiCrlPublished.at(1).into_event();
        assert_eq!(
            (bare.actor, bare.client_id, bare.source_ip),
            (None, None, None)
        );
        assert_eq!(bare.detail, serde_json::json!({}));
    }
}
