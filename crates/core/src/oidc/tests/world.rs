//! A shared world for the token-lifecycle tests (refresh, introspection, revocation): one user
//! with a live session, and clients of every kind, all calling through the real endpoints.

use std::collections::HashMap;

use serde_json::Value;
use tessera_proto::TokenResponse;
use tessera_store::audit::AuditEntry;
use tessera_store::sessions::SessionRecord;
use tessera_store::users::User;

use crate::admin::NewClient;
use crate::oidc::{introspect, revoke, token};
use crate::request::RequestMeta;
use crate::secrets::sha256_hex;
use crate::testkit::{self, REDIRECT, T0, basic};
use crate::{OAuthError, Provider};

/// When the world was set up (clients, user).
pub(super) const SETUP: i64 = T0 - 1000;
/// When the user logged in.
pub(super) const LOGIN: i64 = T0 - 100;
/// Short refresh lifetimes of client `short`.
pub(super) const SHORT_IDLE: i64 = 300;
pub(super) const SHORT_ABSOLUTE: i64 = 3600;

pub(super) struct World {
    pub p: Provider,
    pub user: User,
    pub session: (SessionRecord, User),
    secrets: HashMap<String, String>,
}

impl World {
    /// * `conf`, `other`: confidential, default grants (authorization_code, refresh_token);
    /// * `noref`: confidential, authorization_code only;
    /// * `short`: confidential, refresh tokens idle 300 s, families at most 3600 s;
    /// * `pub`: public (default grants);
    /// * `lgsp`: service client, client_credentials with `lgsp.read lgsp.write`;
    /// * user `an.nv`, logged in at [`LOGIN`].
    pub async fn new() -> World {
        let p = testkit::provider(SETUP).await;
        let user = testkit::add_user(&p, "an.nv", None, &["can-bo"], SETUP).await;
        let mut secrets = HashMap::new();
        for id in ["conf", "other"] {
            let (_, secret) = testkit::confidential_client(&p, id, None, SETUP).await;
            secrets.insert(id.to_owned(), secret);
        }
        let confidential = |id: &str| NewClient {
            id: id.into(),
            name: format!("Ứng dụng {id}"),
            redirect_uris: vec![REDIRECT.into()],
            ..NewClient::default()
        };
        let (_, noref) = testkit::client(
            &p,
            NewClient {
                grant_types: Some(vec!["authorization_code".into()]),
                ..confidential("noref")
            },
            SETUP,
        )
        .await;
        secrets.insert("noref".into(), noref.unwrap());
        let (_, short) = testkit::client(
            &p,
            NewClient {
                refresh_idle_ttl: Some(SHORT_IDLE),
                refresh_absolute_ttl: Some(SHORT_ABSOLUTE),
                ..confidential("short")
            },
            SETUP,
        )
        .await;
        secrets.insert("short".into(), short.unwrap());
        testkit::public_client(&p, "pub", None, SETUP).await;
        let (_, lgsp) =
            testkit::service_client(&p, "lgsp", &["lgsp.read", "lgsp.write"], SETUP).await;
        secrets.insert("lgsp".into(), lgsp);
        let (_, session) = testkit::session(&p, &user, LOGIN).await;
        World {
            p,
            user,
            session,
            secrets,
        }
    }

    pub fn secret(&self, client_id: &str) -> &str {
        &self.secrets[client_id]
    }

    /// `Authorization: Basic` of a confidential client.
    pub fn auth(&self, client_id: &str) -> String {
        basic(client_id, self.secret(client_id))
    }

    /// Client authentication for `client_id`: Basic for confidential clients, none for `pub`.
    fn auth_of(&self, client_id: &str) -> Option<String> {
        self.secrets.get(client_id).map(|s| basic(client_id, s))
    }

    /// A login of `client_id` through SSO (scope `openid profile` unless overridden): code at
    /// `now`, tokens at `now + 1`.
    pub async fn login(
        &self,
        client_id: &str,
        overrides: &[(&str, &str)],
        now: i64,
    ) -> TokenResponse {
        let mut all: Vec<(&str, &str)> = vec![("scope", "openid profile")];
        if client_id == "pub" {
            all.push(("code_challenge", testkit::CHALLENGE));
            all.push(("code_challenge_method", "S256"));
        }
        all.extend_from_slice(overrides);
        let auth = self.auth_of(client_id);
        testkit::login_tokens(
            &self.p,
            client_id,
            auth.as_deref(),
            &self.session,
            &all,
            now,
        )
        .await
    }

