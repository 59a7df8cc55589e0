//! The built-in administration console (`/admin`) over real HTTP: reaching it (a grant and
//! level 2), its pages, its forms (CSRF first), and its refusals — a department's
//! administrator neither sees nor changes another department's users — with the same audit
//! entries as the JSON administration API.

use anyhow::{Context, ensure};
use reqwest::StatusCode;
use tessera_e2e::console::{ConsoleSession, one_time_secret};
use tessera_e2e::{Backend, Browser, NewUser, TestServer};

scenarios!(console_users_and_refusals, console_apps_certificates_audit);

struct City {
    root: String,
    noivu: String,
    taichinh: String,
}

async fn city(s: &TestServer) -> anyhow::Result<City> {
    let root = s.add_unit("Thành phố Hải Phòng", None).await?;
    let noivu = s.add_unit("Sở Nội vụ", Some(&root)).await?;
    let taichinh = s.add_unit("Sở Tài chính", Some(&root)).await?;
    Ok(City {
        root,
        noivu,
        taichinh,
    })
}

async fn person(s: &TestServer, name: &str, unit: &str) -> anyhow::Result<String> {
    let mut u = NewUser::new(
        name,
        &format!("Cán bộ {name}"),
        &format!("mat-khau-cua-{name}"),
    );
    u.unit = Some(unit.to_owned());
    s.add_user(&u).await
}

fn expect(page: &tessera_e2e::Page, status: StatusCode, what: &str) -> anyhow::Result<()> {
    ensure!(
        page.status == status,
        "{what}: expected {status}, got {page}"
    );
    Ok(())
}

