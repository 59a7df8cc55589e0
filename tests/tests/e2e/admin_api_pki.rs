//! Officials' signing credentials through the administration API, checked by OpenSSL: the
//! city's certificate administrator issues a department official's credential from the
//! internal CA (`openssl verify` accepts it) and one through an external CA (CSR out,
//! certificate in); the department's certificate administrator suspends, resumes and revokes
//! it, and `openssl ocsp` and the CRL follow; another department's administrator reaches
//! nothing of it. Every change is audited with the acting administrator.

use anyhow::ensure;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_e2e::admin::{ADMIN_SCOPE, AdminApi, login_token};
use tessera_e2e::oauth::JsonAnswer;
use tessera_e2e::{Backend, NewUser, RegisteredClient, TempDir, TestServer};

use super::pki::{ca_files, fetch, ocsp, openssl, openssl_ok};

scenarios!(admin_api_credentials);

const PASSWORD: &str = "mat-khau-quan-tri-rat-dai-2468";
const NAME: &str = "Nguyễn Văn An";

fn expect(answer: &JsonAnswer, status: StatusCode, what: &str) -> anyhow::Result<()> {
    ensure!(
        answer.status == status,
        "{what}: expected {status}, got {} {}",
        answer.status,
        answer.body
    );
    Ok(())
}

/// A refusal with its JSON error code, revealing nothing of the credential.
fn refused(answer: &JsonAnswer, status: StatusCode, code: &str, what: &str) -> anyhow::Result<()> {
    expect(answer, status, what)?;
    ensure!(
        answer.error() == Some(code),
        "{what}: expected error {code}, got {}",
        answer.body
    );
    ensure!(
        answer.json.get("serial").is_none() && answer.json.get("certificate_pem").is_none(),
        "{what}: the refusal reveals the credential: {}",
        answer.body
    );
    Ok(())
}

async fn user(
    s: &TestServer,
    username: &str,
    name: &str,
    unit: &str,
    grant: Option<&str>,
) -> anyhow::Result<String> {
    let mut u = NewUser::new(username, name, PASSWORD);
    u.unit = Some(unit.to_owned());
    u.email = Some(format!("{username}@haiphong.gov.vn"));
    let id = s.add_user(&u).await?;
    if let Some(role) = grant {
        s.grant(username, role, unit).await?;
    }
    Ok(id)
}

async fn api(
    s: &TestServer,
    console: &RegisteredClient,
    username: &str,
) -> anyhow::Result<AdminApi> {
    let token = login_token(
        s,
        console,
        &format!("openid {ADMIN_SCOPE}"),
        username,
        PASSWORD,
    )
    .await?;
    Ok(AdminApi::new(s, Some(&token)))
}

fn ids(list: &JsonAnswer, member: &str, key: &str) -> Vec<String> {
    list.json[member]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c[key].as_str().map(str::to_owned))
        .collect()
}

