//! Test support: a [`Provider`] on a fresh in-memory SQLite store, and helpers that register
//! units, users and clients and start sessions. Time is always passed in, so tests move the
//! clock by choosing `now` instead of sleeping.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tessera_hsm::soft::SoftwareToken;
use tessera_hsm::{KeyAlgorithm, KeyCustody, MasterKey};
use tessera_store::Store;
use tessera_store::audit::AuditLog;
use tessera_store::clients::Client;
use tessera_store::keys::SigningKeyRecord;
use tessera_store::sessions::SessionRecord;
use tessera_store::units::Unit;
use tessera_store::users::User;

use crate::admin::{self, NewClient, NewUser};
use crate::jose::{self, TokenSigner};
use crate::oidc::authorize::Decision;
use crate::params::Params;
use crate::request::RequestMeta;
use crate::secrets::Keyed;
use crate::{Config, Provider};

/// A fixed "now" (June 2025); tests add and subtract seconds from it.
pub(crate) const T0: i64 = 1_750_000_000;
pub(crate) const ISSUER: &str = "https://id.test";
pub(crate) const REDIRECT: &str = "https://app.test/cb";
pub(crate) const PASSWORD: &str = "mật khẩu đủ dài 2026";
pub(crate) const ACTOR: &str = "cli:test";
/// RFC 7636 Appendix B.
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub(crate) fn master_key() -> MasterKey {
    MasterKey::from_base64(&STANDARD.encode([7u8; 32])).expect("32 fixed bytes")
}

/// A provider on its own in-memory database, with signing keys for every algorithm. The keys
/// are generated once per test binary (a 2048-bit RSA key takes up to seconds) and wrapped
/// under the fixed master key, so each database gets the same ones.
pub(crate) async fn provider(now: i64) -> Provider {
    let store = store().await;
    for (alg, key) in shared_keys() {
        let public_jwk = tessera_hsm::PublicKey::from_spki_der(&key.spki_der)
            .and_then(|k| k.to_jwk())
            .expect("public key");
        let inserted = store
            .insert_active_key(&SigningKeyRecord {
                kid: jose::thumbprint(&public_jwk).expect("thumbprint"),
                alg: alg.jws_name().to_owned(),
                backend: "software".into(),
                key_ref: key.key_ref.clone(),
                public_jwk: public_jwk.to_string(),
                status: "active".into(),
                created_at: now,
                retired_at: None,
                remove_after: None,
            })
            .await
            .expect("insert signing key");
        assert!(inserted);
    }
    assemble(store, now).await
}

/// A provider whose signing keys `TokenSigner::ensure_keys` generates: unlike
/// [`provider`]'s, they are its own.
pub(crate) async fn provider_with_own_keys(now: i64) -> Provider {
    assemble(store().await, now).await
}

async fn store() -> Store {
    let store = Store::connect("sqlite::memory:")
        .await
        .expect("in-memory sqlite");
    store.migrate().await.expect("migrations");
    store
}

fn shared_keys() -> &'static [(KeyAlgorithm, tessera_hsm::GeneratedKey)] {
    static KEYS: OnceLock<Vec<(KeyAlgorithm, tessera_hsm::GeneratedKey)>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let custody = SoftwareToken::new(&master_key()).expect("software token");
        jose::ALGORITHMS
            .iter()
            .map(|alg| {
                (
                    *alg,
                    custody
                        .generate(alg.key_type(), tessera_hsm::KeyPurpose::Token)
                        .expect("key generation"),
                )
            })
            .collect()
    })
}

async fn assemble(store: Store, now: i64) -> Provider {
    let master = master_key();
    let custody = SoftwareToken::new(&master).expect("software token");
    let signer = TokenSigner::new(store.clone(), Arc::new(custody));
    signer.ensure_keys(now).await.expect("signing keys");
    let audit = AuditLog::start(
        store.clone(),
        Keyed::new(&master).audit_key(),
        "test",
        now,
        "test-chain".into(),
    )
    .await
    .expect("audit log");
    Provider {
        config: Config::new(ISSUER),
        store,
        signer,
        keyed: Keyed::new(&master),
        audit,
        outbound: std::sync::Arc::new(crate::outbound::DenyAll),
        passkeys: crate::mfa::relying_party::Passkeys::new(ISSUER).expect("relying party"),
        jwks_cache: crate::provider::new_jwks_cache(),
        hash_permits: crate::provider::new_hash_permits(),
        observer: None,
        directory: None,
    }
}

pub(crate) async fn add_unit(p: &Provider, name: &str, now: i64) -> Unit {
    admin::add_unit(p, ACTOR, name, None, now)
        .await
        .expect("add unit")
}

