//! UserInfo claims by scope (OIDC Core §5.3–5.4), Vietnamese text intact end to end.

use anyhow::Context;
use reqwest::StatusCode;
use serde_json::Value;
use tessera_e2e::flow;
use tessera_e2e::oauth;
use tessera_e2e::{Backend, Browser, NewClient, NewUser, TestServer};
use tessera_sdk::AuthOptions;

scenarios!(userinfo_claims_by_scope);

async fn userinfo_claims_by_scope(backend: Backend) -> anyhow::Result<()> {
    let server = TestServer::start(backend).await?;
    let department = server.add_unit("Sở Nội vụ", None).await?;
    let office = server
        .add_unit("Phòng Tổ chức – Cán bộ", Some(&department))
        .await?;
    let mut user = NewUser::new(
        "ngoc.ttb",
        "Trần Thị Bích Ngọc",
        "Mật khẩu của Ngọc: Đà Nẵng 2024",
    );
    user.email = Some("ngoc.ttb@noivu.danang.gov.vn".into());
    user.phone = Some("+84905123456".into());
    user.unit = Some(office.clone());
    user.roles = vec!["truong_phong".into(), "phe_duyet_van_ban".into()];
    server.add_user(&user).await?;
    let client = server
        .add_client(&NewClient::confidential("vanban", "Quản lý văn bản"))
        .await?;
    let rp = flow::relying_party(&server, &client).await?;
    let browser = Browser::new()?;

    // `openid` alone: nothing but `sub`.
    let bare = flow::sdk_login(&browser, &server, &rp, &[], &user.username, &user.password).await?;
    let info = get_and_post(&server, &bare.access_token).await?;
    assert_eq!(info["sub"], bare.subject.as_str());
    assert_ne!(bare.subject, user.username);
    for claim in [
        "name",
        "preferred_username",
        "email",
        "unit_id",
        "unit_name",
        "roles",
    ] {
        assert!(
            info.get(claim).is_none(),
            "`{claim}` without its scope: {info}"
        );
    }

    // Every scope (SSO: no second password prompt).
    let (url, pending) =
        rp.authorization_url(&["profile", "email", "org"], &AuthOptions::default());
    let cb = flow::authorize_silently(&browser, &url).await?;
    let full = rp
        .exchange_code(&pending, &cb.code()?, &pending.state)
        .await?;
    assert_eq!(
        full.subject, bare.subject,
        "sub must be stable for one client"
    );
    let info = get_and_post(&server, &full.access_token).await?;
    assert_eq!(info["sub"], full.subject.as_str());
    assert_eq!(info["name"], "Trần Thị Bích Ngọc");
    assert_eq!(info["preferred_username"], "ngoc.ttb");
    assert_eq!(info["email"], "ngoc.ttb@noivu.danang.gov.vn");
    assert_eq!(info["unit_id"], office.as_str());
    assert_eq!(info["unit_name"], "Phòng Tổ chức – Cán bộ");
    let mut roles: Vec<&str> = info["roles"]
        .as_array()
        .context("roles is not an array")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    roles.sort_unstable();
    assert_eq!(roles, ["phe_duyet_van_ban", "truong_phong"], "{info}");

    // The SDK reads the same claims (and checks `sub` against the ID token).
    let via_sdk = rp
        .userinfo_for_subject(&full.access_token, &full.subject)
        .await?;
    assert_eq!(via_sdk["name"], "Trần Thị Bích Ngọc");
    assert_eq!(via_sdk["unit_name"], "Phòng Tổ chức – Cán bộ");
    assert_eq!(via_sdk["roles"], info["roles"]);

    // Profile only: no email, no organisation.
    let (url, pending) = rp.authorization_url(&["profile"], &AuthOptions::default());
    let cb = flow::authorize_silently(&browser, &url).await?;
    let profile = rp
        .exchange_code(&pending, &cb.code()?, &pending.state)
        .await?;
    let info = get_and_post(&server, &profile.access_token).await?;
    assert_eq!(info["name"], "Trần Thị Bích Ngọc");
    for claim in ["email", "unit_id", "unit_name", "roles"] {
        assert!(
            info.get(claim).is_none(),
            "`{claim}` without its scope: {info}"
        );
    }

    // No token, a made-up token: 401.
    let answer = oauth::userinfo(&server, "khong-phai-token").await?;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer}");
    let answer = oauth::get_json(&server, "/userinfo").await?;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer}");
    Ok(())
}

/// `GET /userinfo` and `POST /userinfo` (OIDC Core §5.3.1) must agree; returns the claims.
async fn get_and_post(server: &TestServer, access_token: &str) -> anyhow::Result<Value> {
    let get = oauth::userinfo(server, access_token).await?;
    assert_eq!(get.status, StatusCode::OK, "{get}");
    let content_type = get.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let post = oauth::userinfo_post(server, access_token).await?;
    assert_eq!(post.status, StatusCode::OK, "{post}");
    assert_eq!(get.json, post.json);
    Ok(get.json)
}
