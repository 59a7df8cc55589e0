//! Token-signing keys in an HSM: `tessera serve` with `TESSERA_PKCS11_*` pointing at a SoftHSM2
//! token. Skipped with a message when SoftHSM2 is not installed, except in CI.

use anyhow::{Context, anyhow, ensure};
use serde_json::Value;
use tessera_e2e::fixture::{Fixture, PASSWORD, USERNAME};
use tessera_e2e::{Backend, NewClient, ServerOptions, TempDir, flow, oauth, run_tessera};
use tessera_hsm::softhsm::{SoftHsmToken, module_or_skip};

scenarios!(hsm_signs_id_tokens);

const LABEL: &str = "tessera-e2e";
pub(crate) const PIN: &str = "mat-ma-pin-2468";

/// Environment variables for a process.
pub(crate) type Env = Vec<(String, String)>;

/// A fresh token, and the `TESSERA_PKCS11_*` environment for it (PIN in a file).
pub(crate) fn hsm_env(
    test: &str,
    pin_dir: &TempDir,
) -> anyhow::Result<Option<(SoftHsmToken, Env)>> {
    let Some(module) = module_or_skip(test).map_err(|e| anyhow!(e))? else {
        return Ok(None);
    };
    let token = SoftHsmToken::create(&module, LABEL, PIN).map_err(|e| anyhow!(e))?;
    let pin_file = pin_dir.path().join("pin");
    std::fs::write(&pin_file, format!("{PIN}\n"))?;
    let env = vec![
        ("SOFTHSM2_CONF".into(), token.conf.display().to_string()),
        ("TESSERA_PKCS11_MODULE".into(), module.display().to_string()),
        ("TESSERA_PKCS11_TOKEN_LABEL".into(), LABEL.into()),
        (
            "TESSERA_PKCS11_PIN_FILE".into(),
            pin_file.display().to_string(),
        ),
    ];
    Ok(Some((token, env)))
}

/// Server options with the `TESSERA_PKCS11_*` environment `env`.
pub(crate) fn hsm_options(env: &Env) -> ServerOptions {
    env.iter()
        .fold(ServerOptions::default(), |o, (k, v)| o.env(k, v))
}

