//! The OpenAPI document and the router describe the same API.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

use super::{OPENAPI, ROUTES};

fn documented() -> BTreeSet<(String, String)> {
    let doc: serde_json::Value =
        serde_json::from_str(&OPENAPI).expect("the OpenAPI document is JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                out.insert((method.clone(), path.clone()));
            }
        }
    }
    out
}

#[test]
fn openapi_matches_routes() {
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let documented = documented();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the OpenAPI document: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented but not routed: {unrouted:?}"
    );
}

#[test]
fn every_schema_reference_resolves() {
    let doc: serde_json::Value = serde_json::from_str(&OPENAPI).unwrap();
    fn walk(v: &serde_json::Value, doc: &serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(|r| r.as_str()) {
                    let pointer = r.strip_prefix('#').expect("local reference");
                    assert!(doc.pointer(pointer).is_some(), "dangling reference {r}");
                }
                m.values().for_each(|x| walk(x, doc));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, doc)),
            _ => {}
        }
    }
    walk(&doc, &doc);
}

/// Every documented route reaches its handler: without a token it answers 401 with a Bearer
/// challenge (the document itself is public), never the catch-all 404 or a 405.
#[tokio::test]
async fn every_documented_route_is_served() {
    let (provider, dir) = crate::app::test_provider("tessera-admin-api-test").await;
    let app = crate::http::router(crate::http::AppState::new(provider.clone(), false));
    for (method, path) in documented() {
        let uri = path.replace('{', "x").replace('}', "");
        let req = Request::builder()
            .method(method.to_uppercase().as_str())
            .uri(&uri)
            .body(Body::empty())
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        if path == "/admin/api/openapi.json" {
            assert_eq!(resp.status(), StatusCode::OK);
        } else {
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{method} {uri}");
            assert!(
                resp.headers().contains_key("www-authenticate"),
                "{method} {uri}"
            );
        }
    }
    let req = Request::builder()
        .uri("/admin/api/nothing/here")
        .body(Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let req = Request::builder()
        .method("PUT")
        .uri("/admin/api/units")
        .body(Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(resp.headers().contains_key("allow"));
    let body = axum::body::to_bytes(resp.into_body(), 4096).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"], "method_not_allowed");
    provider.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Each answer is described by its wire type: the success response of every endpoint that
/// answers a body names a schema of `components`, derived from `tessera_proto::admin`.
#[test]
fn answers_name_their_wire_types() {
    let doc: serde_json::Value = serde_json::from_str(&OPENAPI).unwrap();
    for (method, path) in ROUTES {
        let responses = &doc["paths"][path][method]["responses"];
        let (status, success) = responses
            .as_object()
            .unwrap()
            .iter()
            .find(|(s, _)| s.starts_with('2'))
            .unwrap_or_else(|| panic!("{method} {path}: no success response"));
        if status == "204" || *path == "/admin/api/openapi.json" {
            continue;
        }
        // An image answers its bytes, described as such.
        if let Some(png) = success["content"].get("image/png") {
            assert_eq!(png["schema"]["contentMediaType"], "image/png", "{path}");
            assert!(path.ends_with("/png"), "{method} {path}");
            continue;
        }
        let schema = success["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path}: no answer schema"));
        let name = schema.trim_start_matches("#/components/schemas/");
        assert!(doc["components"]["schemas"][name].is_object(), "{name}");
    }
    let user = &doc["paths"]["/admin/api/users/{id}"]["get"]["responses"]["200"];
    assert_eq!(
        user["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/UserDetail"
    );
    let props = &doc["components"]["schemas"]["User"]["properties"];
    for member in ["id", "username", "name", "status", "password_must_change"] {
        assert!(props[member].is_object(), "User.{member}");
    }
}

/// POST and PATCH routes that act on the object the path names and take no body.
const BODYLESS: [&str; 11] = [
    "/admin/api/users/{id}/disable",
    "/admin/api/users/{id}/reset-factors",
    "/admin/api/users/{id}/end-sessions",
    "/admin/api/users/{id}/enable",
    "/admin/api/users/{id}/password",
    "/admin/api/users/{id}/unlock",
    "/admin/api/clients/{id}/secret",
    "/admin/api/credentials/{id}/suspend",
    "/admin/api/credentials/{id}/resume",
    "/admin/api/organisation-credentials/{id}/suspend",
    "/admin/api/organisation-credentials/{id}/resume",
];

/// Every POST and PATCH route documents its request body (a wire type of
/// `tessera_proto::admin` as JSON, or the certificate an import takes), unless it is one of the
/// reviewed body-less actions; those document none.
#[test]
fn requests_name_their_bodies() {
    let doc: serde_json::Value = serde_json::from_str(&OPENAPI).unwrap();
    for (method, path) in ROUTES {
        if !["post", "patch"].contains(method) {
            continue;
        }
        let body = &doc["paths"][path][method]["requestBody"];
        if BODYLESS.contains(path) {
            assert!(
                body.is_null(),
                "{method} {path}: documents a body it does not take"
            );
            continue;
        }
        let content = body["content"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path}: no request body"));
        if let Some(json) = content.get("application/json") {
            let schema = json["schema"]["$ref"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}: no body schema"));
            let name = schema.trim_start_matches("#/components/schemas/");
            assert!(doc["components"]["schemas"][name].is_object(), "{name}");
        } else {
            assert!(
                content.contains_key("application/pem-certificate-chain"),
                "{method} {path}: neither JSON nor a certificate"
            );
        }
    }
    let create = &doc["paths"]["/admin/api/users"]["post"]["requestBody"];
    assert_eq!(create["required"], true);
    assert_eq!(
        create["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/NewUserBody"
    );
    let props = &doc["components"]["schemas"]["NewUserBody"]["properties"];
    for member in ["username", "name", "email", "unit_id", "roles"] {
        assert!(props[member].is_object(), "NewUserBody.{member}");
    }
    let renew = &doc["paths"]["/admin/api/credentials/{id}/renew"]["post"]["requestBody"];
    assert_eq!(renew["required"], false, "an empty body means the defaults");
}
