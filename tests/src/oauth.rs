//! Hand-made OAuth 2.0 / OpenID Connect requests, for what the SDK deliberately cannot do
//! (wrong verifiers, `client_secret_post`, missing PKCE...), and JWT inspection.

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use url::Url;

use crate::cli::RegisteredClient;
use crate::server::TestServer;

/// A PKCE pair (RFC 7636 §4.1–4.2), S256.
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        let verifier = B64.encode(crate::random_bytes(32));
        let challenge = s256(&verifier);
        Self {
            verifier,
            challenge,
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

/// `BASE64URL(SHA-256(ASCII(text)))`: the S256 challenge (RFC 7636 §4.2).
pub fn s256(text: &str) -> String {
    B64.encode(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()))
}

/// `at_hash` for an ES256/RS256 ID token: left half of SHA-256, base64url (OIDC Core §3.1.3.6).
pub fn at_hash(access_token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, access_token.as_bytes());
    B64.encode(&digest.as_ref()[..16])
}

/// An authentication request (OIDC Core §3.1.2.1) built by hand.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: String,
    pub nonce: String,
    /// Sends `code_challenge` (and `code_challenge_method`) when set.
    pub pkce: Option<Pkce>,
    pub code_challenge_method: String,
    /// Anything else, e.g. `("prompt", "none")`.
    pub extra: Vec<(String, String)>,
}

impl AuthRequest {
    /// `openid` scope, random `state` and `nonce`, PKCE S256.
    pub fn new(client: &RegisteredClient) -> Self {
        Self {
            client_id: client.client_id.clone(),
            redirect_uri: client.redirect_uri.clone(),
            scope: "openid".into(),
            state: crate::random_hex(16),
            nonce: crate::random_hex(16),
            pkce: Some(Pkce::new()),
            code_challenge_method: "S256".into(),
            extra: Vec::new(),
        }
    }

    pub fn param(mut self, key: &str, value: &str) -> Self {
        self.extra.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The request parameters, as a query string or a form body carries them.
    pub fn params(&self) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = [
            ("response_type", "code"),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("scope", &self.scope),
            ("state", &self.state),
            ("nonce", &self.nonce),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        if let Some(pkce) = &self.pkce {
            params.push(("code_challenge".into(), pkce.challenge.clone()));
            params.push((
                "code_challenge_method".into(),
                self.code_challenge_method.clone(),
            ));
        }
        params.extend(self.extra.iter().cloned());
        params
    }

    /// The `/authorize` URL on `server` (`GET`; the same parameters can be `POST`ed).
    pub fn url(&self, server: &TestServer) -> Url {
        let mut url = server.url("/authorize");
        url.query_pairs_mut().extend_pairs(self.params());
        url
    }

    pub fn verifier(&self) -> Option<&str> {
        self.pkce.as_ref().map(|p| p.verifier.as_str())
    }
}

/// The answer of the token (or UserInfo) endpoint.
#[derive(Debug)]
pub struct JsonAnswer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    /// The body as JSON (`Null` if it is not JSON).
    pub json: Value,
}