/// A user with [`PASSWORD`], an e-mail address and a phone number.
pub(crate) async fn add_user(
    p: &Provider,
    username: &str,
    unit_id: Option<&str>,
    roles: &[&str],
    now: i64,
) -> User {
    admin::add_user(
        p,
        ACTOR,
        NewUser {
            username: username.into(),
            display_name: "Nguyễn Văn An".into(),
            email: Some(format!("{username}@haiphong.gov.vn")),
            phone: Some("+84912345678".into()),
            unit_id: unit_id.map(str::to_owned),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            password: PASSWORD.into(),
            must_change_password: false,
        },
        now,
    )
    .await
    .expect("add user")
}

/// A confidential client redirecting to [`REDIRECT`]; returns it and its secret.
pub(crate) async fn confidential_client(
    p: &Provider,
    id: &str,
    alg: Option<&str>,
    now: i64,
) -> (Client, String) {
    let (client, secret) = admin::add_client(
        p,
        ACTOR,
        NewClient {
            id: id.into(),
            name: format!("Ứng dụng {id}"),
            public: false,
            redirect_uris: vec![REDIRECT.into()],
            alg: alg.map(str::to_owned),
            ..NewClient::default()
        },
        now,
    )
    .await
    .expect("add confidential client");
    (client, secret.expect("confidential clients get a secret"))
}

/// A public client redirecting to [`REDIRECT`], allowed only `scopes` when given.
pub(crate) async fn public_client(
    p: &Provider,
    id: &str,
    scopes: Option<&[&str]>,
    now: i64,
) -> Client {
    admin::add_client(
        p,
        ACTOR,
        NewClient {
            id: id.into(),
            name: format!("Ứng dụng {id}"),
            public: true,
            redirect_uris: vec![REDIRECT.into()],
            scopes: scopes.map(|s| s.iter().map(|v| (*v).to_owned()).collect()),
            ..NewClient::default()
        },
        now,
    )
    .await
    .expect("add public client")
    .0
}

/// Starts a session as if the user had logged in at `now`; returns the cookie, the record and
/// the user in the shape `authorize` takes.
pub(crate) async fn session(
    p: &Provider,
    user: &User,
    now: i64,
) -> (String, (SessionRecord, User)) {
    let (cookie, record) =
        crate::session::start_session(p, user, None, &RequestMeta::default(), now)
            .await
            .expect("start session");
    (cookie, (record, user.clone()))
}

pub(crate) fn params(pairs: &[(&str, &str)]) -> Params {
    Params::from_pairs(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
    .expect("test parameters are well formed")
}

/// A valid authorization request for `client_id`, with `overrides` replacing or adding
/// parameters (an empty value removes one, as on the wire).
pub(crate) fn authz(client_id: &str, overrides: &[(&str, &str)]) -> Params {
    let mut pairs: Vec<(&str, &str)> = vec![
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "st-1"),
        ("nonce", "n-1"),
    ];
    for (k, v) in overrides {
        pairs.retain(|(name, _)| name != k);
        pairs.push((k, v));
    }
    params(&pairs)
}

/// The query of a redirect URL as a map.
pub(crate) fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .expect("redirect is a URL")
        .query_pairs()
        .into_owned()
        .collect()
}

/// The code of a successful redirect, after checking that it goes to [`REDIRECT`] and carries
/// `state` and `iss` (RFC 9207).
pub(crate) fn code_of(decision: &Decision) -> String {
    let Decision::Redirect(url) = decision else {
        panic!("expected a redirect, got {decision:?}");
    };
    assert!(url.starts_with(&format!("{REDIRECT}?")), "{url}");
    let q = query(url);
    assert_eq!(q.get("iss").map(String::as_str), Some(ISSUER), "{url}");
    assert_eq!(q.get("error"), None, "{url}");
    q.get("code").cloned().expect("redirect carries a code")
}

/// `Authorization: Basic` for a client (RFC 6749 §2.3.1).
pub(crate) fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

/// Registers (once) the API scopes among `scopes`, as an operator would with
/// `tessera scope add` before giving them to a client.
pub(crate) async fn register_api_scopes(p: &Provider, scopes: &[String], now: i64) {
    for s in scopes {
        let api = !crate::oidc::SCOPES.contains(&s.as_str()) && !s.starts_with("tessera:");
        if api
            && crate::oidc::valid_scope_name(s)
            && p.store.api_scope(s).await.expect("scope lookup").is_none()
        {
            admin::add_api_scope(p, ACTOR, s, "API scope for tests", None, now)
                .await
                .expect("register API scope");
        }
    }
}

