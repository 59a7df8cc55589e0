//! The signing-requests API end to end: an application asks an official for signatures with
//! its own client-credentials token (scope `sign:request`, once a unit allowed it) or with the
//! official's token from the code flow (scope `sign`); the answers to missing, bad and
//! unscoped tokens, another application's request, a document over the configured limit and
//! one that is not a PDF; cancellation announced by a webhook whose JWT verifies against the
//! JWKS; the permission given through the administration API. `sdk_signing` drives the same
//! with the SDK. Approval happens on the official's pages (tested there); signing itself is
//! covered by the core's tests.

use std::time::Duration;

use anyhow::{Context, ensure};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_e2e::admin::{ADMIN_SCOPE, AdminApi, login_token};
use tessera_e2e::lifecycle::{self, Auth};
use tessera_e2e::oauth::{self, JsonAnswer};

use tessera_e2e::{Backend, LogoutReceiver, NewUser, RegisteredClient, ServerOptions, TestServer};
use tessera_proto::signing::{SIGNING_EVENT, SIGNING_EVENT_TYP};

scenarios!(signing_requests_api, signing_units_through_the_admin_api);

pub(crate) const PASSWORD: &str = "mat-khau-rat-dai-2468";
pub(crate) const PDF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/pdf/quyet-dinh-libreoffice.pdf"
);
/// Above the fixture PDF (60 kB), well below the default.
pub(crate) const MAX_DOCUMENT: usize = 70_000;

pub(crate) struct World {
    pub(crate) s: TestServer,
    pub(crate) unit: String,
    pub(crate) vanban: RegisteredClient,
    pub(crate) motcua: RegisteredClient,
    pub(crate) hooks: LogoutReceiver,
}

/// A unit with the official an.nv holding a personal credential from Tessera's CA, and two
/// applications allowed both signing scopes and both grants.
pub(crate) async fn world(backend: Backend) -> anyhow::Result<World> {
    world_with(backend, ServerOptions::default()).await
}

/// [`world`] with more server settings (they come last, so they win).
pub(crate) async fn world_with(backend: Backend, extra: ServerOptions) -> anyhow::Result<World> {
    let mut options = ServerOptions::default().allow_loopback_calls().env(
        "TESSERA_SIGNING_MAX_DOCUMENT_BYTES",
        &MAX_DOCUMENT.to_string(),
    );
    options.env.extend(extra.env);
    let s = TestServer::start_with(backend, options).await?;
    let unit = s.add_unit("Sở Tư pháp", None).await?;
    let mut an = NewUser::new("an.nv", "Nguyễn Văn An", PASSWORD);
    an.unit = Some(unit.clone());
    s.add_user(&an).await?;
    s.cli_ok(&["ca", "init", "--base-url", s.issuer()], None)
        .await?;
    s.cli_ok(&["cert", "issue", "--user", "an.nv"], None)
        .await?;
    let vanban = app(&s, "vanban").await?;
    let motcua = app(&s, "motcua").await?;
    Ok(World {
        s,
        unit,
        vanban,
        motcua,
        hooks: LogoutReceiver::start().await?,
    })
}

async fn app(s: &TestServer, id: &str) -> anyhow::Result<RegisteredClient> {
    let redirect_uri = format!("http://127.0.0.1:9/{id}/cb");
    let json = s
        .cli_ok(
            &[
                "client",
                "add",
                &format!("--id={id}"),
                &format!("--name=Ứng dụng {id}"),
                &format!("--redirect-uri={redirect_uri}"),
                "--scopes=openid profile sign sign:request",
                "--grant-type=authorization_code",
                "--grant-type=client_credentials",
                "--json",
            ],
            None,
        )
        .await?
        .json()?;
    Ok(RegisteredClient {
        client_id: id.to_owned(),
        client_secret: json["client_secret"].as_str().map(str::to_owned),
        redirect_uri,
    })
}

pub(crate) async fn app_token(s: &TestServer, client: &RegisteredClient) -> anyhow::Result<String> {
    let answer =
        lifecycle::client_credentials(s, &Auth::basic(client)?, Some("sign:request")).await?;
    ensure!(answer.status == StatusCode::OK, "{answer}");
    Ok(answer.str("access_token")?.to_owned())
}

