//! Token lifecycle by hand: refresh, client credentials, introspection (RFC 7662) and
//! revocation (RFC 7009) with any client authentication, service clients registered through
//! the CLI, and a client's own P-256 key for `private_key_jwt` (RFC 7523).

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

use crate::cli::RegisteredClient;
use crate::oauth::{JsonAnswer, rp_http};
use crate::server::TestServer;
use crate::tempdir::TempDir;

/// `client_assertion_type` for a JWT client assertion (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How a client authenticates at the token, introspection and revocation endpoints.
#[derive(Debug, Clone)]
pub enum Auth {
    /// `client_secret_basic`.
    Basic(String, String),
    /// `client_secret_post`.
    Post(String, String),
    /// A public client: `client_id` only.
    None(String),
    /// `private_key_jwt`: this signed assertion.
    Assertion(String),
}

impl Auth {
    /// Basic with a registered client's secret (an error for a public client).
    pub fn basic(client: &RegisteredClient) -> anyhow::Result<Self> {
        let secret = client
            .client_secret
            .clone()
            .with_context(|| format!("{} has no secret", client.client_id))?;
        Ok(Self::Basic(client.client_id.clone(), secret))
    }
}

/// `POST path` with a form body plus the client authentication.
pub async fn post(
    server: &TestServer,
    path: &str,
    auth: &Auth,
    form: &[(&str, &str)],
) -> anyhow::Result<JsonAnswer> {
    let mut fields: Vec<(&str, &str)> = form.to_vec();
    let mut request = rp_http()?.post(server.url(path));
    match auth {
        Auth::Basic(id, secret) => {
            let enc = |s: &str| serde_urlencoded::to_string([("", s)]).map(|p| p[1..].to_owned());
            let credentials = format!("{}:{}", enc(id)?, enc(secret)?);
            request = request.header(
                "authorization",
                format!("Basic {}", STANDARD.encode(credentials)),
            );
        }
        Auth::Post(id, secret) => {
            fields.push(("client_id", id));
            fields.push(("client_secret", secret));
        }
        Auth::None(id) => fields.push(("client_id", id)),
        Auth::Assertion(jwt) => {
            fields.push(("client_assertion_type", JWT_BEARER));
            fields.push(("client_assertion", jwt));
        }
    }
    let response = request
        .form(&fields)
        .send()
        .await
        .with_context(|| format!("POST {path}"))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.text().await?;
    let json = serde_json::from_str(&body).unwrap_or(Value::Null);
    Ok(JsonAnswer {
        status,
        headers,
        body,
        json,
    })
}

/// `grant_type=refresh_token`, optionally narrowing the scope.
pub async fn refresh(
    server: &TestServer,
    auth: &Auth,
    refresh_token: &str,
    scope: Option<&str>,
) -> anyhow::Result<JsonAnswer> {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    post(server, "/token", auth, &form).await
}

/// `grant_type=client_credentials`, with the client's default scope unless `scope` is given.
pub async fn client_credentials(
    server: &TestServer,
    auth: &Auth,
    scope: Option<&str>,
) -> anyhow::Result<JsonAnswer> {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    post(server, "/token", auth, &form).await
}

/// `POST /introspect` (RFC 7662 §2.1).
pub async fn introspect(
    server: &TestServer,
    auth: &Auth,
    token: &str,
) -> anyhow::Result<JsonAnswer> {
    post(server, "/introspect", auth, &[("token", token)]).await
}

/// Whether introspection by `auth` says `token` is active; a 200 is required, and an inactive
/// answer must be exactly `{"active": false}` (RFC 7662 §2.2: nothing else is revealed).
pub async fn is_active(server: &TestServer, auth: &Auth, token: &str) -> anyhow::Result<bool> {
    let answer = introspect(server, auth, token).await?;
    if answer.status != reqwest::StatusCode::OK {
        bail!("introspection failed: {answer}");
    }
    match answer.json["active"].as_bool() {
        Some(true) => Ok(true),
        Some(false) if answer.json == json!({ "active": false }) => Ok(false),
        _ => bail!("unexpected introspection answer: {answer}"),
    }
}

/// `POST /revoke` (RFC 7009 §2.1).
pub async fn revoke(server: &TestServer, auth: &Auth, token: &str) -> anyhow::Result<JsonAnswer> {
    post(server, "/revoke", auth, &[("token", token)]).await
}

const OIDC_SCOPES: [&str; 6] = [
    "openid",
    "profile",
    "email",
    "phone",
    "org",
    "offline_access",
];

impl TestServer {
    /// `tessera scope add NAME` unless it is registered already (`tessera scope list`).
    pub async fn register_scope(&self, name: &str) -> anyhow::Result<()> {
        let list = self
            .cli_ok(&["scope", "list", "--json"], None)
            .await?
            .json()?;
        let known = list
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s["name"] == name));
        if !known {
            self.cli_ok(
                &["scope", "add", name, "--description", "API scope for tests"],
                None,
            )
            .await?;
        }
        Ok(())
    }
}

