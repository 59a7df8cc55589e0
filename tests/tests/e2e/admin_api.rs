//! The administration API, end to end: administrators log in through the real code flow with
//! an administration console, and their rights stop at the edge of their unit.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_e2e::admin::{ADMIN_SCOPE, AdminApi, first_login_token, login_token};
use tessera_e2e::lifecycle::{Auth, revoke};
use tessera_e2e::oauth::JsonAnswer;
use tessera_e2e::{Backend, NewClient, NewUser, TestServer};

scenarios!(
    admin_api_delegated_administration,
    admin_api_refuses_tokens_without_rights
);

const ROOT: &str = "root.admin";
const ROOT_PASSWORD: &str = "mat-khau-quan-tri-thanh-pho";

/// A city unit with a root administrator and an administration console.
struct World {
    server: TestServer,
    city: String,
    root_id: String,
    console: tessera_e2e::RegisteredClient,
}

async fn world(backend: Backend) -> anyhow::Result<World> {
    let server = TestServer::start(backend).await?;
    let city = server.add_unit("Thành phố Hải Phòng", None).await?;
    let mut root = NewUser::new(ROOT, "Quản trị Thành phố", ROOT_PASSWORD);
    root.unit = Some(city.clone());
    let root_id = server.add_user(&root).await?;
    server.grant(ROOT, "admin", &city).await?;
    let console = server
        .add_console("console", &format!("openid profile {ADMIN_SCOPE}"))
        .await?;
    Ok(World {
        server,
        city,
        root_id,
        console,
    })
}

fn expect(answer: &JsonAnswer, status: StatusCode, what: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        answer.status == status,
        "{what}: expected {status}, got {answer}"
    );
    Ok(())
}

/// A refusal: the status, a JSON error code, and nothing else of the object.
fn refused(answer: &JsonAnswer, status: StatusCode, code: &str, what: &str) -> anyhow::Result<()> {
    expect(answer, status, what)?;
    anyhow::ensure!(
        answer.error() == Some(code),
        "{what}: expected error {code}, got {answer}"
    );
    anyhow::ensure!(
        answer.json.get("username").is_none() && answer.json.get("name").is_none(),
        "{what}: the refusal reveals the object: {answer}"
    );
    Ok(())
}

fn usernames(list: &Value) -> Vec<String> {
    list["users"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u["username"].as_str().map(str::to_owned))
        .collect()
}

