//! The security rules around the administration API, end to end: tokens only through consoles
//! pinned by the operator, a consent page every time, registered API scopes given by their
//! unit's administrators, client ids apart from user ids, and two cities that do not see each
//! other's (or unit-less) objects.

use anyhow::{Context, ensure};
use reqwest::StatusCode;
use serde_json::json;
use tessera_e2e::admin::{
    ADMIN_SCOPE, AdminApi, admin_login, answer_consent, approve, login_token,
};
use tessera_e2e::flow::at_redirect_uri;
use tessera_e2e::lifecycle::{Auth, client_credentials};
use tessera_e2e::oauth::{AuthRequest, JsonAnswer};
use tessera_e2e::{Backend, Browser, NewUser, RegisteredClient, TestServer};

scenarios!(
    admin_console_asks_consent_every_time,
    admin_console_scopes_and_cities
);

fn status(
    answer: &JsonAnswer,
    status: StatusCode,
    code: Option<&str>,
    what: &str,
) -> anyhow::Result<()> {
    ensure!(
        answer.status == status && (code.is_none() || answer.error() == code),
        "{what}: expected {status} {code:?}, got {answer}"
    );
    Ok(())
}

async fn user(s: &TestServer, name: &str, unit: &str, role: &str) -> anyhow::Result<String> {
    let mut u = NewUser::new(name, "Cán bộ", &format!("mat-khau-cua-{name}"));
    u.unit = Some(unit.to_owned());
    let id = s.add_user(&u).await?;
    s.grant(name, role, unit).await?;
    Ok(id)
}

fn admin_url(s: &TestServer, console: &RegisteredClient, extra: &[(&str, &str)]) -> url::Url {
    let mut request = AuthRequest::new(console);
    request.scope = format!("openid {ADMIN_SCOPE}");
    request.extra = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    request.url(s)
}

/// The attack of the issue: a link to the console's authorization request, opened by a
/// signed-in certificate administrator, yielded a code without asking. Now it shows the
/// consent page each time; refusing sends `access_denied`; a forged answer is refused.
async fn admin_console_asks_consent_every_time(backend: Backend) -> anyhow::Result<()> {
    let s = TestServer::start(backend).await?;
    let city = s.add_unit("Thành phố Hải Phòng", None).await?;
    user(&s, "ky.so", &city, "cert_admin").await?;
    let console = s
        .add_console("console", &format!("openid profile {ADMIN_SCOPE}"))
        .await?;
    let browser = Browser::new()?;
    let consent = admin_login(
        &browser,
        &s,
        &admin_url(&s, &console, &[]),
        "ky.so",
        "mat-khau-cua-ky.so",
    )
    .await?;
    ensure!(
        consent.body.contains("Console console") && consent.body.contains("cert_admin"),
        "{consent}"
    );
    // A forged answer (no CSRF token) is refused.
    let forged = browser
        .post_form(
            &s.url("/authorize/consent"),
            &[
                (
                    "req",
                    &tessera_e2e::hidden_input(&consent.body, "req").context("req")?,
                ),
                (
                    "consent",
                    &tessera_e2e::hidden_input(&consent.body, "consent").context("consent")?,
                ),
                ("decision", "approve"),
            ],
        )
        .await?;
    ensure!(forged.status == StatusCode::FORBIDDEN, "{forged}");
    ensure!(forged.location().is_none(), "{forged}");
    approve(&browser, &s, &consent, &console.redirect_uri).await?;

    // The same browser, still signed in at level 2, opens the link again: no silent code.
    let again = browser.get(&admin_url(&s, &console, &[])).await?;
    let next = again.see_other()?;
    ensure!(
        next.path() == "/authorize/consent",
        "expected the consent page: {again}"
    );
    let page = browser.get(&next).await?;
    let denied = answer_consent(&browser, &s, &page, "deny").await?;
    let back = denied.see_other()?;
    ensure!(at_redirect_uri(&back, &console.redirect_uri), "{denied}");
    ensure!(
        back.query_pairs()
            .any(|(k, v)| k == "error" && v == "access_denied"),
        "{back}"
    );
    ensure!(!back.query_pairs().any(|(k, _)| k == "code"), "{back}");
    // The refused page cannot be answered again.
    let replay = answer_consent(&browser, &s, &page, "approve").await?;
    ensure!(
        replay.location().is_none() && replay.status.is_client_error(),
        "{replay}"
    );
    // prompt=none cannot skip the page.
    let silent = browser
        .get(&admin_url(&s, &console, &[("prompt", "none")]))
        .await?;
    let back = silent.see_other()?;
    ensure!(
        back.query_pairs()
            .any(|(k, v)| k == "error" && v == "consent_required"),
        "{back}"
    );
    // The audit log records both answers.
    let given = s.audit("admin.consent_given").await?;
    let denied = s.audit("admin.consent_denied").await?;
    ensure!(
        given.len() == 1 && denied.len() == 1,
        "{given:?} {denied:?}"
    );
    ensure!(
        given[0].client_id.as_deref() == Some("console"),
        "{given:?}"
    );
    let verify = s.cli(&["audit", "verify"], None).await?;
    ensure!(verify.success(), "{verify}");
    Ok(())
}

