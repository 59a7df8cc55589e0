//! OpenID Connect Discovery 1.0 (§3, §4) and the JWKS (RFC 7517).

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_e2e::oauth;
use tessera_e2e::{Backend, TestServer};

scenarios!(discovery_document_and_jwks);

async fn discovery_document_and_jwks(backend: Backend) -> anyhow::Result<()> {
    let server = TestServer::start(backend).await?;
    let issuer = server.issuer();
    let answer = oauth::get_json(&server, "/.well-known/openid-configuration").await?;
    assert_eq!(answer.status, StatusCode::OK, "{answer}");
    let doc = &answer.json;
    assert_eq!(doc["issuer"], issuer);
    for (field, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/userinfo"),
        ("jwks_uri", "/jwks"),
    ] {
        assert_eq!(doc[field], format!("{issuer}{path}"), "{field} in {doc}");
    }
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    // RP-Initiated Logout 1.0 §2.1, Back-Channel Logout 1.0 §2.1.
    assert_eq!(
        doc["end_session_endpoint"],
        format!("{issuer}/logout"),
        "{doc}"
    );
    assert_eq!(doc["backchannel_logout_supported"], true, "{doc}");
    assert_eq!(doc["backchannel_logout_session_supported"], true, "{doc}");
    assert_eq!(doc["frontchannel_logout_supported"], false, "{doc}");
    assert!(
        list(doc, "response_types_supported").contains("code"),
        "{doc}"
    );
    assert!(!list(doc, "subject_types_supported").is_empty(), "{doc}");
    let algs = list(doc, "id_token_signing_alg_values_supported");
    assert!(algs.contains("ES256") && algs.contains("RS256"), "{doc}");
    assert!(list(doc, "scopes_supported").contains("openid"), "{doc}");
    if doc.get("token_endpoint_auth_methods_supported").is_some() {
        let methods = list(doc, "token_endpoint_auth_methods_supported");
        for method in ["client_secret_basic", "client_secret_post", "none"] {
            assert!(methods.contains(method), "{method} missing: {doc}");
        }
    }

    let jwks = oauth::get_json(&server, "/jwks").await?;
    assert_eq!(jwks.status, StatusCode::OK, "{jwks}");
    let keys = jwks.json["keys"].as_array().cloned().unwrap_or_default();
    let mut kids = HashSet::new();
    for key in &keys {
        let kid = key["kid"].as_str().unwrap_or_default();
        assert!(!kid.is_empty(), "key without kid: {key}");
        assert!(kids.insert(kid.to_owned()), "duplicate kid {kid}");
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(
                key.get(private).is_none(),
                "private member `{private}` published: {key}"
            );
        }
    }
    let ec = keys.iter().find(|k| k["kty"] == "EC");
    let ec = ec.unwrap_or_else(|| panic!("no EC key in {}", jwks.json));
    assert_eq!(ec["crv"], "P-256", "{ec}");
    assert!(ec["x"].is_string() && ec["y"].is_string(), "{ec}");
    let rsa = keys.iter().find(|k| k["kty"] == "RSA");
    let rsa = rsa.unwrap_or_else(|| panic!("no RSA key in {}", jwks.json));
    assert!(rsa["n"].is_string() && rsa["e"].is_string(), "{rsa}");
    for (key, alg) in [(ec, "ES256"), (rsa, "RS256")] {
        if let Some(declared) = key.get("alg") {
            assert_eq!(declared, alg, "{key}");
        }
        if let Some(usage) = key.get("use") {
            assert_eq!(usage, "sig", "{key}");
        }
    }
    Ok(())
}

/// A JSON array of strings as a set (empty when absent).
fn list(doc: &Value, field: &str) -> HashSet<String> {
    doc[field]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
