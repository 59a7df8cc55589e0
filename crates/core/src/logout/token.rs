//! The logout token (Back-Channel Logout 1.0 §2.4).

use serde_json::{Value, json};

/// The `events` member that makes a JWT a logout token (§2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// JOSE `typ` of logout tokens (§2.4 recommends explicit typing, RFC 8725 §3.11).
pub const TYP: &str = "logout+jwt";

/// Claims of a logout token for `client_id` about session `sid` of `sub`, issued at `now`.
/// Never a `nonce` (§2.4): that keeps a logout token from passing as an ID token.
pub fn claims(
    issuer: &str,
    client_id: &str,
    sub: &str,
    sid: &str,
    jti: &str,
    now: i64,
    ttl: i64,
) -> Value {
    json!({
        "iss": issuer,
        "aud": client_id,
        "iat": now,
        "exp": now + ttl,
        "jti": jti,
        "sub": sub,
        "sid": sid,
        "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_follow_section_2_4() {
        let c = claims("https://id.test", "vanban", "u1", "s1", "j1", 1_000, 120);
        assert_eq!(c["iss"], "https://id.test");
        assert_eq!(c["aud"], "vanban");
        assert_eq!(c["iat"], 1_000);
        assert_eq!(c["exp"], 1_120);
        assert_eq!(c["jti"], "j1");
        assert_eq!(c["sub"], "u1");
        assert_eq!(c["sid"], "s1");
        assert_eq!(c["events"][BACKCHANNEL_LOGOUT_EVENT], json!({}));
        assert!(c.get("nonce").is_none());
        assert_eq!(c.as_object().map(|o| o.len()), Some(8));
    }
}