/// ID tokens signed inside the HSM (ES256 and RS256) verify in the SDK against the JWKS, and
/// `tessera hsm keys` shows the very keys whose ids the tokens name.
async fn hsm_signs_id_tokens(backend: Backend) -> anyhow::Result<()> {
    let pin_dir = TempDir::new("tessera-e2e-pin")?;
    let Some((_token, env)) = hsm_env("hsm_signs_id_tokens", &pin_dir)? else {
        return Ok(());
    };
    let fx = Fixture::start_with(backend, hsm_options(&env)).await?;
    let server = &fx.server;
    let startup = server.output();
    ensure!(
        startup.contains("held by the HSM") && !startup.contains("SOFTWARE TOKEN"),
        "the server does not announce the HSM: {startup}"
    );
    ensure!(!startup.contains(PIN), "the PIN is in the server output");

    // The SDK verifies the ES256 ID token against the JWKS.
    let browser = fx.browser()?;
    let rp = fx.rp().await?;
    let login = flow::sdk_login(&browser, server, &rp, &["profile"], USERNAME, PASSWORD).await?;
    let (es_header, _) = oauth::jwt_parts(&login.id_token)?;
    ensure!(es_header["alg"] == "ES256", "{es_header}");

    // And the RS256 one, from a second client.
    let mut new = NewClient::confidential("nhansu", "Quản lý nhân sự");
    new.alg = Some("RS256".into());
    let client = fx.add_client(new).await?;
    let rsa_rp = flow::relying_party(server, &client).await?;
    let rsa_login =
        flow::sdk_login(&fx.browser()?, server, &rsa_rp, &[], USERNAME, PASSWORD).await?;
    let (rs_header, _) = oauth::jwt_parts(&rsa_login.id_token)?;
    ensure!(rs_header["alg"] == "RS256", "{rs_header}");
    let jwks = oauth::get_json(server, "/jwks").await?.json;
    oauth::verify_jws(&login.id_token, &jwks)?;
    oauth::verify_jws(&rsa_login.id_token, &jwks)?;

    // `tessera hsm keys`: both keys on the token, locked down, active, with the tokens' kids.
    let data_dir = server.data_dir().display().to_string();
    let mut cli_env: Vec<(&str, &str)> =
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let db = server.database_url();
    cli_env.push(("TESSERA_DATABASE_URL", &db));
    let out = run_tessera(
        &["hsm", "keys", "--json", "--data-dir", &data_dir],
        &cli_env,
        None,
    )
    .await?;
    ensure!(out.success(), "tessera hsm keys failed: {out}");
    let keys = out.json()?;
    let keys = keys.as_array().context("hsm keys --json is not an array")?;
    ensure!(keys.len() == 2, "expected the ES256 and RS256 keys: {out}");
    for (header, algorithm) in [(&es_header, "P-256"), (&rs_header, "RSA-2048")] {
        let key = keys
            .iter()
            .find(|k| k["kid"] == header["kid"])
            .with_context(|| format!("kid {} not on the token: {out}", header["kid"]))?;
        ensure!(key["algorithm"] == algorithm, "{key}");
        ensure!(key["status"] == "active", "{key}");
        ensure!(key["use"] == "OIDC token signing", "{key}");
        ensure!(key["locked_down"] == Value::Bool(true), "{key}");
        ensure!(
            key["label"]
                .as_str()
                .is_some_and(|l| l.starts_with("tessera:oidc:")),
            "{key}"
        );
    }
    let text = run_tessera(&["hsm", "keys", "--data-dir", &data_dir], &cli_env, None).await?;
    ensure!(
        text.success() && text.stdout.contains("OIDC token signing"),
        "{text}"
    );

    // `tessera hsm info` names the module and the configured token.
    let info = run_tessera(&["hsm", "info", "--data-dir", &data_dir], &cli_env, None).await?;
    ensure!(
        info.success() && info.stdout.contains(LABEL) && info.stdout.contains("CKM_ECDSA"),
        "{info}"
    );
    Ok(())
}

/// A server whose HSM PIN is wrong exits non-zero with a clear message and never serves.
#[tokio::test]
async fn server_refuses_a_wrong_hsm_pin() {
    let pin_dir = TempDir::new("tessera-e2e-pin").unwrap();
    let Some((_token, mut env)) = hsm_env("server_refuses_a_wrong_hsm_pin", &pin_dir).unwrap()
    else {
        return;
    };
    env.retain(|(k, _)| k != "TESSERA_PKCS11_PIN_FILE");
    env.push(("TESSERA_PKCS11_PIN".into(), "sai-ma-pin-1357".into()));
    let dir = TempDir::new("tessera-e2e").unwrap();
    let data_dir = dir.path().display().to_string();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let out = run_tessera(
        &["serve", "--listen", "127.0.0.1:0", "--data-dir", &data_dir],
        &env,
        None,
    )
    .await
    .unwrap();
    assert!(!out.success(), "served with a wrong PIN: {out}");
    assert!(!out.stdout.contains("listening on"), "{out}");
    assert!(
        out.stderr.contains("wrong user PIN") && out.stderr.contains("CKR_PIN_INCORRECT"),
        "unclear error: {out}"
    );
    assert!(out.stderr.contains("does not fall back"), "{out}");
    assert!(
        !out.stderr.contains("sai-ma-pin-1357"),
        "the PIN is echoed: {out}"
    );
    // A missing token is as clear.
    let env: Vec<(&str, &str)> = env
        .iter()
        .map(|(k, v)| {
            if *k == "TESSERA_PKCS11_TOKEN_LABEL" {
                (*k, "khong-co")
            } else {
                (*k, *v)
            }
        })
        .collect();
    let out = run_tessera(
        &["serve", "--listen", "127.0.0.1:0", "--data-dir", &data_dir],
        &env,
        None,
    )
    .await
    .unwrap();
    assert!(
        !out.success() && out.stderr.contains("no token with label \"khong-co\""),
        "{out}"
    );
}