async fn admin_api_credentials(backend: Backend) -> anyhow::Result<()> {
    let s = TestServer::start(backend).await?;
    let dir = TempDir::new("tessera-e2e-admin-pki")?;
    let d = dir.path();

    // Hải Phòng with two departments; the city administrator also holds cert_admin.
    let city = s.add_unit("Thành phố Hải Phòng", None).await?;
    let tuphap = s.add_unit("Sở Tư pháp", Some(&city)).await?;
    let noivu = s.add_unit("Sở Nội vụ", Some(&city)).await?;
    let root_id = user(&s, "root.admin", "Quản trị Thành phố", &city, Some("admin")).await?;
    s.grant("root.admin", "cert_admin", &city).await?;
    let cuong_id = user(&s, "cuong.ca", "Đỗ Văn Cường", &tuphap, Some("cert_admin")).await?;
    let lan_id = user(&s, "lan.tt", "Trần Thị Lan", &noivu, Some("admin")).await?;
    let an_id = user(&s, "an.nv", NAME, &tuphap, None).await?;
    let hoa_id = user(&s, "hoa.pt", "Phạm Thị Hoa", &noivu, None).await?;
    let console = s
        .add_console("console", &format!("openid profile {ADMIN_SCOPE}"))
        .await?;
    let root = api(&s, &console, "root.admin").await?;
    let cuong = api(&s, &console, "cuong.ca").await?;
    let lan = api(&s, &console, "lan.tt").await?;

    // Before the CA exists, the internal path is a clear conflict and no key is left behind.
    let early = root
        .post("/credentials", json!({ "user_id": an_id }))
        .await?;
    refused(
        &early,
        StatusCode::CONFLICT,
        "conflict",
        "issue without a CA",
    )?;
    ensure!(early.body.contains("tessera ca init"), "{}", early.body);
    let bad = root
        .post(
            "/credentials",
            json!({ "user_id": an_id, "alg": "RSA-1024" }),
        )
        .await?;
    refused(&bad, StatusCode::BAD_REQUEST, "invalid_request", "bad alg")?;
    s.cli_ok(&["ca", "init", "--base-url", s.issuer()], None)
        .await?;
    ca_files(&s, d).await?;

    // The city issues An's credential from the internal CA.
    let issued = root
        .post(
            "/credentials",
            json!({ "user_id": an_id, "alg": "P-256", "title": "Phó Giám đốc", "ca": "internal" }),
        )
        .await?;
    expect(&issued, StatusCode::CREATED, "issue")?;
    ensure!(
        issued.json["status"] == "active"
            && issued.json["source"] == "internal"
            && issued.json["user"]["id"] == an_id.as_str()
            && issued.json.get("key_ref").is_none(),
        "{}",
        issued.body
    );
    let an_cred = issued.str("id")?.to_owned();
    let serial = issued.str("serial")?.to_uppercase();
    std::fs::write(d.join("an.pem"), issued.str("certificate_pem")?)?;
    let chain: Vec<&str> = issued.json["chain_pem"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    ensure!(chain.len() == 2, "issuing CA and root: {}", issued.body);
    std::fs::write(d.join("api-chain.pem"), chain.concat())?;
    let verify = openssl_ok(
        d,
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "api-chain.pem",
            "an.pem",
        ],
    )
    .await?;
    ensure!(verify.contains("an.pem: OK"), "{verify}");
    let text = openssl_ok(
        d,
        &[
            "x509", "-in", "an.pem", "-noout", "-subject", "-nameopt", "utf8",
        ],
    )
    .await?;
    ensure!(
        text.contains(NAME) && text.contains("Phó Giám đốc") && text.contains("Sở Tư pháp"),
        "{text}"
    );
    let good = ocsp(&s, d, &["-cert", "an.pem"]).await?;
    ensure!(good.contains("an.pem: good"), "{good}");

    // Lists and expiry notices.
    let listed = root
        .get(&format!("/credentials?unit_id={city}&status=active"))
        .await?;
    expect(&listed, StatusCode::OK, "list")?;
    ensure!(
        ids(&listed, "credentials", "id") == vec![an_cred.clone()],
        "{}",
        listed.body
    );
    let soon = root.get("/credentials/expiring?days=3650").await?;
    expect(&soon, StatusCode::OK, "expiring")?;
    ensure!(
        ids(&soon, "notices", "credential_id") == vec![an_cred.clone()]
            && soon.json["notices"][0]["days_left"].as_i64() > Some(300),
        "{}",
        soon.body
    );
    let none = root.get("/credentials/expiring").await?;
    expect(&none, StatusCode::OK, "expiring, default window")?;
    ensure!(none.json["days"] == 30 && ids(&none, "notices", "credential_id").is_empty());
    let listed = root.get("/credentials?expiring_within_days=3650").await?;
    ensure!(
        ids(&listed, "credentials", "id") == vec![an_cred.clone()],
        "{}",
        listed.body
    );
    refused(
        &root.get("/credentials?expiring_within_days=-3").await?,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "negative window",
    )?;

    // An external CA for Hoa (Sở Nội vụ): the CSR comes out, the CA's answer goes in.
    let pending = root
        .post(
            "/credentials",
            json!({ "user_id": hoa_id, "alg": "RSA-2048", "ca": "external" }),
        )
        .await?;
    expect(&pending, StatusCode::CREATED, "external request")?;
    ensure!(pending.json["status"] == "pending", "{}", pending.body);
    let hoa_cred = pending.str("id")?.to_owned();
    std::fs::write(d.join("hoa.csr"), pending.str("csr_pem")?)?;
    let csr = openssl_ok(d, &["req", "-in", "hoa.csr", "-verify", "-noout"]).await?;
    ensure!(csr.contains("verify OK"), "{csr}");
    openssl_ok(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ext.key",
            "-out",
            "ext.pem",
            "-days",
            "30",
            "-subj",
            "/C=VN/O=Ban Cơ yếu Chính phủ/CN=Test Government CA",
            "-utf8",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    )
    .await?;
    std::fs::write(
        d.join("user.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n",
    )?;
    openssl_ok(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "hoa.csr",
            "-CA",
            "ext.pem",
            "-CAkey",
            "ext.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            "user.ext",
            "-out",
            "hoa.pem",
        ],
    )
    .await?;
    let path = format!("/credentials/{hoa_cred}/certificate");
    let junk = root
        .post_bytes(
            &path,
            "application/pem-certificate-chain",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec(),
        )
        .await?;
    refused(
        &junk,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "junk import",
    )?;
    ensure!(junk.body.contains("certificate refused"), "{}", junk.body);
    let alone = root
        .post_bytes(
            &path,
            "application/pem-certificate-chain",
            std::fs::read(d.join("hoa.pem"))?,
        )
        .await?;
    refused(
        &alone,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "no chain",
    )?;
    ensure!(alone.body.contains("certificate refused"), "{}", alone.body);
    let as_json = root.post(&path, json!({ "certificate": "x" })).await?;
    refused(
        &as_json,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "JSON import",
    )?;
    let bundle = [
        std::fs::read(d.join("hoa.pem"))?,
        std::fs::read(d.join("ext.pem"))?,
    ]
    .concat();
    // The external CA's root is no trust anchor yet: a root anyone can make is refused.
    let untrusted = root
        .post_bytes(&path, "application/pem-certificate-chain", bundle.clone())
        .await?;
    refused(
        &untrusted,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "untrusted root",
    )?;
    ensure!(
        untrusted.body.contains("not a trust anchor"),
        "{}",
        untrusted.body
    );
    let ext_pem = d.join("ext.pem").display().to_string();
    s.cli_ok(&["trust", "add", "--file", &ext_pem], None)
        .await?;
    let imported = root
        .post_bytes(&path, "application/pem-certificate-chain", bundle.clone())
        .await?;
    expect(&imported, StatusCode::OK, "import")?;
    ensure!(
        imported.json["status"] == "active"
            && imported.json["source"] == "external"
            && imported.str("issuer")?.contains("Test Government CA"),
        "{}",
        imported.body
    );
    let twice = root
        .post_bytes(&path, "application/pem-certificate-chain", bundle)
        .await?;
    refused(&twice, StatusCode::CONFLICT, "conflict", "second import")?;

    // A certificate administrator cannot complete their own pending credential by importing
    // a certificate (from a root they made, or any other), even one another administrator
    // requested for them.
    let own = root
        .post(
            "/credentials",
            json!({ "user_id": cuong_id, "ca": "external" }),
        )
        .await?;
    expect(
        &own,
        StatusCode::CREATED,
        "external request for a cert_admin",
    )?;
    let own_id = own.str("id")?.to_owned();
    let attempt = cuong
        .post_bytes(
            &format!("/credentials/{own_id}/certificate"),
            "application/pem-certificate-chain",
            std::fs::read(d.join("ext.pem"))?,
        )
        .await?;
    refused(&attempt, StatusCode::FORBIDDEN, "forbidden", "own import")?;

    // The Nội vụ administrator: Tư pháp's credential does not exist for her, and an
    // administrator without cert_admin issues nothing, even in her own department.
    let got = lan.get(&format!("/credentials/{an_cred}")).await?;
    refused(
        &got,
        StatusCode::NOT_FOUND,
        "not_found",
        "foreign credential",
    )?;
    for action in ["revoke", "suspend", "renew"] {
        let r = lan
            .post(&format!("/credentials/{an_cred}/{action}"), json!({}))
            .await?;
        refused(&r, StatusCode::NOT_FOUND, "not_found", action)?;
    }
    let r = lan
        .post("/credentials", json!({ "user_id": an_id }))
        .await?;
    refused(
        &r,
        StatusCode::NOT_FOUND,
        "not_found",
        "create in another department",
    )?;
    let r = lan
        .post("/credentials", json!({ "user_id": hoa_id }))
        .await?;
    refused(
        &r,
        StatusCode::FORBIDDEN,
        "forbidden",
        "create without cert_admin",
    )?;
    let r = lan
        .post(&format!("/credentials/{hoa_cred}/suspend"), json!({}))
        .await?;
    refused(
        &r,
        StatusCode::FORBIDDEN,
        "forbidden",
        "suspend without cert_admin",
    )?;
    let seen = lan.get("/credentials").await?;
    expect(&seen, StatusCode::OK, "her list")?;
    ensure!(
        ids(&seen, "credentials", "id") == vec![hoa_cred.clone()],
        "{}",
        seen.body
    );
    let r = lan.get(&format!("/credentials?unit_id={tuphap}")).await?;
    refused(
        &r,
        StatusCode::NOT_FOUND,
        "not_found",
        "list another department",
    )?;
    let r = cuong.get(&format!("/credentials/{hoa_cred}")).await?;
    refused(
        &r,
        StatusCode::NOT_FOUND,
        "not_found",
        "the other way round",
    )?;

    // Tư pháp's certificate administrator suspends, resumes and revokes An's credential;
    // OCSP and the CRL follow at once.
    let held = cuong
        .post(&format!("/credentials/{an_cred}/suspend"), json!({}))
        .await?;
    expect(&held, StatusCode::OK, "suspend")?;
    ensure!(held.json["status"] == "suspended", "{}", held.body);
    let out = ocsp(&s, d, &["-cert", "an.pem"]).await?;
    ensure!(out.contains("certificateHold"), "{out}");
    expect(
        &cuong
            .post(&format!("/credentials/{an_cred}/resume"), json!({}))
            .await?,
        StatusCode::OK,
        "resume",
    )?;
    let out = ocsp(&s, d, &["-cert", "an.pem"]).await?;
    ensure!(out.contains("an.pem: good"), "{out}");
    let r = cuong
        .post(
            &format!("/credentials/{an_cred}/revoke"),
            json!({ "reason": "boredom" }),
        )
        .await?;
    refused(
        &r,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "unknown reason",
    )?;
    ensure!(r.body.contains("keyCompromise"), "{}", r.body);
    let revoked = cuong
        .post(
            &format!("/credentials/{an_cred}/revoke"),
            json!({ "reason": "keyCompromise" }),
        )
        .await?;
    expect(&revoked, StatusCode::OK, "revoke")?;
    ensure!(
        revoked.json["status"] == "revoked" && revoked.json["revocation_reason"] == "keyCompromise",
        "{}",
        revoked.body
    );
    let again = cuong
        .post(
            &format!("/credentials/{an_cred}/revoke"),
            json!({ "reason": 1 }),
        )
        .await?;
    refused(&again, StatusCode::CONFLICT, "conflict", "revoke twice")?;
    let out = ocsp(&s, d, &["-cert", "an.pem"]).await?;
    ensure!(
        out.contains("revoked") && out.contains("keyCompromise"),
        "{out}"
    );
    fetch(&s, "/pki/crl/issuing.crl", d, "issuing.crl").await?;
    let crl = openssl_ok(
        d,
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "issuing.crl",
            "-CAfile",
            "issuing.pem",
            "-noout",
            "-text",
        ],
    )
    .await?;
    ensure!(
        crl.contains("verify OK") && crl.contains(&serial) && crl.contains("Key Compromise"),
        "the CRL does not list {serial}:\n{crl}"
    );
    openssl_ok(
        d,
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "issuing.crl",
            "-out",
            "issuing.crl.pem",
        ],
    )
    .await?;
    let (ok, out) = openssl(
        d,
        &[
            "verify",
            "-crl_check",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "-CRLfile",
            "issuing.crl.pem",
            "an.pem",
        ],
    )
    .await?;
    ensure!(!ok && out.contains("revoked"), "{out}");
    let gone = root.get("/credentials/expiring?days=3650").await?;
    ensure!(
        ids(&gone, "notices", "credential_id") == vec![hoa_cred.clone()],
        "a revoked credential needs no expiry notice: {}",
        gone.body
    );

    // Each change carries the acting administrator; refusals are recorded too.
    let actor_of = |rows: &[tessera_e2e::AuditRow]| -> Vec<Option<String>> {
        rows.iter().map(|r| r.actor.clone()).collect()
    };
    let issued = s.audit("pki.credential.issued").await?;
    ensure!(
        actor_of(&issued) == vec![Some(root_id.clone()), Some(root_id.clone())],
        "{issued:?}"
    );
    let revoked = s.audit("pki.credential.revoked").await?;
    ensure!(
        actor_of(&revoked) == vec![Some(cuong_id.clone())]
            && revoked[0].detail["credential"] == an_cred.as_str(),
        "{revoked:?}"
    );
    let suspended = s.audit("pki.credential.suspended").await?;
    ensure!(
        actor_of(&suspended) == vec![Some(cuong_id.clone())],
        "{suspended:?}"
    );
    let refusals = s.audit("admin.refused").await?;
    ensure!(
        refusals
            .iter()
            .any(|r| r.actor.as_deref() == Some(lan_id.as_str())
                && r.detail["action"] == "POST /admin/api/credentials"),
        "{refusals:?}"
    );
    Ok(())
}