async fn admin_console_scopes_and_cities(backend: Backend) -> anyhow::Result<()> {
    let s = TestServer::start(backend).await?;
    let city = s.add_unit("Thành phố Hải Phòng", None).await?;
    let commune = s.add_unit("Xã An Biên", Some(&city)).await?;
    user(&s, "thanh.pho", &city, "admin").await?;
    let xa_id = user(&s, "quan.xa", &commune, "admin").await?;
    let console = s
        .add_console("console", &format!("openid {ADMIN_SCOPE}"))
        .await?;
    let scope = format!("openid {ADMIN_SCOPE}");
    let root = AdminApi::new(
        &s,
        Some(&login_token(&s, &console, &scope, "thanh.pho", "mat-khau-cua-thanh.pho").await?),
    );
    let xa = AdminApi::new(
        &s,
        Some(&login_token(&s, &console, &scope, "quan.xa", "mat-khau-cua-quan.xa").await?),
    );

    // No one registers a console, or gives the administration scope, through the API.
    let body = json!({ "client_id": "evil", "name": "Evil", "unit_id": city,
        "redirect_uris": ["https://evil.test/cb"], "scopes": ["openid", ADMIN_SCOPE] });
    status(
        &root.post("/clients", body).await?,
        StatusCode::FORBIDDEN,
        Some("forbidden"),
        "API console",
    )?;
    let cli = s
        .cli(
            &[
                "client",
                "add",
                "--id=evil",
                "--name=Evil",
                "--redirect-uri=https://evil.test/cb",
                &format!("--scopes=openid {ADMIN_SCOPE}"),
            ],
            None,
        )
        .await?;
    ensure!(
        !cli.success() && cli.stderr.contains("--admin-console"),
        "{cli}"
    );

    // API scopes are registered, each owned by a unit.
    s.cli_ok(
        &[
            "scope",
            "add",
            "lgsp.write",
            "--description=Ghi LGSP",
            &format!("--unit={city}"),
        ],
        None,
    )
    .await?;
    s.cli_ok(
        &[
            "scope",
            "add",
            "xa.read",
            "--description=Đọc dữ liệu xã",
            &format!("--unit={commune}"),
        ],
        None,
    )
    .await?;
    let service = |id: &str, scope: &str| {
        json!({ "client_id": id, "name": "Dịch vụ xã", "unit_id": commune,
        "grant_types": ["client_credentials"], "scopes": [scope] })
    };
    status(
        &xa.post("/clients", service("xa-lgsp", "lgsp.write"))
            .await?,
        StatusCode::FORBIDDEN,
        Some("forbidden"),
        "the city's scope",
    )?;
    status(
        &xa.post("/clients", service("xa-x", "lgsp.delete")).await?,
        StatusCode::BAD_REQUEST,
        Some("invalid_request"),
        "an unregistered scope",
    )?;
    let cli = s
        .cli(
            &[
                "client",
                "add",
                "--id=xa-y",
                "--name=Y",
                "--grant-type=client_credentials",
                "--scopes=lgsp.delete",
            ],
            None,
        )
        .await?;
    ensure!(!cli.success() && cli.stderr.contains("scope add"), "{cli}");
    let made = xa
        .post("/clients", service("xa-dich-vu", "xa.read"))
        .await?;
    status(&made, StatusCode::CREATED, None, "the commune's scope")?;
    let auth = Auth::Basic("xa-dich-vu".into(), made.str("client_secret")?.to_owned());
    let token = client_credentials(&s, &auth, None).await?;
    ensure!(token.json["scope"] == "xa.read", "{token:?}");

    // A client id shaped like a user id is refused, by the API and the command line.
    status(
        &xa.post("/clients", service(&xa_id, "xa.read")).await?,
        StatusCode::BAD_REQUEST,
        Some("invalid_request"),
        "a user-shaped client id",
    )?;
    let cli = s
        .cli(
            &[
                "client",
                "add",
                &format!("--id={xa_id}"),
                "--name=Z",
                "--grant-type=client_credentials",
                "--scopes=xa.read",
            ],
            None,
        )
        .await?;
    ensure!(!cli.success() && cli.stderr.contains("user id"), "{cli}");

    // The unit-less console is the single root's to see...
    status(
        &root.get("/clients/console").await?,
        StatusCode::OK,
        None,
        "root sees the console",
    )?;
    status(
        &root
            .patch(
                "/clients/console",
                json!({ "redirect_uris": ["https://evil.test/cb"] }),
            )
            .await?,
        StatusCode::FORBIDDEN,
        Some("forbidden"),
        "changing the console",
    )?;
    status(
        &root.post("/clients/console/secret", json!({})).await?,
        StatusCode::FORBIDDEN,
        Some("forbidden"),
        "rotating the console's secret",
    )?;
    // The operator does it from the command line: the old secret stops working.
    let rotated = s
        .cli_ok(&["client", "rotate-secret", "console", "--json"], None)
        .await?
        .json()?;
    let new_secret = rotated["client_secret"].as_str().context("no secret")?;
    ensure!(
        Some(new_secret) != console.client_secret.as_deref(),
        "{rotated}"
    );
    let mut console = console.clone();
    let old = Auth::Basic(
        "console".into(),
        console.client_secret.clone().unwrap_or_default(),
    );
    let refused = tessera_e2e::lifecycle::introspect(&s, &old, "x").await?;
    ensure!(refused.status == StatusCode::UNAUTHORIZED, "{refused}");
    console.client_secret = Some(new_secret.to_owned());
    // ...until a second city shares the provider: then neither city reaches unit-less objects,
    // and the second city sees nothing of the first.
    let danang = s.add_unit("Thành phố Đà Nẵng", None).await?;
    user(&s, "da.nang", &danang, "admin").await?;
    let dn = AdminApi::new(
        &s,
        Some(&login_token(&s, &console, &scope, "da.nang", "mat-khau-cua-da.nang").await?),
    );
    for (who, api) in [("Hải Phòng", &root), ("Đà Nẵng", &dn)] {
        status(
            &api.get("/clients/console").await?,
            StatusCode::NOT_FOUND,
            Some("not_found"),
            who,
        )?;
        let list = api.get("/clients").await?;
        ensure!(!list.body.contains("\"console\""), "{who}: {list}");
    }
    // The operator hands unit-less objects to a city from the command line.
    let loose = s
        .add_user(&NewUser::new(
            "khong.don.vi",
            "Chưa có đơn vị",
            "mat-khau-khong-don-vi",
        ))
        .await?;
    let path = format!("/users/{loose}");
    status(
        &root.get(&path).await?,
        StatusCode::NOT_FOUND,
        Some("not_found"),
        "a unit-less user",
    )?;
    s.cli_ok(
        &[
            "user",
            "set-unit",
            "khong.don.vi",
            &format!("--unit={city}"),
        ],
        None,
    )
    .await?;
    s.cli_ok(
        &["client", "set-unit", "console", &format!("--unit={city}")],
        None,
    )
    .await?;
    status(
        &root.get(&path).await?,
        StatusCode::OK,
        None,
        "the user, now Hải Phòng's",
    )?;
    status(
        &root.get("/clients/console").await?,
        StatusCode::OK,
        None,
        "the console, now Hải Phòng's",
    )?;
    status(
        &dn.get(&path).await?,
        StatusCode::NOT_FOUND,
        Some("not_found"),
        "Hải Phòng's user",
    )?;
    status(
        &dn.get("/clients/xa-dich-vu").await?,
        StatusCode::NOT_FOUND,
        Some("not_found"),
        "another city's client",
    )?;
    status(
        &dn.get(&format!("/units/{city}")).await?,
        StatusCode::NOT_FOUND,
        Some("not_found"),
        "another city",
    )?;
    Ok(())
}