    /// `grant_type=refresh_token` by `client_id`, optionally narrowing the scope.
    pub async fn refresh(
        &self,
        client_id: &str,
        refresh_token: &str,
        scope: Option<&str>,
        now: i64,
    ) -> Result<TokenResponse, OAuthError> {
        let mut pairs = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        if let Some(scope) = scope {
            pairs.push(("scope", scope));
        }
        let auth = self.auth_of(client_id);
        if auth.is_none() {
            pairs.push(("client_id", client_id));
        }
        token::token(
            &self.p,
            &testkit::params(&pairs),
            auth.as_deref(),
            &RequestMeta::default(),
            now,
        )
        .await
    }

    /// `grant_type=client_credentials` by a confidential client.
    pub async fn client_credentials(
        &self,
        client_id: &str,
        scope: Option<&str>,
        now: i64,
    ) -> Result<TokenResponse, OAuthError> {
        let mut pairs = vec![("grant_type", "client_credentials")];
        if let Some(scope) = scope {
            pairs.push(("scope", scope));
        }
        token::token(
            &self.p,
            &testkit::params(&pairs),
            Some(&self.auth(client_id)),
            &RequestMeta::default(),
            now,
        )
        .await
    }

    /// RFC 7662 introspection by confidential client `caller`.
    pub async fn introspect(&self, caller: &str, token: &str, now: i64) -> Value {
        introspect::introspect(
            &self.p,
            &testkit::params(&[("token", token)]),
            Some(&self.auth(caller)),
            now,
        )
        .await
        .unwrap()
    }

    /// Whether `caller` sees `token` as active.
    pub async fn active(&self, caller: &str, token: &str, now: i64) -> bool {
        let answer = self.introspect(caller, token, now).await;
        match answer["active"].as_bool() {
            Some(true) => true,
            Some(false) => {
                assert_eq!(answer, serde_json::json!({ "active": false }));
                false
            }
            None => panic!("introspection without `active`: {answer}"),
        }
    }

    /// RFC 7009 revocation by `caller` (Basic for confidential clients, `client_id` for `pub`).
    pub async fn revoke(&self, caller: &str, token: &str, now: i64) -> Result<(), OAuthError> {
        let mut pairs = vec![("token", token)];
        let auth = self.auth_of(caller);
        if auth.is_none() {
            pairs.push(("client_id", caller));
        }
        revoke::revoke(
            &self.p,
            &testkit::params(&pairs),
            auth.as_deref(),
            &RequestMeta::default(),
            now,
        )
        .await
    }

    /// The stored family of a refresh token.
    pub async fn family_of(&self, refresh_token: &str) -> tessera_store::refresh::RefreshFamily {
        self.p
            .store
            .refresh_token(&sha256_hex(refresh_token.as_bytes()))
            .await
            .unwrap()
            .expect("a stored refresh token")
            .1
    }

    /// The stored record of a refresh token.
    pub async fn refresh_record(
        &self,
        refresh_token: &str,
    ) -> tessera_store::refresh::RefreshTokenRecord {
        self.p
            .store
            .refresh_token(&sha256_hex(refresh_token.as_bytes()))
            .await
            .unwrap()
            .expect("a stored refresh token")
            .0
    }

    pub async fn last_audit(&self) -> AuditEntry {
        self.p.store.recent_audit(1).await.unwrap().remove(0)
    }

    /// The newest audit entry is `event` and its detail has `reason`, when given.
    pub async fn assert_audit(&self, event: &str, reason: Option<&str>) -> AuditEntry {
        let e = self.last_audit().await;
        assert_eq!(e.event, event, "{e:?}");
        if let Some(reason) = reason {
            let detail: Value = serde_json::from_str(&e.detail).unwrap();
            assert_eq!(detail["reason"], reason, "{e:?}");
        }
        e
    }
}