/// A service client for `tessera client add`: no redirect URI, `--grant-type` (repeatable),
/// `--scopes`, and optionally a JWKS file (then it authenticates with `private_key_jwt`).
#[derive(Debug, Clone)]
pub struct ServiceClient {
    pub id: String,
    pub name: String,
    pub grant_types: Vec<String>,
    pub scopes: String,
    /// The JWK Set to register with `--jwks FILE`.
    pub jwks: Option<String>,
}

impl ServiceClient {
    /// A client for `client_credentials` only, allowed `scopes` (space separated).
    pub fn new(id: &str, name: &str, scopes: &str) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            grant_types: vec!["client_credentials".into()],
            scopes: scopes.to_owned(),
            jwks: None,
        }
    }

    pub fn with_jwks(mut self, jwks: String) -> Self {
        self.jwks = Some(jwks);
        self
    }

    /// The `tessera client add …` arguments (the JWKS file path is passed in).
    fn args(&self, jwks_file: Option<&str>) -> Vec<String> {
        let mut args = vec![
            "client".to_owned(),
            "add".to_owned(),
            format!("--id={}", self.id),
            format!("--name={}", self.name),
            format!("--scopes={}", self.scopes),
            "--json".to_owned(),
        ];
        for grant in &self.grant_types {
            args.push(format!("--grant-type={grant}"));
        }
        if let Some(file) = jwks_file {
            args.push(format!("--jwks={file}"));
        }
        args
    }

    /// Registers the client through the CLI (`--jwks` from a temporary file). A client with
    /// keys gets no secret; one without gets one.
    pub async fn register(&self, server: &TestServer) -> anyhow::Result<RegisteredClient> {
        let dir = TempDir::new("tessera-jwks")?;
        let file = match &self.jwks {
            Some(jwks) => {
                let path = dir.path().join("jwks.json");
                std::fs::write(&path, jwks)?;
                Some(path.to_string_lossy().into_owned())
            }
            None => None,
        };
        // API scopes are registered objects: the operator registers them first.
        for scope in self.scopes.split_whitespace() {
            if !OIDC_SCOPES.contains(&scope) && !scope.starts_with("tessera:") {
                server.register_scope(scope).await?;
            }
        }
        let args = self.args(file.as_deref());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let json = server.cli_ok(&args, None).await?.json()?;
        let client_secret = json["client_secret"].as_str().map(str::to_owned);
        if self.jwks.is_some() == client_secret.is_some() {
            bail!(
                "client add: jwks given: {}, but client_secret is {client_secret:?}",
                self.jwks.is_some()
            );
        }
        Ok(RegisteredClient {
            client_id: json["client_id"]
                .as_str()
                .context("client add printed no client_id")?
                .to_owned(),
            client_secret,
            redirect_uri: String::new(),
        })
    }
}

/// A client's own P-256 key (the client keeps the private half; Tessera gets the JWKS).
pub struct ClientKey {
    pair: EcdsaKeyPair,
    pub kid: String,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientKey({})", self.kid)
    }
}

impl ClientKey {
    pub fn generate(kid: &str) -> anyhow::Result<Self> {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| anyhow::anyhow!("P-256 key generation failed"))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|_| anyhow::anyhow!("P-256 key unreadable"))?;
        Ok(Self {
            pair,
            kid: kid.to_owned(),
        })
    }

    /// The public JWK: `x` and `y` of the uncompressed point `04 || x || y`.
    pub fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({
            "kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig", "alg": "ES256",
            "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..]),
        })
    }

    /// A JWK Set with this key only.
    pub fn jwks(&self) -> String {
        json!({ "keys": [self.jwk()] }).to_string()
    }

    /// `header.claims`, signed ES256 with this key.
    pub fn sign(&self, header: &Value, claims: &Value) -> anyhow::Result<String> {
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let sig = self
            .pair
            .sign(&ring::rand::SystemRandom::new(), input.as_bytes())
            .map_err(|_| anyhow::anyhow!("ES256 signing failed"))?;
        Ok(format!("{input}.{}", B64.encode(sig.as_ref())))
    }

    /// A client assertion (RFC 7523 §3) for `client_id` addressed to `aud`, living 120 s.
    pub fn assertion(&self, client_id: &str, aud: &str, jti: &str) -> anyhow::Result<String> {
        let now = unix_now();
        self.sign(
            &json!({ "alg": "ES256", "kid": self.kid, "typ": "JWT" }),
            &json!({
                "iss": client_id, "sub": client_id, "aud": aud,
                "iat": now, "exp": now + 120, "jti": jti,
            }),
        )
    }
}

/// The current time in Unix seconds, as a client stamps its assertions.
#[allow(clippy::disallowed_methods)] // the test plays a client, which reads its own clock
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
