//! `tessera ca init --dry-run` (issue 16 §4): the key ceremony's rehearsal checks the options
//! and prints what would be created, and creates nothing; after the real `ca init` the
//! rehearsal refuses as `ca init` would.

use anyhow::ensure;
use serde_json::Value;
use tessera_e2e::{TempDir, run_tessera};

#[tokio::test]
async fn ca_init_dry_run_creates_nothing() {
    if let Err(e) = scenario().await {
        panic!("{e:#}");
    }
}

async fn scenario() -> anyhow::Result<()> {
    let dir = TempDir::new("tessera-e2e-ceremony")?;
    let data = dir.path().join("data").display().to_string();
    let run = |args: Vec<&'static str>| {
        let data = data.clone();
        async move {
            let mut full = args;
            full.extend(["--data-dir", "DATA"]);
            let full: Vec<&str> = full
                .iter()
                .map(|a| if *a == "DATA" { data.as_str() } else { a })
                .collect();
            run_tessera(&full, &[], None).await
        }
    };
    let options = [
        "--base-url",
        "https://id.haiphong.gov.vn",
        "--root-name",
        "Hải Phòng Root CA",
        "--root-years",
        "20",
        "--issuing-years",
        "10",
    ];
    let plan = run([&["ca", "init", "--dry-run", "--json"][..], &options].concat()).await?;
    ensure!(plan.success(), "{plan}");
    let plan: Value = serde_json::from_str(&plan.stdout)?;
    ensure!(
        plan["dry_run"] == true
            && plan["root"]["subject"]
                .as_str()
                .is_some_and(|s| s.contains("CN=") && s.contains("Root CA"))
            && plan["key_alg"] == "P-256"
            && plan["key_backend"] == "software"
            && plan["key_in_hardware"] == false
            && plan["issuing"]["crl_url"]
                .as_str()
                .is_some_and(|u| u.starts_with("https://id.haiphong.gov.vn/")),
        "{plan}"
    );
    let text = run([&["ca", "init", "--dry-run"][..], &options].concat()).await?;
    ensure!(
        text.success()
            && text.stdout.contains("nothing was generated or written")
            && text.stdout.contains("SOFTWARE TOKEN"),
        "{text}"
    );
    // Nothing exists after the rehearsal; bad options are refused as by the real thing.
    let list = run(vec!["ca", "list", "--json"]).await?;
    ensure!(list.success() && list.stdout.trim() == "[]", "{list}");
    let bad = run(vec![
        "ca",
        "init",
        "--dry-run",
        "--base-url",
        "https://id.haiphong.gov.vn",
        "--root-years",
        "5",
        "--issuing-years",
        "10",
    ])
    .await?;
    ensure!(
        !bad.success() && bad.stderr.contains("cannot outlive the root"),
        "{bad}"
    );

    let made = run([&["ca", "init"][..], &options].concat()).await?;
    ensure!(made.success(), "{made}");
    let again = run([&["ca", "init", "--dry-run"][..], &options].concat()).await?;
    ensure!(
        !again.success() && again.stderr.contains("already exist"),
        "{again}"
    );
    Ok(())
}
