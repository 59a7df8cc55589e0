//! Organisation credentials, their clients and signature/seal images through the
//! administration API: the city's certificate administrator issues a department's
//! organisation credential (subject O=<organisation>, OU=<unit>, C=VN), allows the clerk
//! system's client to use it and uploads the seal; a department administrator without
//! cert_admin is refused (403), another department's certificate administrator sees nothing
//! (404); images that are not PNG or exceed 1 MB are refused with a clear error.

use anyhow::ensure;
use reqwest::StatusCode;
use serde_json::json;
use tessera_e2e::admin::{ADMIN_SCOPE, AdminApi, login_token};
use tessera_e2e::oauth::JsonAnswer;
use tessera_e2e::{Backend, NewClient, NewUser, RegisteredClient, TestServer};

scenarios!(admin_api_organisation_credentials);

const PASSWORD: &str = "mat-khau-quan-tri-rat-dai-2468";
const SEAL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/pdf/images/con-dau-do.png"
);
const PDF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/pdf/quyet-dinh-libreoffice.pdf"
);

fn expect(answer: &JsonAnswer, status: StatusCode, what: &str) -> anyhow::Result<()> {
    ensure!(
        answer.status == status,
        "{what}: expected {status}, got {} {}",
        answer.status,
        answer.body
    );
    Ok(())
}

async fn user(
    s: &TestServer,
    username: &str,
    unit: &str,
    grant: Option<&str>,
) -> anyhow::Result<String> {
    let mut u = NewUser::new(username, username, PASSWORD);
    u.unit = Some(unit.to_owned());
    let id = s.add_user(&u).await?;
    if let Some(role) = grant {
        s.grant(username, role, unit).await?;
    }
    Ok(id)
}

async fn api(s: &TestServer, console: &RegisteredClient, who: &str) -> anyhow::Result<AdminApi> {
    let token = login_token(s, console, &format!("openid {ADMIN_SCOPE}"), who, PASSWORD).await?;
    Ok(AdminApi::new(s, Some(&token)))
}

