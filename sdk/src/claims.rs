//! The verified identity extracted from an ID token.

use std::ops::Deref;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openidconnect::LocalizedClaim;
use serde::{Deserialize, Serialize};

use crate::types::IdTokenClaimsT;

/// Claims of a *verified* ID token (OIDC Core §2 and §5.1).
///
/// Only built by [`RelyingParty::exchange_code`](crate::RelyingParty::exchange_code) after
/// every check of OIDC Core §3.1.3.7 passed. Serializable so applications can keep it in
/// their session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityClaims {
    /// Subject identifier, `sub` (§2).
    pub sub: String,
    /// Issuer, `iss` (§2); equal to the configured issuer.
    pub iss: String,
    /// Issued-at, `iat`, in seconds since the Unix epoch (§2).
    pub issued_at: i64,
    /// Expiry, `exp`, in seconds since the Unix epoch (§2).
    pub expires_at: i64,
    /// Time of the End-User's authentication, `auth_time`, seconds since the epoch (§2).
    pub auth_time: Option<i64>,
    /// Authentication Context Class Reference, `acr` (§2).
    pub acr: Option<String>,
    /// Authentication Methods References, `amr` (§2, values per RFC 8176); empty if absent.
    pub amr: Vec<String>,
    /// Session ID, `sid` (Front-Channel Logout 1.0 §3, Back-Channel Logout 1.0 §2.1).
    pub sid: Option<String>,
    /// `name` (§5.1); the untagged value, else the first language-tagged one.
    pub name: Option<String>,
    /// `given_name` (§5.1).
    pub given_name: Option<String>,
    /// `family_name` (§5.1).
    pub family_name: Option<String>,
    /// `preferred_username` (§5.1).
    pub preferred_username: Option<String>,
    /// `email` (§5.1).
    pub email: Option<String>,
    /// `email_verified` (§5.1).
    pub email_verified: Option<bool>,
    /// `phone_number` (§5.1).
    pub phone_number: Option<String>,
    /// `phone_number_verified` (§5.1).
    pub phone_number_verified: Option<bool>,
    /// Tessera's `roles` of the user (scope `org`); empty if absent.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Tessera's `unit_id` of the user (scope `org`).
    #[serde(default)]
    pub unit_id: Option<String>,
    /// Tessera's `unit_name` of the user (scope `org`).
    #[serde(default)]
    pub unit_name: Option<String>,
}

impl IdentityClaims {
    /// Whether the End-User authenticated no longer than `max_age` ago, judged by
    /// `auth_time`. `false` when `auth_time` is absent.
    ///
    /// When an application sent `max_age` (or `prompt=login`) it SHOULD check this
    /// (OIDC Core §3.1.2.1, §3.1.3.7 item 13).
    #[allow(clippy::disallowed_methods)] // a relying party checks against its own clock
    pub fn authenticated_within(&self, max_age: Duration) -> bool {
        let Some(auth_time) = self.auth_time else {
            return false;
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let max_age = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
        now.saturating_sub(auth_time) <= max_age
    }
}

impl From<&IdTokenClaimsT> for IdentityClaims {
    fn from(c: &IdTokenClaimsT) -> Self {
        Self {
            sub: c.subject().to_string(),
            iss: c.issuer().to_string(),
            issued_at: c.issue_time().timestamp(),
            expires_at: c.expiration().timestamp(),
            auth_time: c.auth_time().map(|t| t.timestamp()),
            acr: c.auth_context_ref().map(|a| a.to_string()),
            amr: c
                .auth_method_refs()
                .map(|v| v.iter().map(|a| a.to_string()).collect())
                .unwrap_or_default(),
            sid: c.additional_claims().sid.clone(),
            name: localized(c.name()),
            given_name: localized(c.given_name()),
            family_name: localized(c.family_name()),
            preferred_username: c.preferred_username().map(|u| u.to_string()),
            email: c.email().map(|e| e.to_string()),
            email_verified: c.email_verified(),
            phone_number: c.phone_number().map(|p| p.to_string()),
            phone_number_verified: c.phone_number_verified(),
            roles: c.additional_claims().roles.clone(),
            unit_id: c.additional_claims().unit_id.clone(),
            unit_name: c.additional_claims().unit_name.clone(),
        }
    }
}

/// The untagged value of a localized claim (OIDC Core §5.2), else any tagged one.
fn localized<T: Deref<Target = String>>(claim: Option<&LocalizedClaim<T>>) -> Option<String> {
    let claim = claim?;
    claim
        .get(None)
        .or_else(|| claim.iter().map(|(_, v)| v).next())
        .map(|v| v.deref().clone())
}