/// Registers any client (and the API scopes it names); returns it and its secret, if it has
/// one.
pub(crate) async fn client(p: &Provider, new: NewClient, now: i64) -> (Client, Option<String>) {
    register_api_scopes(p, new.scopes.as_deref().unwrap_or_default(), now).await;
    admin::add_client(p, ACTOR, new, now)
        .await
        .expect("add client")
}

/// A confidential client for the client-credentials grant only (no redirect URI), allowed
/// `scopes`; returns it and its secret.
pub(crate) async fn service_client(
    p: &Provider,
    id: &str,
    scopes: &[&str],
    now: i64,
) -> (Client, String) {
    let (client, secret) = client(
        p,
        NewClient {
            id: id.into(),
            name: format!("Dịch vụ {id}"),
            grant_types: Some(vec!["client_credentials".into()]),
            scopes: Some(scopes.iter().map(|s| (*s).to_owned()).collect()),
            ..NewClient::default()
        },
        now,
    )
    .await;
    (client, secret.expect("confidential clients get a secret"))
}

/// Tokens for `client_id` (authenticated by `authorization`, or public) through SSO in
/// `session`: the code is issued at `now` and exchanged at `now + 1`.
pub(crate) async fn login_tokens(
    p: &Provider,
    client_id: &str,
    authorization: Option<&str>,
    session: &(SessionRecord, User),
    overrides: &[(&str, &str)],
    now: i64,
) -> tessera_proto::TokenResponse {
    let meta = RequestMeta::default();
    let d = crate::oidc::authorize::authorize(
        p,
        &authz(client_id, overrides),
        Some(session),
        &meta,
        now,
    )
    .await
    .expect("authorize");
    let code = code_of(&d);
    let mut pairs = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    if authorization.is_none() {
        pairs.push(("client_id", client_id));
    }
    if overrides.iter().any(|(k, _)| *k == "code_challenge") {
        pairs.push(("code_verifier", VERIFIER));
    }
    crate::oidc::token::token(p, &params(&pairs), authorization, &meta, now + 1)
        .await
        .expect("code exchange")
}

/// A client's own P-256 key for `private_key_jwt` (RFC 7523), made with ring: the test plays
/// the client, which holds the private half and registers the public one.
pub(crate) struct ClientKey {
    pair: ring::signature::EcdsaKeyPair,
    pub(crate) kid: String,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientKey({})", self.kid)
    }
}

impl ClientKey {
    pub(crate) fn generate(kid: &str) -> ClientKey {
        use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("P-256 key generation");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("P-256 key parsing");
        ClientKey {
            pair,
            kid: kid.to_owned(),
        }
    }

    /// The public JWK (RFC 7518 §6.2): the uncompressed point `04 || x || y`.
    pub(crate) fn jwk(&self) -> serde_json::Value {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use ring::signature::KeyPair;
        let point = self.pair.public_key().as_ref();
        assert_eq!(point.len(), 65);
        serde_json::json!({
            "kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig", "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..]),
        })
    }

    /// A JWK Set with this key only, as the client registers it.
    pub(crate) fn jwks(&self) -> String {
        serde_json::json!({ "keys": [self.jwk()] }).to_string()
    }

    /// `header.claims` signed with this key, whatever the header says.
    pub(crate) fn sign(&self, header: &serde_json::Value, claims: &serde_json::Value) -> String {
        let input = jws_input(header, claims);
        let rng = ring::rand::SystemRandom::new();
        let sig = self
            .pair
            .sign(&rng, input.as_bytes())
            .expect("ES256 signature");
        format!("{input}.{}", b64url(sig.as_ref()))
    }

    /// The usual header: `{"alg": "ES256", "kid": …, "typ": "JWT"}`.
    pub(crate) fn header(&self) -> serde_json::Value {
        serde_json::json!({ "alg": "ES256", "kid": self.kid, "typ": "JWT" })
    }

    /// A valid client assertion for `client_id` at the token endpoint of [`ISSUER`], made at
    /// `now`, living 300 s.
    pub(crate) fn assertion(&self, client_id: &str, jti: &str, now: i64) -> String {
        self.sign(&self.header(), &assertion_claims(client_id, jti, now))
    }
}

/// Claims of a client assertion (RFC 7523 §3) for the token endpoint of [`ISSUER`].
pub(crate) fn assertion_claims(client_id: &str, jti: &str, now: i64) -> serde_json::Value {
    serde_json::json!({
        "iss": client_id, "sub": client_id, "aud": format!("{ISSUER}/token"),
        "iat": now, "exp": now + 300, "jti": jti,
    })
}

pub(crate) fn b64url(bytes: &[u8]) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The JWS signing input `BASE64URL(header) . BASE64URL(claims)`.
pub(crate) fn jws_input(header: &serde_json::Value, claims: &serde_json::Value) -> String {
    format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    )
}