async fn console_users_and_refusals(backend: Backend) -> anyhow::Result<()> {
    let s = TestServer::start(backend).await?;
    let c = city(&s).await?;
    person(&s, "nv.admin", &c.noivu).await?;
    s.grant("nv.admin", "admin", &c.noivu).await?;
    person(&s, "tp.admin", &c.root).await?;
    s.grant("tp.admin", "admin", &c.root).await?;
    let nv_staff = person(&s, "nv.canbo", &c.noivu).await?;
    let tc_staff = person(&s, "tc.canbo", &c.taichinh).await?;
    person(&s, "khong.quyen", &c.noivu).await?;

    // Without a grant: refused before any second factor is asked for, and audited.
    let b = Browser::new()?;
    let first = b.get(&s.url("/admin/users")).await?;
    ensure!(
        first.see_other()?.path() == "/login",
        "signed out, the console sends to the sign-in page: {first}"
    );
    let login = b.get(&s.url("/login")).await?;
    let answer = b
        .submit_login(
            &s,
            &login.login_form()?,
            "khong.quyen",
            "mat-khau-cua-khong.quyen",
        )
        .await?;
    let back = answer.see_other()?;
    ensure!(
        back.path() == "/admin/users",
        "back to the console: {answer}"
    );
    let refused = b.get(&back).await?;
    expect(&refused, StatusCode::FORBIDDEN, "a person without a grant")?;
    let refusals = s.audit("admin.refused").await?;
    ensure!(
        refusals
            .iter()
            .any(|r| r.client_id.as_deref() == Some("tessera:console")),
        "the refusal is audited under the console: {refusals:?}"
    );

    // The department's administrator: a second factor (enrolled now), then the console.
    let nv = ConsoleSession::sign_in(&s, "nv.admin", "mat-khau-cua-nv.admin").await?;
    let units = nv.get(&s, "/admin/units").await?;
    expect(&units, StatusCode::OK, "unit tree")?;
    ensure!(
        units.body.contains("Sở Nội vụ") && !units.body.contains("Sở Tài chính"),
        "a department's administrator sees their unit only: {units}"
    );
    let csp = units.header("content-security-policy").context("no CSP")?;
    ensure!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    ensure!(
        !units.body.contains("<script"),
        "the console runs no script"
    );

    let list = nv.get(&s, "/admin/users?q=canbo").await?;
    expect(&list, StatusCode::OK, "user search")?;
    ensure!(
        list.body.contains("nv.canbo") && !list.body.contains("tc.canbo"),
        "search within the administrator's units only: {list}"
    );

    // Another department's user: not found, on the page and through its forms.
    let other = nv.get(&s, &format!("/admin/users/{tc_staff}")).await?;
    expect(&other, StatusCode::NOT_FOUND, "another unit's user")?;
    let disable_other = nv
        .post(
            &s,
            "/admin/users",
            &format!("/admin/users/{tc_staff}/disable"),
            &[],
        )
        .await?;
    expect(
        &disable_other,
        StatusCode::NOT_FOUND,
        "disabling another unit's user",
    )?;
    let create_other = nv
        .post(
            &s,
            "/admin/users",
            "/admin/users",
            &[
                ("username", "tc.moi"),
                ("name", "Cán bộ mới"),
                ("unit_id", &c.taichinh),
            ],
        )
        .await?;
    expect(
        &create_other,
        StatusCode::FORBIDDEN,
        "creating a user in another unit",
    )?;
    let refusals = s.audit("admin.refused").await?;
    ensure!(
        refusals.iter().any(|r| r.detail["error"] == "out_of_scope"
            && r.client_id.as_deref() == Some("tessera:console")),
        "the out-of-scope creation is audited: {refusals:?}"
    );

    // A form without the page's token is refused before anything is looked up.
    let forged = nv
        .browser
        .post_form(
            &s.url(&format!("/admin/users/{nv_staff}/disable")),
            &[("csrf_token", "forged")],
        )
        .await?;
    expect(
        &forged,
        StatusCode::FORBIDDEN,
        "a form without the CSRF token",
    )?;
    let still = nv.get(&s, &format!("/admin/users/{nv_staff}")).await?;
    ensure!(still.body.contains("data-status=\"active\""), "{still}");

    // Creating a user shows the one-time password once; it signs the person in.
    let created = nv
        .post(
            &s,
            "/admin/users",
            "/admin/users",
            &[
                ("username", "nv.moi"),
                ("name", "Nguyễn Văn Mới"),
                ("email", "nv.moi@haiphong.gov.vn"),
                ("unit_id", &c.noivu),
            ],
        )
        .await?;
    expect(&created, StatusCode::OK, "creating a user")?;
    ensure!(
        created
            .header("cache-control")
            .is_some_and(|v| v.contains("no-store")),
        "the one-time password page is not stored"
    );
    let password = one_time_secret(&created)?;
    let fresh = Browser::new()?;
    let login = fresh.get(&s.url("/login")).await?;
    let answer = fresh
        .submit_login(&s, &login.login_form()?, "nv.moi", &password)
        .await?;
    ensure!(
        answer.see_other()?.path() == "/login/password",
        "the one-time password works and must be changed: {answer}"
    );

    // Disable, end sessions, reset factors: done, and audited under the console.
    for action in [
        "disable",
        "enable",
        "end-sessions",
        "reset-factors",
        "unlock",
    ] {
        let page = format!("/admin/users/{nv_staff}");
        let done = nv.post(&s, &page, &format!("{page}/{action}"), &[]).await?;
        let to = done.see_other()?;
        ensure!(
            to.path() == page && to.query() == Some("done=1"),
            "{action}: {done}"
        );
    }
    for event in [
        "user.created",
        "user.disabled",
        "user.enabled",
        "user.sessions_ended",
        "mfa.reset",
        "user.unlocked",
    ] {
        let rows = s.audit(event).await?;
        ensure!(
            rows.iter()
                .any(|r| r.client_id.as_deref() == Some("tessera:console")),
            "{event} is audited under the console: {rows:?}"
        );
    }
    let reset = nv
        .post(
            &s,
            &format!("/admin/users/{nv_staff}"),
            &format!("/admin/users/{nv_staff}/password"),
            &[],
        )
        .await?;
    expect(&reset, StatusCode::OK, "password reset")?;
    ensure!(!one_time_secret(&reset)?.is_empty());

    // Requiring two factors of a unit's people: their own unit, not another's.
    let level = nv
        .post(
            &s,
            "/admin/units",
            &format!("/admin/units/{}/level", c.noivu),
            &[("min_acr", "urn:tessera:loa:2")],
        )
        .await?;
    level.see_other()?;
    let policies = s.audit("policy.acr.added").await?;
    ensure!(
        policies.len() == 1 && policies[0].detail["unit"] == c.noivu.as_str(),
        "{policies:?}"
    );
    let other_level = nv
        .post(
            &s,
            "/admin/units",
            &format!("/admin/units/{}/level", c.taichinh),
            &[("min_acr", "urn:tessera:loa:2")],
        )
        .await?;
    expect(&other_level, StatusCode::NOT_FOUND, "another unit's level")?;
    let staff = Browser::new()?;
    let login = staff.get(&s.url("/login")).await?;
    let answer = staff
        .submit_login(&s, &login.login_form()?, "nv.moi", &password)
        .await?;
    ensure!(
        answer.see_other()?.path() == "/login/password",
        "the new person still changes the one-time password first: {answer}"
    );

    // The city's administrator sees both departments.
    let tp = ConsoleSession::sign_in(&s, "tp.admin", "mat-khau-cua-tp.admin").await?;
    let all = tp.get(&s, "/admin/users?q=canbo").await?;
    ensure!(
        all.body.contains("nv.canbo") && all.body.contains("tc.canbo"),
        "{all}"
    );
    let paged = tp.get(&s, "/admin/users?page=0").await?;
    expect(&paged, StatusCode::BAD_REQUEST, "page 0")?;
    let _ = c.root;
    Ok(())
}

