//! Alerts for the security operations centre: audit events of their own (`alert.*`), each
//! recorded together with the entry whose condition raised it (just before it), so that the SOC can route them
//! without knowing which ordinary events matter. The SOC feed sends them with the syslog
//! severity given here (see [`crate::soc_feed`]).

use crate::audit::{Event, Record};
use crate::error::CoreError;
use crate::provider::Provider;

/// A condition the SOC must hear of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alert {
    /// Sign-in or password confirmation throttled: someone is guessing passwords.
    BruteForce,
    /// A spent refresh token came back: a copy is in someone else's hands.
    RefreshTokenReuse,
    /// A passkey's signature counter went backwards: a possibly cloned authenticator.
    SignCounterRegression,
    /// The HSM is out of service after every recovery step.
    HsmFailure,
    /// The audit log failed verification.
    AuditVerificationFailed,
    /// A credential expires within the notice period.
    CertificateExpiring,
}

impl Alert {
    pub fn event(self) -> Event {
        match self {
            Alert::BruteForce => Event::AlertBruteForce,
            Alert::RefreshTokenReuse => Event::AlertRefreshTokenReuse,
            Alert::SignCounterRegression => Event::AlertSignCounterRegression,
            Alert::HsmFailure => Event::AlertHsmFailure,
            Alert::AuditVerificationFailed => Event::AlertAuditVerificationFailed,
            Alert::CertificateExpiring => Event::AlertCertificateExpiring,
        }
    }

    /// Syslog severity (RFC 5424 §6.2.1): 1 alert, 2 critical, 3 error, 4 warning.
    fn severity(self) -> u8 {
        match self {
            Alert::HsmFailure | Alert::AuditVerificationFailed => 1,
            Alert::RefreshTokenReuse | Alert::SignCounterRegression => 2,
            Alert::BruteForce => 3,
            Alert::CertificateExpiring => 4,
        }
    }

    const ALL: [Alert; 6] = [
        Alert::BruteForce,
        Alert::RefreshTokenReuse,
        Alert::SignCounterRegression,
        Alert::HsmFailure,
        Alert::AuditVerificationFailed,
        Alert::CertificateExpiring,
    ];
}

/// The syslog severity of `event` when it is an alert.
pub fn severity(event: &str) -> Option<u8> {
    Alert::ALL
        .iter()
        .find(|a| a.event().as_str() == event)
        .map(|a| a.severity())
}

/// Records the `alert` raised by `cause` (same actor, client, address and details, with
/// `cause` naming its event), then `cause` itself, which stays the latest entry of the two. The
/// one way alerts that follow an event are emitted.
pub async fn raise(p: &Provider, alert: Alert, cause: Record) -> Result<(), CoreError> {
    p.audit(cause.alert(alert.event())).await?;
    p.audit(cause).await
}

/// How long a condition must stay away before it is alerted again: an attack that goes on is
/// one alert at its onset, not one per refused attempt.
pub const QUIET_SECS: i64 = 15 * 60;

/// Records `cause`, and the `alert` it raises (as [`raise`]) only when it opens an attack
/// window for one of `subjects` (an account, an address): no occurrence for that subject in the
/// last [`QUIET_SECS`]. The windows live in the database, so every replica agrees.
pub async fn raise_at_onset(
    p: &Provider,
    alert: Alert,
    subjects: &[&str],
    now: i64,
    cause: Record,
) -> Result<(), CoreError> {
    let mut onset = false;
    for subject in subjects {
        let key = format!("{} {subject}", alert.event().as_str());
        // Every window is touched, so each stays open while its attack goes on.
        onset |= p.store.open_alert_window(&key, now, QUIET_SECS).await?;
    }
    if onset {
        raise(p, alert, cause).await
    } else {
        p.audit(cause).await
    }
}

/// Records an `alert` that no other entry precedes (the HSM out of service, a broken audit
/// log), by `actor` (`system` for the server itself).
pub async fn raise_bare(
    p: &Provider,
    alert: Alert,
    actor: &str,
    now: i64,
    detail: serde_json::Value,
) -> Result<(), CoreError> {
    p.audit(alert.event().at(now).actor(actor).detail(detail))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alert_event_is_named_alert_and_has_a_severity() {
        for a in Alert::ALL {
            let name = a.event().as_str();
            assert!(name.starts_with("alert."), "{name}");
            assert!(severity(name).is_some_and(|s| (1..=4).contains(&s)));
        }
        assert_eq!(severity("login.failure"), None);
    }
}