impl JsonAnswer {
    pub async fn read(response: reqwest::Response) -> anyhow::Result<Self> {
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await?;
        let json = serde_json::from_str(&body).unwrap_or(Value::Null);
        Ok(Self {
            status,
            headers,
            body,
            json,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// The OAuth `error` code, if the body has one.
    pub fn error(&self) -> Option<&str> {
        self.json["error"].as_str()
    }

    /// A string member of the JSON body.
    pub fn str(&self, key: &str) -> anyhow::Result<&str> {
        self.json[key]
            .as_str()
            .with_context(|| format!("`{key}` missing in {} {}", self.status, self.body))
    }
}

impl std::fmt::Display for JsonAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

/// How the client authenticates at the token endpoint (OIDC Core §9).
#[derive(Debug, Clone, Copy)]
pub enum ClientAuth<'a> {
    /// `client_secret_basic`.
    Basic(&'a str, &'a str),
    /// `client_secret_post`.
    Post(&'a str, &'a str),
    /// A public client: `client_id` in the body only.
    None(&'a str),
}

/// A plain HTTP client for relying-party calls (no cookies, no redirects).
pub fn rp_http() -> anyhow::Result<reqwest::Client> {
    Ok(crate::tls::client_builder()?
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()?)
}

/// `POST /token` with `form` plus the client authentication.
pub async fn token_request(
    server: &TestServer,
    auth: ClientAuth<'_>,
    form: &[(&str, &str)],
) -> anyhow::Result<JsonAnswer> {
    client_post(server, "/token", auth, form).await
}

/// `POST path` with `form` plus the client authentication (the token endpoint, the pushed
/// authorization request endpoint...).
pub async fn client_post(
    server: &TestServer,
    path: &str,
    auth: ClientAuth<'_>,
    form: &[(&str, &str)],
) -> anyhow::Result<JsonAnswer> {
    let mut fields: Vec<(&str, &str)> = form.to_vec();
    let mut request = rp_http()?.post(server.url(path));
    match auth {
        ClientAuth::Basic(id, secret) => {
            // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
            let enc = |s: &str| serde_urlencoded::to_string([("", s)]).map(|p| p[1..].to_owned());
            let credentials = format!("{}:{}", enc(id)?, enc(secret)?);
            request = request.header(
                "authorization",
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(credentials)
                ),
            );
        }
        ClientAuth::Post(id, secret) => {
            fields.push(("client_id", id));
            fields.push(("client_secret", secret));
        }
        ClientAuth::None(id) => fields.push(("client_id", id)),
    }
    let response = request
        .form(&fields)
        .send()
        .await
        .with_context(|| format!("POST {path}"))?;
    JsonAnswer::read(response).await
}

/// The authorization-code grant for `code` from `request`, with its PKCE verifier.
pub async fn exchange(
    server: &TestServer,
    auth: ClientAuth<'_>,
    request: &AuthRequest,
    code: &str,
) -> anyhow::Result<JsonAnswer> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", request.redirect_uri.as_str()),
    ];
    if let Some(verifier) = request.verifier() {
        form.push(("code_verifier", verifier));
    }
    token_request(server, auth, &form).await
}

/// `GET /userinfo` with a bearer token.
pub async fn userinfo(server: &TestServer, access_token: &str) -> anyhow::Result<JsonAnswer> {
    let response = rp_http()?
        .get(server.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .context("GET /userinfo")?;
    JsonAnswer::read(response).await
}

/// `POST /userinfo` with a bearer token (OIDC Core §5.3.1 allows both methods).
pub async fn userinfo_post(server: &TestServer, access_token: &str) -> anyhow::Result<JsonAnswer> {
    let response = rp_http()?
        .post(server.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .context("POST /userinfo")?;
    JsonAnswer::read(response).await
}

/// `GET` a JSON document (discovery, JWKS).
pub async fn get_json(server: &TestServer, path: &str) -> anyhow::Result<JsonAnswer> {
    let response = rp_http()?
        .get(server.url(path))
        .send()
        .await
        .with_context(|| format!("GET {path}"))?;
    JsonAnswer::read(response).await
}

/// The header and claims of a compact JWS, without verifying anything.
pub fn jwt_parts(jwt: &str) -> anyhow::Result<(Value, Value)> {
    let mut parts = jwt.split('.');
    let (Some(header), Some(claims), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        bail!("not a compact JWS: {jwt}");
    };
    let decode =
        |part: &str| -> anyhow::Result<Value> { Ok(serde_json::from_slice(&B64.decode(part)?)?) };
    Ok((decode(header)?, decode(claims)?))
}

/// Verifies a compact JWS against a JWKS on our own (ring), independently of the SDK:
/// the key is chosen by `kid` and must match the header's `alg` (ES256 or RS256).
pub fn verify_jws(jwt: &str, jwks: &Value) -> anyhow::Result<()> {
    use ring::signature::{
        ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents,
        UnparsedPublicKey,
    };
    let (header, _) = jwt_parts(jwt)?;
    let kid = header["kid"].as_str().context("JWS header has no kid")?;
    let alg = header["alg"].as_str().context("JWS header has no alg")?;
    let key = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid))
        .with_context(|| format!("no key with kid {kid} in the JWKS"))?;
    let (signed, signature) = jwt.rsplit_once('.').context("not a compact JWS")?;
    let signature = B64.decode(signature)?;
    let member = |name: &str| -> anyhow::Result<Vec<u8>> {
        Ok(B64.decode(
            key[name]
                .as_str()
                .with_context(|| format!("JWK has no {name}"))?,
        )?)
    };
    let verified = match (alg, key["kty"].as_str()) {
        ("ES256", Some("EC")) => {
            let mut point = vec![4u8];
            point.extend(member("x")?);
            point.extend(member("y")?);
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(signed.as_bytes(), &signature)
        }
        ("RS256", Some("RSA")) => RsaPublicKeyComponents {
            n: member("n")?,
            e: member("e")?,
        }
        .verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature),
        (alg, kty) => bail!("alg {alg} does not fit key type {kty:?}"),
    };
    verified.map_err(|_| anyhow::anyhow!("bad {alg} signature (kid {kid})"))
}