async fn admin_api_delegated_administration(backend: Backend) -> anyhow::Result<()> {
    let w = world(backend).await?;
    let s = &w.server;
    let root_token = login_token(
        s,
        &w.console,
        &format!("openid {ADMIN_SCOPE}"),
        ROOT,
        ROOT_PASSWORD,
    )
    .await?;
    let root = AdminApi::new(s, Some(&root_token));

    let me = root.get("/me").await?;
    expect(&me, StatusCode::OK, "GET /me")?;
    assert_eq!(me.json["user_id"], w.root_id.as_str());
    assert_eq!(
        me.json["grants"],
        json!([{ "role": "admin", "unit_id": w.city }])
    );

    // The city administrator creates two departments, a user in each, and a department client.
    let noivu = root
        .post(
            "/units",
            json!({ "name": "Sở Nội vụ", "parent_id": w.city }),
        )
        .await?;
    expect(&noivu, StatusCode::CREATED, "create Sở Nội vụ")?;
    assert_eq!(noivu.json["level"], "department");
    let noivu = noivu.str("id")?.to_owned();
    let tuphap = root
        .post(
            "/units",
            json!({ "name": "Sở Tư pháp", "parent_id": w.city }),
        )
        .await?;
    expect(&tuphap, StatusCode::CREATED, "create Sở Tư pháp")?;
    let tuphap = tuphap.str("id")?.to_owned();

    let lan = root
        .post("/users", json!({ "username": "lan.tt", "name": "Trần Thị Lan", "unit_id": noivu, "email": "lan.tt@noivu.haiphong.gov.vn" }))
        .await?;
    expect(&lan, StatusCode::CREATED, "create lan.tt")?;
    let lan_id = lan.str("id")?.to_owned();
    let lan_password = lan.str("temporary_password")?.to_owned();
    assert_eq!(lan.json["password_must_change"], true, "{lan}");
    assert!(
        lan_password.len() >= 20,
        "a weak one-time password: {lan_password}"
    );
    let binh = root
        .post("/users", json!({ "username": "binh.lv", "name": "Lê Văn Bình", "unit_id": tuphap, "roles": ["chuyen_vien"] }))
        .await?;
    expect(&binh, StatusCode::CREATED, "create binh.lv")?;
    let binh_id = binh.str("id")?.to_owned();
    let app = root
        .post("/clients", json!({ "client_id": "tuphap-app", "name": "Hộ tịch", "unit_id": tuphap, "redirect_uris": ["https://hotich.haiphong.gov.vn/cb"] }))
        .await?;
    expect(&app, StatusCode::CREATED, "create client tuphap-app")?;
    assert!(app.str("client_secret")?.len() >= 40, "{app}");
    let again = root.get("/clients/tuphap-app").await?;
    expect(&again, StatusCode::OK, "GET client")?;
    assert!(
        again.json.get("client_secret").is_none(),
        "the secret is shown once only: {again}"
    );

    // lan.tt becomes the administrator of Sở Nội vụ.
    let grant = root
        .post(
            &format!("/users/{lan_id}/grants"),
            json!({ "role": "admin", "unit_id": noivu }),
        )
        .await?;
    expect(&grant, StatusCode::CREATED, "grant admin on Sở Nội vụ")?;
    // The one-time password leads only to choosing her own.
    let lan_token = first_login_token(
        s,
        &w.console,
        &format!("openid {ADMIN_SCOPE}"),
        "lan.tt",
        &lan_password,
        "mật khẩu riêng của Lan 2026",
    )
    .await?;
    let dept = AdminApi::new(s, Some(&lan_token));
    let lan = root.get(&format!("/users/{lan_id}")).await?;
    assert_eq!(lan.json["password_must_change"], false, "changed: {lan}");

    // She manages her own department's users.
    let hoa = dept
        .post(
            "/users",
            json!({ "username": "hoa.pt", "name": "Phạm Thị Hoa", "unit_id": noivu }),
        )
        .await?;
    expect(&hoa, StatusCode::CREATED, "department admin creates a user")?;
    let hoa_id = hoa.str("id")?.to_owned();
    let patched = dept
        .patch(
            &format!("/users/{hoa_id}"),
            json!({ "name": "Phạm Thị Hoà", "phone": "+84912345678", "roles": ["van_thu"] }),
        )
        .await?;
    expect(&patched, StatusCode::OK, "department admin updates a user")?;
    assert_eq!(patched.json["name"], "Phạm Thị Hoà");
    assert_eq!(patched.json["roles"], json!(["van_thu"]));
    expect(
        &dept
            .post(&format!("/users/{hoa_id}/disable"), json!({}))
            .await?,
        StatusCode::OK,
        "disable",
    )?;
    let listed = dept
        .get(&format!("/users?unit_id={noivu}&status=disabled"))
        .await?;
    expect(&listed, StatusCode::OK, "list disabled")?;
    assert_eq!(usernames(&listed.json), vec!["hoa.pt"]);
    expect(
        &dept
            .post(&format!("/users/{hoa_id}/enable"), json!({}))
            .await?,
        StatusCode::OK,
        "enable",
    )?;
    let reset = dept
        .post(&format!("/users/{hoa_id}/password"), json!({}))
        .await?;
    expect(&reset, StatusCode::OK, "password reset")?;
    let hoa_password = reset.str("temporary_password")?.to_owned();
    // The new password works for a first login that replaces it (the console asks for no
    // admin scope here); the administrator who saw it cannot use it to get a code.
    let plain = s
        .add_client(&NewClient::confidential("vanban", "Quản lý văn bản"))
        .await?;
    assert!(
        login_token(s, &plain, "openid", "hoa.pt", &hoa_password)
            .await
            .is_err(),
        "a reset password gives no code before it is changed"
    );
    first_login_token(
        s,
        &plain,
        "openid",
        "hoa.pt",
        &hoa_password,
        "mật khẩu riêng của Hoà 2026",
    )
    .await?;
    let sub = dept
        .post(
            "/units",
            json!({ "name": "Phòng Tổ chức", "parent_id": noivu }),
        )
        .await?;
    expect(&sub, StatusCode::CREATED, "a unit below her department")?;
    let sub = sub.str("id")?.to_owned();
    let mine = dept
        .post("/clients", json!({ "client_id": "noivu-app", "name": "Thi đua", "unit_id": sub, "redirect_uris": ["https://thidua.haiphong.gov.vn/cb"] }))
        .await?;
    expect(&mine, StatusCode::CREATED, "a client of her department")?;

    // Her view stops at her department.
    let all = dept.get("/users").await?;
    expect(&all, StatusCode::OK, "list users")?;
    let mut names = usernames(&all.json);
    names.sort();
    assert_eq!(names, vec!["hoa.pt", "lan.tt"], "{all}");
    let tree = dept.get("/units").await?;
    expect(&tree, StatusCode::OK, "unit tree")?;
    assert_eq!(
        tree.json["units"].as_array().map(Vec::len),
        Some(1),
        "{tree}"
    );
    assert_eq!(tree.json["units"][0]["id"], noivu.as_str());
    assert_eq!(tree.json["units"][0]["children"][0]["id"], sub.as_str());
    let clients = dept.get("/clients").await?;
    let ids: Vec<&str> = clients.json["clients"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["client_id"].as_str())
        .collect();
    assert_eq!(ids, vec!["noivu-app"], "{clients}");

    // …and she is refused on the other department, without learning what exists there.
    refused(
        &dept.get(&format!("/users/{binh_id}")).await?,
        StatusCode::NOT_FOUND,
        "not_found",
        "another department's user",
    )?;
    refused(
        &dept
            .patch(&format!("/users/{binh_id}"), json!({ "name": "X" }))
            .await?,
        StatusCode::NOT_FOUND,
        "not_found",
        "changing another department's user",
    )?;
    refused(
        &dept
            .post(&format!("/users/{binh_id}/password"), json!({}))
            .await?,
        StatusCode::NOT_FOUND,
        "not_found",
        "resetting another department's password",
    )?;
    refused(
        &dept.get(&format!("/users/{}", w.root_id)).await?,
        StatusCode::NOT_FOUND,
        "not_found",
        "the city administrator",
    )?;
    refused(
        &dept.get(&format!("/units/{tuphap}")).await?,
        StatusCode::NOT_FOUND,
        "not_found",
        "another department",
    )?;
    refused(
        &dept
            .patch(&format!("/units/{tuphap}"), json!({ "name": "X" }))
            .await?,
        StatusCode::NOT_FOUND,
        "not_found",
        "renaming another department",
    )?;
    refused(
        &dept.get("/clients/tuphap-app").await?,
        StatusCode::NOT_FOUND,
        "not_found",
        "another department's client",
    )?;
    refused(
        &dept.delete("/clients/tuphap-app").await?,
        StatusCode::NOT_FOUND,
        "not_found",
        "removing another department's client",
    )?;
    refused(
        &dept.get(&format!("/users?unit_id={tuphap}")).await?,
        StatusCode::NOT_FOUND,
        "not_found",
        "listing another department",
    )?;
    refused(
        &dept
            .post(
                "/users",
                json!({ "username": "ke.gian", "name": "Kẻ Gian", "unit_id": tuphap }),
            )
            .await?,
        StatusCode::FORBIDDEN,
        "out_of_scope",
        "creating a user in another department",
    )?;
    refused(
        &dept
            .post("/units", json!({ "name": "Phòng lạ", "parent_id": tuphap }))
            .await?,
        StatusCode::FORBIDDEN,
        "out_of_scope",
        "creating a unit in another department",
    )?;
    refused(
        &dept
            .patch(&format!("/users/{hoa_id}"), json!({ "unit_id": tuphap }))
            .await?,
        StatusCode::FORBIDDEN,
        "out_of_scope",
        "moving a user to another department",
    )?;
    refused(
        &dept
            .post(
                "/users",
                json!({ "username": "vo.don", "name": "Vô Đơn Vị" }),
            )
            .await?,
        StatusCode::FORBIDDEN,
        "out_of_scope",
        "a user without a unit",
    )?;
    // No wider scope, for herself or anyone, and no role she lacks.
    refused(
        &dept
            .post(
                &format!("/users/{lan_id}/grants"),
                json!({ "role": "admin", "unit_id": w.city }),
            )
            .await?,
        StatusCode::FORBIDDEN,
        "out_of_scope",
        "granting herself the city",
    )?;
    refused(
        &dept
            .post(
                &format!("/users/{hoa_id}/grants"),
                json!({ "role": "admin", "unit_id": w.city }),
            )
            .await?,
        StatusCode::FORBIDDEN,
        "out_of_scope",
        "granting the city to her user",
    )?;
    refused(
        &dept
            .post(
                &format!("/users/{hoa_id}/grants"),
                json!({ "role": "cert_admin", "unit_id": noivu }),
            )
            .await?,
        StatusCode::FORBIDDEN,
        "forbidden",
        "granting a role she does not hold",
    )?;
    refused(
        &dept.post("/clients", json!({ "client_id": "thu-token", "name": "Console", "unit_id": noivu, "redirect_uris": ["https://x.haiphong.gov.vn/cb"], "scopes": ["openid", ADMIN_SCOPE] })).await?,
        StatusCode::FORBIDDEN, "forbidden", "a console of her own",
    )?;
    // Within her scope she may appoint an auditor, who can read but not change.
    let aud = dept
        .post(
            &format!("/users/{hoa_id}/grants"),
            json!({ "role": "auditor", "unit_id": sub }),
        )
        .await?;
    expect(&aud, StatusCode::CREATED, "appoint an auditor")?;
    let grants = root.get(&format!("/users/{hoa_id}/grants")).await?;
    assert_eq!(
        grants.json["grants"],
        json!([{ "role": "auditor", "unit_id": sub }]),
        "{grants}"
    );
    expect(
        &dept
            .delete(&format!("/users/{hoa_id}/grants/auditor/{sub}"))
            .await?,
        StatusCode::NO_CONTENT,
        "remove the auditor",
    )?;
    // The city administrator sees everything and can move lan.tt's department user.
    let everyone = root.get("/users?limit=200").await?;
    let mut names = usernames(&everyone.json);
    names.sort();
    assert_eq!(
        names,
        vec!["binh.lv", "hoa.pt", "lan.tt", ROOT],
        "{everyone}"
    );
    let q = root.get("/users?q=B%C3%ACnh").await?;
    assert_eq!(usernames(&q.json), vec!["binh.lv"], "{q}");
    expect(
        &root
            .patch(
                &format!("/units/{tuphap}"),
                json!({ "name": "Sở Tư pháp Hải Phòng" }),
            )
            .await?,
        StatusCode::OK,
        "rename",
    )?;
    expect(
        &root.delete("/clients/tuphap-app").await?,
        StatusCode::NO_CONTENT,
        "remove a client",
    )?;

    // Every change is in the audit log, under the administrator who made it.
    let by = |event: &str, actor: &str| {
        let event = event.to_owned();
        let actor = actor.to_owned();
        async move {
            let rows = s.audit(&event).await?;
            anyhow::ensure!(
                rows.iter().any(|r| r.event == event
                    && r.actor.as_deref() == Some(actor.as_str())
                    && r.outcome == "success"),
                "no {event} by {actor} in {rows:?}"
            );
            anyhow::Ok(())
        }
    };
    by("unit.created", &w.root_id).await?;
    by("unit.created", &lan_id).await?;
    by("unit.renamed", &w.root_id).await?;
    by("user.created", &lan_id).await?;
    by("user.updated", &lan_id).await?;
    by("user.disabled", &lan_id).await?;
    by("user.enabled", &lan_id).await?;
    by("user.password_reset", &lan_id).await?;
    by("grant.added", &w.root_id).await?;
    by("grant.added", &lan_id).await?;
    by("grant.removed", &lan_id).await?;
    by("client.created", &lan_id).await?;
    by("client.removed", &w.root_id).await?;
    let refusals = s.audit("admin.refused").await?;
    assert!(
        refusals
            .iter()
            .any(|r| r.actor.as_deref() == Some(lan_id.as_str())
                && r.outcome == "failure"
                && r.detail["error"] == "out_of_scope"),
        "refusals are audited: {refusals:?}"
    );
    let verify = s.cli(&["audit", "verify"], None).await?;
    assert!(verify.success(), "audit verify: {verify}");

    // Disabling the department administrator ends her token at once.
    expect(
        &root
            .post(&format!("/users/{lan_id}/disable"), json!({}))
            .await?,
        StatusCode::OK,
        "disable lan.tt",
    )?;
    refused(
        &dept.get("/me").await?,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        "a disabled administrator's token",
    )?;
    Ok(())
}