pub(crate) async fn call(
    s: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> anyhow::Result<JsonAnswer> {
    let mut req = oauth::rp_http()?.request(method, s.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    JsonAnswer::read(req.send().await?).await
}

pub(crate) fn request(documents: Value, signer: Option<&str>, callback: Option<&str>) -> Value {
    let mut v = json!({ "title": "Quyết định bổ nhiệm", "documents": documents });
    if let Some(signer) = signer {
        v["signer"] = json!(signer);
    }
    if let Some(uri) = callback {
        v["callback_uri"] = json!(uri);
    }
    v
}

pub(crate) fn pdf_documents() -> anyhow::Result<Value> {
    let pdf = std::fs::read(PDF)?;
    Ok(json!([{ "name": "qd.pdf", "pdf": STANDARD.encode(pdf) }]))
}

pub(crate) fn expect_error(a: &JsonAnswer, status: StatusCode, error: &str) -> anyhow::Result<()> {
    ensure!(
        a.status == status && a.error() == Some(error),
        "expected {status} {error}, got {a}"
    );
    ensure!(
        a.json["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "no description in {a}"
    );
    Ok(())
}

pub(crate) const REQUESTS: &str = "/api/signing/requests";

async fn signing_requests_api(backend: Backend) -> anyhow::Result<()> {
    let w = world(backend).await?;
    let s = &w.s;
    let docs = pdf_documents()?;
    let body = request(docs.clone(), Some("an.nv"), None);

    // No token, a bad one.
    let a = call(s, reqwest::Method::POST, REQUESTS, None, Some(&body)).await?;
    expect_error(&a, StatusCode::UNAUTHORIZED, "invalid_token")?;
    ensure!(
        a.header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer")),
        "{a}"
    );
    let a = call(
        s,
        reqwest::Method::POST,
        REQUESTS,
        Some("not-a-token"),
        Some(&body),
    )
    .await?;
    expect_error(&a, StatusCode::UNAUTHORIZED, "invalid_token")?;
    // The official's token without the sign scope.
    let plain = login_token(s, &w.vanban, "openid profile", "an.nv", PASSWORD).await?;
    let a = call(
        s,
        reqwest::Method::POST,
        REQUESTS,
        Some(&plain),
        Some(&body),
    )
    .await?;
    expect_error(&a, StatusCode::FORBIDDEN, "insufficient_scope")?;
    // The application's token before any unit allowed it.
    let vanban = app_token(s, &w.vanban).await?;
    let a = call(
        s,
        reqwest::Method::POST,
        REQUESTS,
        Some(&vanban),
        Some(&body),
    )
    .await?;
    expect_error(&a, StatusCode::FORBIDDEN, "access_denied")?;

    s.cli_ok(
        &[
            "client",
            "allow-signing-requests",
            "--client",
            "vanban",
            "--unit",
            &w.unit,
        ],
        None,
    )
    .await?;
    let shown = s
        .cli_ok(&["client", "show", "vanban", "--json"], None)
        .await?
        .json()?;
    ensure!(shown["signing_units"] == json!([w.unit]), "{shown}");

    let a = call(
        s,
        reqwest::Method::POST,
        REQUESTS,
        Some(&vanban),
        Some(&body),
    )
    .await?;
    ensure!(a.status == StatusCode::CREATED, "{a}");
    let id = a.str("id")?.to_owned();
    ensure!(a.json["status"] == "pending", "{a}");
    ensure!(
        a.json["approval_url"] == format!("{}/sign/requests/{id}", s.issuer()).as_str(),
        "{a}"
    );
    ensure!(a.json["expires_at"].as_i64().is_some(), "{a}");
    ensure!(
        a.header("location") == Some(format!("{}{REQUESTS}/{id}", s.issuer()).as_str()),
        "{a}"
    );
    ensure!(a.header("cache-control") == Some("no-store"), "{a}");

    let path = format!("{REQUESTS}/{id}");
    let got = call(s, reqwest::Method::GET, &path, Some(&vanban), None).await?;
    ensure!(got.status == StatusCode::OK, "{got}");
    ensure!(
        got.json["status"] == "pending" && got.json["signer"] == "an.nv",
        "{got}"
    );
    ensure!(
        got.json["client_id"] == "vanban" && got.json["done"] == 0,
        "{got}"
    );
    let d = &got.json["documents"][0];
    ensure!(
        d["name"] == "qd.pdf" && d["kind"] == "pdf" && d["status"] == "pending",
        "{got}"
    );
    ensure!(d["result_url"].is_null(), "{got}");
    // Another application sees nothing, and cancels nothing.
    let motcua = app_token(s, &w.motcua).await?;
    let a = call(s, reqwest::Method::GET, &path, Some(&motcua), None).await?;
    expect_error(&a, StatusCode::NOT_FOUND, "not_found")?;
    let cancel = format!("{path}/cancel");
    let a = call(s, reqwest::Method::POST, &cancel, Some(&motcua), None).await?;
    expect_error(&a, StatusCode::NOT_FOUND, "not_found")?;

    // Over the configured document limit; not a PDF.
    let big = json!([{ "name": "big.bin", "data": STANDARD.encode(vec![7u8; MAX_DOCUMENT + 1]) }]);
    let a = call(
        s,
        reqwest::Method::POST,
        REQUESTS,
        Some(&vanban),
        Some(&request(big, Some("an.nv"), None)),
    )
    .await?;
    expect_error(&a, StatusCode::PAYLOAD_TOO_LARGE, "invalid_request")?;
    let fake = json!([{ "name": "fake.pdf", "pdf": STANDARD.encode(b"<html>not a pdf</html>") }]);
    let a = call(
        s,
        reqwest::Method::POST,
        REQUESTS,
        Some(&vanban),
        Some(&request(fake, Some("an.nv"), None)),
    )
    .await?;
    expect_error(&a, StatusCode::BAD_REQUEST, "invalid_request")?;
    ensure!(
        a.json["error_description"]
            .as_str()
            .unwrap_or("")
            .contains("not a PDF"),
        "{a}"
    );

    // The official's own token with scope sign: no signer named, the token's user signs.
    let own = login_token(s, &w.vanban, "openid sign", "an.nv", PASSWORD).await?;
    let hook = w.hooks.url("/hooks/signing");
    let a = call(
        s,
        reqwest::Method::POST,
        REQUESTS,
        Some(&own),
        Some(&request(docs, None, Some(&hook))),
    )
    .await?;
    ensure!(a.status == StatusCode::CREATED, "{a}");
    let own_id = a.str("id")?.to_owned();

    // Cancelled, and announced by a webhook signed with the provider's key.
    let a = call(
        s,
        reqwest::Method::POST,
        &format!("{REQUESTS}/{own_id}/cancel"),
        Some(&own),
        None,
    )
    .await?;
    ensure!(
        a.status == StatusCode::OK && a.json["status"] == "cancelled",
        "{a}"
    );
    let a = call(
        s,
        reqwest::Method::POST,
        &format!("{REQUESTS}/{own_id}/cancel"),
        Some(&own),
        None,
    )
    .await?;
    expect_error(&a, StatusCode::CONFLICT, "invalid_state")?;
    let a = call(s, reqwest::Method::POST, &cancel, Some(&vanban), None).await?;
    ensure!(
        a.status == StatusCode::OK && a.json["status"] == "cancelled",
        "{a}"
    );

    let got = w.hooks.wait_for(1, Duration::from_secs(20)).await?;
    let hit = &got[0];
    ensure!(hit.path == "/hooks/signing", "{hit:?}");
    ensure!(
        hit.content_type.as_deref() == Some("application/jwt"),
        "{hit:?}"
    );
    let jwks = oauth::get_json(s, "/jwks").await?.json;
    oauth::verify_jws(&hit.body, &jwks)?;
    let (header, claims) = oauth::jwt_parts(&hit.body)?;
    ensure!(header["typ"] == SIGNING_EVENT_TYP, "{header}");
    ensure!(
        claims["iss"] == s.issuer() && claims["aud"] == "vanban",
        "{claims}"
    );
    ensure!(
        claims["events"][SIGNING_EVENT] == json!({ "id": own_id, "status": "cancelled" }),
        "{claims}"
    );
    let exp = claims["exp"].as_i64().context("exp")?;
    let iat = claims["iat"].as_i64().context("iat")?;
    ensure!(exp > iat && exp - iat <= 300, "{claims}");
    // The first request had no callback URI: nothing more arrives.
    tokio::time::sleep(Duration::from_secs(2)).await;
    ensure!(w.hooks.received().len() == 1, "{:?}", w.hooks.received());

    // Withdrawn, the application is refused again.
    s.cli_ok(
        &[
            "client",
            "disallow-signing-requests",
            "--client",
            "vanban",
            "--unit",
            &w.unit,
        ],
        None,
    )
    .await?;
    let a = call(
        s,
        reqwest::Method::POST,
        REQUESTS,
        Some(&vanban),
        Some(&body),
    )
    .await?;
    expect_error(&a, StatusCode::FORBIDDEN, "access_denied")?;
    Ok(())
}

/// A department's administrator lets an application ask the department's people for
/// signatures through the administration API; another department's administrator cannot; the
/// application's token then works.
async fn signing_units_through_the_admin_api(backend: Backend) -> anyhow::Result<()> {
    let w = world(backend).await?;
    let s = &w.s;
    let other = s.add_unit("Sở Nội vụ", None).await?;
    for (name, unit) in [("quan.tri", &w.unit), ("lan.tt", &other)] {
        let mut u = NewUser::new(name, name, PASSWORD);
        u.unit = Some(unit.clone());
        s.add_user(&u).await?;
        s.grant(name, "admin", unit).await?;
    }
    let console = s
        .add_console("console", &format!("openid profile {ADMIN_SCOPE}"))
        .await?;
    let scope = format!("openid {ADMIN_SCOPE}");
    let ours = AdminApi::new(
        s,
        Some(&login_token(s, &console, &scope, "quan.tri", PASSWORD).await?),
    );
    let theirs = AdminApi::new(
        s,
        Some(&login_token(s, &console, &scope, "lan.tt", PASSWORD).await?),
    );
    let path = format!("/clients/vanban/signing-units/{}", w.unit);

    let refused = theirs.call(reqwest::Method::PUT, &path, None).await?;
    ensure!(refused.status == StatusCode::NOT_FOUND, "{refused}");
    let allowed = ours.call(reqwest::Method::PUT, &path, None).await?;
    ensure!(allowed.status == StatusCode::OK, "{allowed}");
    ensure!(
        allowed.json == json!({ "client_id": "vanban", "unit_ids": [w.unit] }),
        "{allowed}"
    );
    let unknown = ours
        .call(
            reqwest::Method::PUT,
            &format!("/clients/nobody/signing-units/{}", w.unit),
            None,
        )
        .await?;
    ensure!(unknown.status == StatusCode::NOT_FOUND, "{unknown}");
    let listed = theirs.get("/clients/vanban/signing-units").await?;
    ensure!(
        listed.status == StatusCode::OK && listed.json["unit_ids"] == json!([]),
        "{listed}"
    );

    let vanban = app_token(s, &w.vanban).await?;
    let body = request(pdf_documents()?, Some("an.nv"), None);
    let a = call(
        s,
        reqwest::Method::POST,
        REQUESTS,
        Some(&vanban),
        Some(&body),
    )
    .await?;
    ensure!(a.status == StatusCode::CREATED, "{a}");

    let gone = ours.delete(&path).await?;
    ensure!(gone.status == StatusCode::NO_CONTENT, "{gone}");
    let again = ours.delete(&path).await?;
    ensure!(again.status == StatusCode::NOT_FOUND, "{again}");
    let a = call(
        s,
        reqwest::Method::POST,
        REQUESTS,
        Some(&vanban),
        Some(&body),
    )
    .await?;
    expect_error(&a, StatusCode::FORBIDDEN, "access_denied")?;
    // The OpenAPI document lists the routes.
    let doc = oauth::get_json(s, "/admin/api/openapi.json").await?.json;
    ensure!(
        doc["paths"]["/admin/api/clients/{id}/signing-units/{unit_id}"]["put"].is_object(),
        "no PUT signing-units in the OpenAPI document"
    );
    Ok(())
}
