//! `tessera keys rotate` while the server runs (new tokens carry the new kid, the JWKS holds
//! both, old tokens keep working), and the token-lifecycle part of the discovery document.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use tessera_e2e::fixture::Fixture;
use tessera_e2e::lifecycle::{self, Auth};
use tessera_e2e::{Backend, Browser, TestServer, oauth};

use crate::refresh::login_tokens;

scenarios!(keys_rotate_while_serving, discovery_lists_token_lifecycle);

/// How long a running server may keep signing with a key rotated by another process: its key
/// cache lives 10 s (see `jose.rs`); allow for a slow machine.
const PICKUP: Duration = Duration::from_secs(30);

/// `tessera keys list --json`.
async fn keys(server: &TestServer) -> anyhow::Result<Vec<Value>> {
    let out = server.cli_ok(&["keys", "list", "--json"], None).await?;
    Ok(out.json()?.as_array().cloned().unwrap_or_default())
}

fn active(keys: &[Value], alg: &str) -> anyhow::Result<String> {
    let found: Vec<&Value> = keys
        .iter()
        .filter(|k| k["alg"] == alg && k["status"] == "active")
        .collect();
    anyhow::ensure!(found.len() == 1, "not one active {alg} key: {keys:?}");
    Ok(found[0]["kid"].as_str().unwrap_or_default().to_owned())
}

