//! `tessera config check` (issue 16 §5): the effective settings with secrets masked; with
//! `TESSERA_ENV=production` an http issuer, the software token, and an empty outbound
//! allow-list while a client has a back-channel logout URI are refused (exit 1, each reason
//! named); the same settings outside production are warnings; safe production settings pass.

use anyhow::ensure;
use tessera_e2e::{TempDir, run_tessera};

const MASTER_KEY: &str = "q2P0vQk3bXQ4x1m7c9Zt8a6Y5w4V3u2T1s0R9p8O7n4=";

#[tokio::test]
async fn config_check_masks_secrets_and_refuses_dangers_in_production() {
    if let Err(e) = scenario().await {
        panic!("{e:#}");
    }
}

async fn scenario() -> anyhow::Result<()> {
    let dir = TempDir::new("tessera-e2e-config")?;
    let data = dir.path().join("data");
    let data_arg = data.display().to_string();
    let pin_file = dir.path().join("pin");
    std::fs::write(&pin_file, "ma-pin-bi-mat-9753\n")?;
    let pin_arg = pin_file.display().to_string();
    let key = [("TESSERA_MASTER_KEY", MASTER_KEY)];
    // A client with a back-channel logout URI.
    let added = run_tessera(
        &[
            "client",
            "add",
            "--id",
            "vanban",
            "--name",
            "Quản lý văn bản",
            "--redirect-uri",
            "https://vanban.example.gov.vn/cb",
            "--backchannel-logout-uri",
            "https://vanban.example.gov.vn/logout",
            "--data-dir",
            &data_arg,
        ],
        &key,
        None,
    )
    .await?;
    ensure!(added.success(), "{added}");

    let check = |env: Vec<(&'static str, String)>| {
        let data_arg = data_arg.clone();
        async move {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            run_tessera(&["config", "check", "--data-dir", &data_arg], &env, None).await
        }
    };

    // Production on the defaults: three refusals, each named.
    let out = check(vec![
        ("TESSERA_ENV", "production".into()),
        ("TESSERA_MASTER_KEY", MASTER_KEY.into()),
    ])
    .await?;
    ensure!(!out.success(), "production defaults passed: {out}");
    for reason in [
        "issuer",
        "software token",
        "outbound allow-list is empty while clients have back-channel logout URIs (vanban)",
    ] {
        ensure!(
            out.stderr.contains("refused: ") && out.stderr.contains(reason),
            "no refusal about {reason}: {out}"
        );
    }
    ensure!(
        out.stdout.contains("master_key = *** (TESSERA_MASTER_KEY)"),
        "{out}"
    );
    ensure!(
        !format!("{out}").contains(MASTER_KEY),
        "the master key is printed: {out}"
    );

    // Outside production the same settings are warnings only.
    let out = check(vec![
        ("TESSERA_ISSUER", "http://id.example.gov.vn".into()),
        ("TESSERA_MASTER_KEY", MASTER_KEY.into()),
    ])
    .await?;
    ensure!(out.success(), "{out}");
    ensure!(
        out.stdout
            .contains("warning: the issuer http://id.example.gov.vn is not https"),
        "{out}"
    );

    // Safe production settings pass (an HSM module is only named here, not opened).
    let out = check(vec![
        ("TESSERA_ENV", "production".into()),
        ("TESSERA_MASTER_KEY", MASTER_KEY.into()),
        ("TESSERA_ISSUER", "https://id.example.gov.vn".into()),
        (
            "TESSERA_PKCS11_MODULE",
            "/opt/hsm/lib/libcs_pkcs11_R3.so".into(),
        ),
        ("TESSERA_PKCS11_TOKEN_LABEL", "tessera".into()),
        ("TESSERA_PKCS11_PIN_FILE", pin_arg.clone()),
        ("TESSERA_OUTBOUND_ALLOW_HOSTS", "*.example.gov.vn".into()),
    ])
    .await?;
    ensure!(out.success(), "safe production settings refused: {out}");
    ensure!(
        out.stdout.contains("pkcs11_pin = ***") && !format!("{out}").contains("ma-pin-bi-mat"),
        "{out}"
    );
    ensure!(
        out.stdout.contains("production settings: no refusal"),
        "{out}"
    );

    // Any host allowed without address ranges, plain http outbound: refused too.
    let out = check(vec![
        ("TESSERA_ENV", "production".into()),
        ("TESSERA_MASTER_KEY", MASTER_KEY.into()),
        ("TESSERA_ISSUER", "https://id.example.gov.vn".into()),
        (
            "TESSERA_PKCS11_MODULE",
            "/usr/lib/softhsm/libsofthsm2.so".into(),
        ),
        ("TESSERA_PKCS11_TOKEN_LABEL", "tessera".into()),
        ("TESSERA_PKCS11_PIN_FILE", pin_arg),
        ("TESSERA_OUTBOUND_ALLOW_HOSTS", "*".into()),
        ("TESSERA_OUTBOUND_ALLOW_HTTP", "true".into()),
    ])
    .await?;
    ensure!(!out.success(), "{out}");
    for reason in ["SoftHSM2", "any host (*)", "TESSERA_OUTBOUND_ALLOW_HTTP"] {
        ensure!(
            out.stderr.contains(reason),
            "no refusal about {reason}: {out}"
        );
    }
    Ok(())
}
