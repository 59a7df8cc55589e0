//! A tiny scripted OpenID Provider on loopback for the SDK's own tests.
//!
//! It serves a discovery document and a JWKS, and answers the token and UserInfo
//! endpoints with whatever the test scripted; every request is recorded. ID tokens are
//! signed with `openidconnect`'s own `IdToken::new` (which also computes `at_hash`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use openidconnect::core::{
    CoreGenderClaim, CoreJsonCurveType, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey,
};
use openidconnect::{
    AccessToken, AdditionalClaims, IdToken, IdTokenClaims, JsonWebKeyId, PrivateSigningKey,
    SigningError,
};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

// ---------------------------------------------------------------- keys

/// ES256 test key (ring), usable by `IdToken::new`.
pub struct EcKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
    kid: String,
}

impl EcKey {
    pub fn generate(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        Self {
            pair,
            rng,
            kid: kid.into(),
        }
    }
}

impl PrivateSigningKey for EcKey {
    type VerificationKey = CoreJsonWebKey;

    fn sign(&self, alg: &CoreJwsSigningAlgorithm, msg: &[u8]) -> Result<Vec<u8>, SigningError> {
        match alg {
            CoreJwsSigningAlgorithm::EcdsaP256Sha256 => self
                .pair
                .sign(&self.rng, msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| SigningError::CryptoError),
            other => Err(SigningError::UnsupportedAlg(format!("{other:?}"))),
        }
    }

    fn as_verification_key(&self) -> CoreJsonWebKey {
        // Uncompressed SEC1 point: 0x04 || X || Y.
        let point = self.pair.public_key().as_ref();
        CoreJsonWebKey::new_ec(
            point[1..33].to_vec(),
            point[33..65].to_vec(),
            CoreJsonCurveType::P256,
            Some(JsonWebKeyId::new(self.kid.clone())),
        )
    }
}

/// RS256 test key (2048-bit, generated with the `rsa` crate).
pub fn rsa_key(kid: &str) -> CoreRsaPrivateSigningKey {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let pem = key.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF).unwrap();
    CoreRsaPrivateSigningKey::from_pem(&pem, Some(JsonWebKeyId::new(kid.into()))).unwrap()
}

pub fn jwks(keys: &[CoreJsonWebKey]) -> Value {
    json!({ "keys": keys })
}

// ---------------------------------------------------------------- ID tokens

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Extra {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}
impl AdditionalClaims for Extra {}

#[allow(clippy::disallowed_methods)]
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Baseline valid claims for `aud`/`nonce`; tests override fields in the JSON.
pub fn claims(issuer: &str, aud: &str, nonce: &str) -> Value {
    let now = now();
    json!({
        "iss": issuer,
        "aud": [aud],
        "sub": "user-42",
        "iat": now,
        "exp": now + 300,
        "auth_time": now - 10,
        "nonce": nonce,
        "acr": "urn:tessera:loa:substantial",
        "amr": ["pwd", "otp"],
        "sid": "session-7",
        "name": "Nguyễn Văn A",
        "preferred_username": "nguyenvana",
        "email": "a@example.gov.vn",
        "email_verified": true,
    })
}

/// Signs `claims` with `key`/`alg`; sets `at_hash` for `at_hash_of` when given.
pub fn sign<K>(
    claims: Value,
    key: &K,
    alg: CoreJwsSigningAlgorithm,
    at_hash_of: Option<&str>,
) -> String
where
    K: PrivateSigningKey<VerificationKey = CoreJsonWebKey>,
{
    let claims: IdTokenClaims<Extra, CoreGenderClaim> = serde_json::from_value(claims).unwrap();
    let at = at_hash_of.map(|t| AccessToken::new(t.into()));
    IdToken::<Extra, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>::new(
        claims,
        key,
        alg,
        at.as_ref(),
        None,
    )
    .unwrap()
    .to_string()
}

pub fn token_response(access_token: &str, id_token: &str) -> Value {
    json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 300,
        "refresh_token": "refresh-1",
        "id_token": id_token,
    })
}

// ---------------------------------------------------------------- server

#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: body.to_string(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Lower-cased header names.
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Recorded {
    pub fn form(&self) -> HashMap<String, String> {
        url::form_urlencoded::parse(self.body.as_bytes())
            .into_owned()
            .collect()
    }
}

struct State {
    discovery: Value,
    jwks: Value,
    token: Reply,
    userinfo: Reply,
    requests: Vec<Recorded>,
}

pub struct MockOp {
    pub issuer: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockOp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockOp {
    /// Starts on `127.0.0.1:0` advertising `algs`, serving `keys` as the JWKS.
    pub async fn start(algs: &[&str], keys: &[CoreJsonWebKey]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let discovery = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "userinfo_endpoint": format!("{issuer}/userinfo"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": algs,
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
            "code_challenge_methods_supported": ["S256"],
        });
        let state = Arc::new(Mutex::new(State {
            discovery,
            jwks: jwks(keys),
            token: Reply::json(500, json!({"error": "server_error"})),
            userinfo: Reply::json(500, json!({"error": "server_error"})),
            requests: Vec::new(),
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let shared = shared.clone();
                tokio::spawn(async move { serve(stream, shared).await });
            }
        });
        Self {
            issuer,
            state,
            task,
        }
    }

    pub fn set_discovery(&self, f: impl FnOnce(&mut Value)) {
        f(&mut self.state.lock().unwrap().discovery);
    }
    pub fn set_jwks(&self, keys: &[CoreJsonWebKey]) {
        self.state.lock().unwrap().jwks = jwks(keys);
    }
    pub fn set_token(&self, reply: Reply) {
        self.state.lock().unwrap().token = reply;
    }
    pub fn set_userinfo(&self, reply: Reply) {
        self.state.lock().unwrap().userinfo = reply;
    }
    pub fn requests(&self, path: &str) -> Vec<Recorded> {
        let state = self.state.lock().unwrap();
        state
            .requests
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    let reply = {
        let mut st = state.lock().unwrap();
        st.requests.push(request.clone());
        match (request.method.as_str(), request.path.as_str()) {
            ("GET", "/.well-known/openid-configuration") => Reply::json(200, st.discovery.clone()),
            ("GET", "/jwks") => Reply::json(200, st.jwks.clone()),
            ("POST", "/token") => st.token.clone(),
            ("GET" | "POST", "/userinfo") => st.userinfo.clone(),
            _ => Reply::json(404, json!({"error": "not_found"})),
        }
    };
    let head = format!(
        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        reply.status,
        reply.content_type,
        reply.body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(reply.body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn read_request(stream: &mut TcpStream) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Recorded {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// A provider with one ES256 key, and the relying party `hr-portal` discovered on it.
pub async fn es256_provider() -> (MockOp, EcKey, tessera_sdk::RelyingParty) {
    let key = EcKey::generate("ec-1");
    let op = MockOp::start(&["ES256"], &[key.as_verification_key()]).await;
    let rp = tessera_sdk::RelyingParty::discover(tessera_sdk::RpConfig {
        issuer: op.issuer.clone(),
        client_id: "hr-portal".into(),
        client_secret: Some("s3cret".into()),
        redirect_uri: "http://127.0.0.1:7000/callback".into(),
    })
    .await
    .unwrap();
    (op, key, rp)
}