async fn jwks_kids(server: &TestServer) -> anyhow::Result<(Value, HashSet<String>)> {
    let jwks = oauth::get_json(server, "/jwks").await?.json;
    let kids = jwks["keys"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .filter_map(|k| k["kid"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok((jwks, kids))
}

fn kid(jwt: &str) -> anyhow::Result<String> {
    let (header, _) = oauth::jwt_parts(jwt)?;
    Ok(header["kid"].as_str().unwrap_or_default().to_owned())
}

async fn keys_rotate_while_serving(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let server = &fx.server;
    let auth = Auth::basic(&fx.client)?;
    let browser = Browser::new()?;
    let before = keys(server).await?;
    assert_eq!(before.len(), 2, "{before:?}");
    let old_es = active(&before, "ES256")?;
    let old_rs = active(&before, "RS256")?;
    let (_, old) = login_tokens(&fx, &browser, "openid offline_access").await?;
    let old_id = old.str("id_token")?.to_owned();
    let old_at = old.str("access_token")?.to_owned();
    assert_eq!(kid(&old_id)?, old_es);

    // Only ES256 first; then every algorithm.
    let out = server
        .cli_ok(&["keys", "rotate", "--alg", "ES256"], None)
        .await?;
    assert!(out.stdout.contains("ES256"), "{out}");
    assert!(!out.stdout.contains("RS256"), "{out}");
    let listed = keys(server).await?;
    assert_eq!(listed.len(), 3, "{listed:?}");
    let new_es = active(&listed, "ES256")?;
    assert_ne!(new_es, old_es);
    assert_eq!(active(&listed, "RS256")?, old_rs);
    assert!(out.stdout.contains(&new_es), "{out}");
    let retired = listed
        .iter()
        .find(|k| k["kid"] == old_es.as_str())
        .unwrap_or(&Value::Null);
    assert_eq!(retired["status"], "retired", "{retired}");
    let until = retired["published_until"].as_i64().unwrap_or(0);
    let since = retired["retired_at"].as_i64().unwrap_or(0);
    assert!(
        until - since >= 600,
        "retired key published too briefly: {retired}"
    );

    // The JWKS has both ES256 keys (and the RSA one) at once.
    let (_, kids) = jwks_kids(server).await?;
    assert_eq!(
        kids,
        HashSet::from([old_es.clone(), new_es.clone(), old_rs.clone()])
    );

    // New ID tokens carry the new kid (once the server's key cache has caught up) and verify
    // against the JWKS.
    let deadline = Instant::now() + PICKUP;
    let mut refresh_token = old.str("refresh_token")?.to_owned();
    let fresh = loop {
        let answer = lifecycle::refresh(server, &auth, &refresh_token, None).await?;
        anyhow::ensure!(answer.status == StatusCode::OK, "refresh: {answer}");
        refresh_token = answer.str("refresh_token")?.to_owned();
        let id_token = answer.str("id_token")?.to_owned();
        if kid(&id_token)? == new_es {
            break answer;
        }
        anyhow::ensure!(
            kid(&id_token)? == old_es,
            "ID token signed by neither key: {id_token}"
        );
        anyhow::ensure!(
            Instant::now() < deadline,
            "still signing with the old key {PICKUP:?} after the rotation"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let (jwks, _) = jwks_kids(server).await?;
    oauth::verify_jws(fresh.str("id_token")?, &jwks)?;
    oauth::verify_jws(fresh.str("access_token")?, &jwks)?;
    assert_eq!(kid(fresh.str("access_token")?)?, new_es);
    let (_, login) = login_tokens(&fx, &browser, "openid").await?;
    assert_eq!(kid(login.str("id_token")?)?, new_es);
    let info = oauth::userinfo(server, fresh.str("access_token")?).await?;
    assert_eq!(info.status, StatusCode::OK, "{info}");

    // What the old key signed still verifies and still works.
    oauth::verify_jws(&old_id, &jwks)?;
    let info = oauth::userinfo(server, &old_at).await?;
    assert_eq!(info.status, StatusCode::OK, "{info}");
    assert!(lifecycle::is_active(server, &auth, &old_at).await?);

    // Rotating everything: one more key per algorithm, all still published.
    let out = server.cli_ok(&["keys", "rotate"], None).await?;
    assert!(
        out.stdout.contains("ES256") && out.stdout.contains("RS256"),
        "{out}"
    );
    let listed = keys(server).await?;
    assert_eq!(listed.len(), 5, "{listed:?}");
    assert_eq!(
        listed.iter().filter(|k| k["status"] == "active").count(),
        2,
        "{listed:?}"
    );
    let (_, kids) = jwks_kids(server).await?;
    assert_eq!(kids.len(), 5, "{kids:?}");
    let info = oauth::userinfo(server, &old_at).await?;
    assert_eq!(info.status, StatusCode::OK, "{info}");

    // The audit log (where the CLI recorded each rotation) is intact.
    let verify = server.cli(&["audit", "verify"], None).await?;
    assert!(verify.success(), "{verify}");
    Ok(())
}

async fn discovery_lists_token_lifecycle(backend: Backend) -> anyhow::Result<()> {
    let server = TestServer::start(backend).await?;
    let issuer = server.issuer();
    let answer = oauth::get_json(&server, "/.well-known/openid-configuration").await?;
    assert_eq!(answer.status, StatusCode::OK, "{answer}");
    let doc = &answer.json;
    assert_eq!(
        doc["introspection_endpoint"],
        format!("{issuer}/introspect")
    );
    assert_eq!(doc["revocation_endpoint"], format!("{issuer}/revoke"));
    let list = |field: &str| -> HashSet<String> {
        doc[field]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let grants = list("grant_types_supported");
    for grant in ["authorization_code", "refresh_token", "client_credentials"] {
        assert!(grants.contains(grant), "{grant} missing: {doc}");
    }
    assert!(
        !grants.contains("password") && !grants.contains("implicit"),
        "{doc}"
    );
    let token_methods = list("token_endpoint_auth_methods_supported");
    for method in [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    ] {
        assert!(token_methods.contains(method), "{method} missing: {doc}");
    }
    for field in [
        "introspection_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
    ] {
        let methods = list(field);
        assert!(methods.contains("private_key_jwt"), "{field}: {doc}");
        assert!(methods.contains("client_secret_basic"), "{field}: {doc}");
    }
    // Introspection needs an authenticated client.
    assert!(
        !list("introspection_endpoint_auth_methods_supported").contains("none"),
        "{doc}"
    );
    let algs = list("token_endpoint_auth_signing_alg_values_supported");
    assert!(algs.contains("ES256"), "{doc}");
    assert!(!algs.contains("none") && !algs.contains("HS256"), "{doc}");
    assert!(list("scopes_supported").contains("offline_access"), "{doc}");

    // The endpoints answer (a form POST without credentials: 401 invalid_client, not 404).
    for path in ["/introspect", "/revoke"] {
        let anonymous = lifecycle::post(
            &server,
            path,
            &Auth::None("ai-do".into()),
            &[("token", "x")],
        )
        .await?;
        assert_eq!(
            anonymous.status,
            StatusCode::UNAUTHORIZED,
            "{path}: {anonymous}"
        );
        assert_eq!(
            anonymous.error(),
            Some("invalid_client"),
            "{path}: {anonymous}"
        );
    }
    Ok(())
}