async fn console_apps_certificates_audit(backend: Backend) -> anyhow::Result<()> {
    let s = TestServer::start(backend).await?;
    s.cli_ok(&["ca", "init", "--base-url", s.issuer()], None)
        .await?;
    let c = city(&s).await?;
    person(&s, "nv.admin", &c.noivu).await?;
    s.grant("nv.admin", "admin", &c.noivu).await?;
    s.grant("nv.admin", "cert_admin", &c.noivu).await?;
    person(&s, "tp.admin", &c.root).await?;
    s.grant("tp.admin", "admin", &c.root).await?;
    person(&s, "nv.canbo", &c.noivu).await?;
    person(&s, "tc.canbo", &c.taichinh).await?;
    let nv = ConsoleSession::sign_in(&s, "nv.admin", "mat-khau-cua-nv.admin").await?;
    let tp = ConsoleSession::sign_in(&s, "tp.admin", "mat-khau-cua-tp.admin").await?;

    // Applications: registered with the secret shown once, edited, its secret rotated.
    let created = nv
        .post(
            &s,
            "/admin/clients",
            "/admin/clients",
            &[
                ("client_id", "motcua-noivu"),
                ("name", "Một cửa Sở Nội vụ"),
                ("unit_id", &c.noivu),
                ("redirect_uris", "https://motcua.noivu.example/cb\r\n"),
                ("scopes", "openid profile"),
                ("min_acr", "urn:tessera:loa:2"),
            ],
        )
        .await?;
    expect(&created, StatusCode::OK, "registering an application")?;
    let first = one_time_secret(&created)?;
    let edited = nv
        .post(
            &s,
            "/admin/clients/motcua-noivu",
            "/admin/clients/motcua-noivu",
            &[
                ("name", "Một cửa điện tử Sở Nội vụ"),
                (
                    "redirect_uris",
                    "https://motcua.noivu.example/cb\nhttps://motcua.noivu.example/cb2",
                ),
                ("post_logout_redirect_uris", "https://motcua.noivu.example/"),
                ("backchannel_logout_uri", ""),
                ("scopes", "openid profile email"),
            ],
        )
        .await?;
    edited.see_other()?;
    let page = nv.get(&s, "/admin/clients/motcua-noivu").await?;
    ensure!(
        page.body.contains("Một cửa điện tử Sở Nội vụ") && page.body.contains("cb2"),
        "{page}"
    );
    let rotated = nv
        .post(
            &s,
            "/admin/clients/motcua-noivu",
            "/admin/clients/motcua-noivu/secret",
            &[],
        )
        .await?;
    ensure!(one_time_secret(&rotated)? != first, "a new secret");
    let tc_app = tp
        .post(
            &s,
            "/admin/clients",
            "/admin/clients",
            &[
                ("client_id", "ketoan-taichinh"),
                ("name", "Kế toán Sở Tài chính"),
                ("unit_id", &c.taichinh),
                ("redirect_uris", "https://ketoan.example/cb"),
            ],
        )
        .await?;
    expect(
        &tc_app,
        StatusCode::OK,
        "the city registers another unit's app",
    )?;
    let hidden = nv.get(&s, "/admin/clients/ketoan-taichinh").await?;
    expect(&hidden, StatusCode::NOT_FOUND, "another unit's application")?;
    let listed = nv.get(&s, "/admin/clients?q=a").await?;
    ensure!(
        listed.body.contains("motcua-noivu") && !listed.body.contains("ketoan-taichinh"),
        "{listed}"
    );

    // Certificates: issued, suspended, resumed, revoked with a reason; not for another unit.
    let issued = nv
        .post(
            &s,
            "/admin/credentials",
            "/admin/credentials",
            &[
                ("username", "nv.canbo"),
                ("title", "Chuyên viên"),
                ("alg", "P-256"),
            ],
        )
        .await?;
    issued.see_other()?;
    let list = nv.get(&s, "/admin/credentials?status=active").await?;
    let id = list
        .body
        .split("/admin/credentials/")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .with_context(|| format!("no credential listed: {list}"))?
        .to_owned();
    for (action, reason) in [("suspend", ""), ("resume", ""), ("revoke", "keyCompromise")] {
        let done = nv
            .post(
                &s,
                "/admin/credentials",
                &format!("/admin/credentials/{id}/{action}"),
                &[("reason", reason)],
            )
            .await?;
        done.see_other()?;
    }
    let revoked = s.audit("pki.credential.revoked").await?;
    ensure!(
        revoked
            .iter()
            .any(|r| r.detail.to_string().contains("keyCompromise")
                && r.client_id
                    .as_deref()
                    .is_none_or(|c| c == "tessera:console")),
        "{revoked:?}"
    );
    let other = nv
        .post(
            &s,
            "/admin/credentials",
            "/admin/credentials",
            &[("username", "tc.canbo")],
        )
        .await?;
    expect(
        &other,
        StatusCode::NOT_FOUND,
        "a certificate for another unit's user",
    )?;

    // Audit log: the department sees its own people's acts, not the city's; the city sees
    // the chains' state; exports carry the chain data.
    let nv_log = nv.get(&s, "/admin/audit?event=client.").await?;
    expect(&nv_log, StatusCode::OK, "audit log")?;
    ensure!(
        nv_log.body.contains("data-event=\"client.created\"")
            && !nv_log.body.contains("id=\"chain-status\""),
        "{nv_log}"
    );
    let created_rows = nv_log.body.matches("data-event=\"client.created\"").count();
    ensure!(
        created_rows == 1,
        "the city's registration is not shown: {nv_log}"
    );
    let tp_log = tp.get(&s, "/admin/audit?event=client.created").await?;
    ensure!(
        tp_log.body.matches("data-event=\"client.created\"").count() == 2
            && tp_log.body.contains("data-ok=\"yes\""),
        "{tp_log}"
    );
    let jsonl = tp
        .get(&s, "/admin/audit/export?event=client.created&format=jsonl")
        .await?;
    let lines: Vec<serde_json::Value> = jsonl
        .body
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    ensure!(
        lines.len() == 2
            && lines
                .iter()
                .all(|l| l["hash"].is_string() && l["event"] == "client.created"),
        "{}",
        jsonl.body
    );
    let csv = tp
        .get(&s, "/admin/audit/export?format=csv&since=2000-01-01")
        .await?;
    ensure!(
        csv.header("content-type")
            .is_some_and(|t| t.starts_with("text/csv"))
            && csv.body.starts_with("chain_id,seq,at,event"),
        "{csv}"
    );
    let bad = tp.get(&s, "/admin/audit?since=hom-qua").await?;
    expect(&bad, StatusCode::BAD_REQUEST, "a malformed date")?;

    // Signing activity per unit, within the caller's scope.
    let activity = nv.get(&s, "/admin/signing").await?;
    expect(&activity, StatusCode::OK, "signing activity")?;
    ensure!(
        activity.body.contains("Sở Nội vụ") && !activity.body.contains("Sở Tài chính"),
        "{activity}"
    );
    let out = nv
        .get(&s, &format!("/admin/signing?unit_id={}", c.taichinh))
        .await?;
    expect(&out, StatusCode::NOT_FOUND, "another unit's activity")?;
    Ok(())
}