async fn admin_api_organisation_credentials(backend: Backend) -> anyhow::Result<()> {
    let s = TestServer::start(backend).await?;
    let city = s.add_unit("Thành phố Hải Phòng", None).await?;
    let tuphap = s.add_unit("Sở Tư pháp", Some(&city)).await?;
    let noivu = s.add_unit("Sở Nội vụ", Some(&city)).await?;
    user(&s, "root.admin", &city, Some("admin")).await?;
    s.grant("root.admin", "cert_admin", &city).await?;
    user(&s, "cuong.ca", &tuphap, Some("cert_admin")).await?;
    user(&s, "lan.tt", &noivu, Some("admin")).await?;
    let an = user(&s, "an.nv", &tuphap, None).await?;
    let console = s
        .add_console("console", &format!("openid profile {ADMIN_SCOPE}"))
        .await?;
    let root = api(&s, &console, "root.admin").await?;
    let cuong = api(&s, &console, "cuong.ca").await?;
    let lan = api(&s, &console, "lan.tt").await?;
    s.cli_ok(&["ca", "init", "--base-url", s.issuer()], None)
        .await?;

    let path = format!("/units/{noivu}/organisation-credentials");
    let forbidden = lan.post(&path, json!({})).await?;
    expect(
        &forbidden,
        StatusCode::FORBIDDEN,
        "admin without cert_admin",
    )?;
    let hidden = cuong.post(&path, json!({})).await?;
    expect(&hidden, StatusCode::NOT_FOUND, "another department")?;
    let issued = root.post(&path, json!({ "alg": "RSA-2048" })).await?;
    expect(&issued, StatusCode::CREATED, "issue")?;
    let subject = issued.str("subject")?;
    ensure!(
        subject.contains("OU=Sở Nội vụ") && !subject.contains("CN="),
        "{}",
        issued.body
    );
    ensure!(
        issued.json["status"] == "active" && issued.json["unit_id"] == noivu.as_str(),
        "{}",
        issued.body
    );
    let cred = issued.str("id")?.to_owned();
    let bad_alg = root.post(&path, json!({ "alg": "RSA-1024" })).await?;
    expect(&bad_alg, StatusCode::BAD_REQUEST, "bad alg")?;

    // The clerk system's client.
    s.add_client(&NewClient::confidential("vanthu", "Văn thư điện tử"))
        .await?;
    let clients = format!("/organisation-credentials/{cred}/clients");
    let allowed = root
        .post(&clients, json!({ "client_id": "vanthu" }))
        .await?;
    expect(&allowed, StatusCode::CREATED, "allow client")?;
    ensure!(allowed.json["client_id"] == "vanthu", "{}", allowed.body);
    let unknown = root
        .post(&clients, json!({ "client_id": "nobody" }))
        .await?;
    expect(&unknown, StatusCode::NOT_FOUND, "unknown client")?;
    let listed = root.get(&path).await?;
    expect(&listed, StatusCode::OK, "list")?;
    ensure!(
        listed.json["credentials"][0]["allowed_clients"][0] == "vanthu",
        "{}",
        listed.body
    );
    let others = cuong
        .post(&clients, json!({ "client_id": "vanthu" }))
        .await?;
    expect(
        &others,
        StatusCode::NOT_FOUND,
        "another department's credential",
    )?;

    // A personal credential is not reached here.
    let personal = root
        .post("/credentials", json!({ "user_id": an, "ca": "internal" }))
        .await?;
    expect(&personal, StatusCode::CREATED, "personal credential")?;
    let personal_id = personal.str("id")?.to_owned();
    let not_org = root
        .post(
            &format!("/organisation-credentials/{personal_id}/clients"),
            json!({ "client_id": "vanthu" }),
        )
        .await?;
    expect(
        &not_org,
        StatusCode::NOT_FOUND,
        "personal credential as organisation",
    )?;

    // The seal: PNG only, ≤ 1 MB.
    let seal = std::fs::read(SEAL)?;
    let seal_path = format!("/units/{noivu}/seal");
    let set = root
        .put_bytes(&seal_path, "image/png", seal.clone())
        .await?;
    expect(&set, StatusCode::OK, "set seal")?;
    ensure!(
        set.json["kind"] == "seal" && set.json["bytes"] == seal.len() as u64,
        "{}",
        set.body
    );
    // The image itself, for whoever may change it.
    let bytes = root.get(&format!("{seal_path}/png")).await?;
    ensure!(
        bytes.status == StatusCode::OK
            && bytes.header("content-type") == Some("image/png")
            && bytes.body.contains("IHDR"),
        "seal bytes: {} {:?}",
        bytes.status,
        bytes.header("content-type")
    );
    expect(
        &lan.get(&format!("{seal_path}/png")).await?,
        StatusCode::FORBIDDEN,
        "seal bytes without cert_admin",
    )?;
    let not_png = root
        .put_bytes(&seal_path, "image/png", std::fs::read(PDF)?)
        .await?;
    expect(&not_png, StatusCode::BAD_REQUEST, "not a PNG")?;
    ensure!(not_png.body.contains("not a PNG file"), "{}", not_png.body);
    let mut big = seal.clone();
    big.resize(1024 * 1024 + 1, 0);
    let too_big = root.put_bytes(&seal_path, "image/png", big).await?;
    ensure!(
        too_big.status == StatusCode::BAD_REQUEST && too_big.body.contains("at most 1 MB"),
        "over 1 MB: {} {}",
        too_big.status,
        too_big.body
    );
    let json_body = root
        .put_bytes(&seal_path, "application/json", b"{}".to_vec())
        .await?;
    expect(&json_body, StatusCode::BAD_REQUEST, "JSON instead of PNG")?;
    expect(
        &lan.put_bytes(&seal_path, "image/png", seal.clone()).await?,
        StatusCode::FORBIDDEN,
        "seal without cert_admin",
    )?;
    expect(&root.get(&seal_path).await?, StatusCode::OK, "get seal")?;
    expect(
        &root.delete(&seal_path).await?,
        StatusCode::NO_CONTENT,
        "remove seal",
    )?;
    expect(
        &root.get(&seal_path).await?,
        StatusCode::NOT_FOUND,
        "seal gone",
    )?;

    // An official's signature image, by their unit's certificate administrator.
    let sig_path = format!("/users/{an}/signature-image");
    let sig = cuong.put_bytes(&sig_path, "image/png", seal).await?;
    expect(&sig, StatusCode::OK, "signature image")?;
    ensure!(sig.json["kind"] == "signature", "{}", sig.body);

    let gone = root.delete(&format!("{clients}/vanthu")).await?;
    expect(&gone, StatusCode::NO_CONTENT, "disallow")?;
    let again = root.delete(&format!("{clients}/vanthu")).await?;
    expect(&again, StatusCode::NOT_FOUND, "disallow twice")?;

    // Life cycle: suspended, resumed, revoked; another department reaches none of it.
    let life = format!("/organisation-credentials/{cred}");
    let hidden = cuong.post(&format!("{life}/suspend"), json!({})).await?;
    expect(
        &hidden,
        StatusCode::NOT_FOUND,
        "suspend from another department",
    )?;
    let suspended = root.post(&format!("{life}/suspend"), json!({})).await?;
    expect(&suspended, StatusCode::OK, "suspend")?;
    ensure!(
        suspended.json["status"] == "suspended",
        "{}",
        suspended.body
    );
    let resumed = root.post(&format!("{life}/resume"), json!({})).await?;
    ensure!(resumed.json["status"] == "active", "{}", resumed.body);
    let revoked = root
        .post(
            &format!("{life}/revoke"),
            json!({ "reason": "cessationOfOperation" }),
        )
        .await?;
    expect(&revoked, StatusCode::OK, "revoke")?;
    ensure!(revoked.json["status"] == "revoked", "{}", revoked.body);

    let audit = s
        .cli_ok(&["audit", "export", "--since", "2000-01-01"], None)
        .await?;
    for event in [
        "pki.credential.client_allowed",
        "pki.credential.client_disallowed",
        "signing.image.set",
        "signing.image.refused",
        "signing.image.removed",
    ] {
        ensure!(audit.stdout.contains(event), "{event} not audited");
    }
    Ok(())
}