/// The consent page shown by one replica is answered at another, once: its state lives in the
/// database the replicas share. Runs only on PostgreSQL.
#[tokio::test]
async fn admin_consent_across_replicas() {
    if !Backend::Postgres.available() {
        return;
    }
    if let Err(e) = consent_across_replicas().await {
        panic!("{e:#}");
    }
}

async fn consent_across_replicas() -> anyhow::Result<()> {
    use tessera_e2e::ServerOptions;
    use tessera_e2e::fixture::{Fixture, PASSWORD, USERNAME};
    let options = ServerOptions::default().env("TESSERA_ISSUER", "http://sso.haiphong.test");
    let fx = Fixture::start_with(Backend::Postgres, options.clone()).await?;
    let a = &fx.server;
    let b = a.start_replica(options).await?;
    let console = a
        .add_console("console", &format!("openid {ADMIN_SCOPE}"))
        .await?;
    let browser = Browser::new()?;
    let page = admin_login(
        &browser,
        a,
        &admin_url(a, &console, &[]),
        USERNAME,
        PASSWORD,
    )
    .await?;
    let cb = approve(&browser, &b, &page, &console.redirect_uri).await?;
    cb.code()?;
    // The same page answered again, at the first replica: refused.
    let again = answer_consent(&browser, a, &page, "approve").await?;
    ensure!(
        again.location().is_none() && again.status.is_client_error(),
        "{again}"
    );
    Ok(())
}