async fn admin_api_refuses_tokens_without_rights(backend: Backend) -> anyhow::Result<()> {
    let w = world(backend).await?;
    let s = &w.server;

    // No token at all: a bare Bearer challenge, with a JSON body.
    let none = AdminApi::new(s, None).get("/me").await?;
    expect(&none, StatusCode::UNAUTHORIZED, "no token")?;
    assert!(
        none.header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer")),
        "{none:?}"
    );
    assert_eq!(none.error(), Some("unauthorized"));
    let garbage = AdminApi::new(s, Some("not.a.token")).get("/me").await?;
    refused(
        &garbage,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        "a forged token",
    )?;
    assert!(
        garbage
            .header("www-authenticate")
            .is_some_and(|h| h.contains("error=\"invalid_token\""))
    );

    // The administrator's token from an ordinary application lacks the admin scope.
    let app = s
        .add_client(&NewClient::confidential("vanban", "Quản lý văn bản"))
        .await?;
    let plain = login_token(s, &app, "openid profile", ROOT, ROOT_PASSWORD).await?;
    let answer = AdminApi::new(s, Some(&plain)).get("/users").await?;
    refused(
        &answer,
        StatusCode::FORBIDDEN,
        "insufficient_scope",
        "a token without tessera:admin",
    )?;
    assert!(
        answer
            .header("www-authenticate")
            .is_some_and(|h| h.contains("insufficient_scope") && h.contains(ADMIN_SCOPE)),
        "{answer:?}"
    );
    // …and that application cannot even ask for it.
    let mut request = tessera_e2e::oauth::AuthRequest::new(&app);
    request.scope = format!("openid {ADMIN_SCOPE}");
    let page = tessera_e2e::Browser::new()?.get(&request.url(s)).await?;
    let location = page.location().map(|l| l.to_string()).unwrap_or_default();
    assert!(location.contains("error=invalid_scope"), "{page}");

    // A user without grants, through the console, is refused.
    let mut nobody = NewUser::new("nobody.x", "Người Thường", "mat-khau-nguoi-thuong");
    nobody.unit = Some(w.city.clone());
    s.add_user(&nobody).await?;
    let token = login_token(
        s,
        &w.console,
        &format!("openid {ADMIN_SCOPE}"),
        "nobody.x",
        "mat-khau-nguoi-thuong",
    )
    .await?;
    refused(
        &AdminApi::new(s, Some(&token)).get("/units").await?,
        StatusCode::FORBIDDEN,
        "forbidden",
        "a user without grants",
    )?;

    // A revoked administrator token stops working at once.
    let token = login_token(
        s,
        &w.console,
        &format!("openid {ADMIN_SCOPE}"),
        ROOT,
        ROOT_PASSWORD,
    )
    .await?;
    let root = AdminApi::new(s, Some(&token));
    expect(
        &root.get("/units").await?,
        StatusCode::OK,
        "before revocation",
    )?;
    let revoked = revoke(s, &Auth::basic(&w.console)?, &token).await?;
    expect(&revoked, StatusCode::OK, "revocation")?;
    let after = root.get("/units").await?;
    refused(
        &after,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        "a revoked token",
    )?;

    // Grants through the command line: listed, and revoking one takes effect at once.
    let token = login_token(
        s,
        &w.console,
        &format!("openid {ADMIN_SCOPE}"),
        ROOT,
        ROOT_PASSWORD,
    )
    .await?;
    let root = AdminApi::new(s, Some(&token));
    let listed = s
        .cli_ok(&["user", "grants", ROOT, "--json"], None)
        .await?
        .json()?;
    assert_eq!(listed[0]["role"], "admin", "{listed}");
    assert_eq!(listed[0]["unit_id"], w.city.as_str(), "{listed}");
    let unit = format!("--unit={}", w.city);
    s.cli_ok(&["user", "revoke-grant", ROOT, "--role=admin", &unit], None)
        .await?;
    refused(
        &root.get("/units").await?,
        StatusCode::FORBIDDEN,
        "forbidden",
        "after the grant was revoked",
    )?;
    let bad = s
        .cli(
            &["user", "grant", ROOT, "--role=admin", "--unit=no-such-unit"],
            None,
        )
        .await?;
    assert!(!bad.success() && bad.stderr.contains("not found"), "{bad}");

    s.grant(ROOT, "admin", &w.city).await?;

    // The console is changed only from the command line, even by the city's administrator.
    let token = login_token(
        s,
        &w.console,
        &format!("openid {ADMIN_SCOPE}"),
        ROOT,
        ROOT_PASSWORD,
    )
    .await?;
    let root = AdminApi::new(s, Some(&token));
    let cut = root
        .patch(
            "/clients/console",
            json!({ "scopes": ["openid", "profile"] }),
        )
        .await?;
    refused(
        &cut,
        StatusCode::FORBIDDEN,
        "forbidden",
        "changing the console through the API",
    )?;
    // Unpinning it there ends its tokens' admin use at once.
    s.cli_ok(&["client", "admin-console", "console", "--off"], None)
        .await?;
    refused(
        &root.get("/me").await?,
        StatusCode::FORBIDDEN,
        "insufficient_scope",
        "a console without the scope",
    )?;

    // The document is public and describes the API.
    let doc = AdminApi::new(s, None).get("/openapi.json").await?;
    expect(&doc, StatusCode::OK, "openapi.json")?;
    assert_eq!(doc.json["openapi"], "3.1.0");
    assert!(doc.json["paths"]["/admin/api/users/{id}/grants"].is_object());
    let verify = s.cli(&["audit", "verify"], None).await?;
    assert!(verify.success(), "audit verify: {verify}");
    Ok(())
}
