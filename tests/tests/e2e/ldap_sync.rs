//! LDAP/AD synchronisation (issue 17 §4) against a real OpenLDAP `slapd` started by the test,
//! over LDAPS (the command line) and StartTLS (password logins in `tessera serve`): 1,000
//! officials with Vietnamese names across nested OUs come in as people and units; a wrong bind
//! password changes nothing; a re-run changes nothing; a person moved between OUs moves unit;
//! a person removed from the directory is disabled and logged out of their applications over
//! the back channel; people keep their domain password, and a wrong one is refused. A second
//! scenario runs the sync on a schedule in two replicas sharing one database.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use reqwest::StatusCode;
use serde_json::Value;
use tessera_e2e::slapd::{self, BASE_DN, Person, SERVICE_DN, SERVICE_PASSWORD, Slapd};
use tessera_e2e::{Backend, Browser, LogoutReceiver, NewClient, ServerOptions, TestServer, flow};

scenarios!(
    ldap_sync_brings_in_officials_and_follows_the_directory,
    ldap_sync_runs_on_a_schedule_in_one_replica_at_a_time
);

const WAIT: Duration = Duration::from_secs(30);
const CITY: &str = "Thành phố Hải Phòng";
const DOMAIN_PASSWORD: &str = "Mật-khẩu-miền-2024";

const FAMILY: [(&str, &str); 12] = [
    ("Nguyễn", "n"),
    ("Trần", "t"),
    ("Lê", "l"),
    ("Phạm", "p"),
    ("Hoàng", "h"),
    ("Phan", "p"),
    ("Vũ", "v"),
    ("Đặng", "d"),
    ("Bùi", "b"),
    ("Đỗ", "d"),
    ("Hồ", "h"),
    ("Ngô", "n"),
];
const MIDDLE: [(&str, &str); 6] = [
    ("Văn", "v"),
    ("Thị", "t"),
    ("Đức", "d"),
    ("Minh", "m"),
    ("Thanh", "t"),
    ("Ngọc", "n"),
];
const GIVEN: [(&str, &str); 14] = [
    ("An", "an"),
    ("Bình", "binh"),
    ("Cường", "cuong"),
    ("Dũng", "dung"),
    ("Giang", "giang"),
    ("Hạnh", "hanh"),
    ("Hương", "huong"),
    ("Khánh", "khanh"),
    ("Linh", "linh"),
    ("Phúc", "phuc"),
    ("Quân", "quan"),
    ("Thảo", "thao"),
    ("Tuấn", "tuan"),
    ("Yến", "yen"),
];

fn ous() -> Vec<Vec<String>> {
    [
        vec!["Sở Nội vụ"],
        vec!["Sở Nội vụ", "Phòng Tổ chức, Cán bộ"],
        vec!["Sở Tư pháp"],
        vec!["UBND quận Lê Chân"],
        vec!["UBND quận Lê Chân", "UBND phường An Biên"],
    ]
    .iter()
    .map(|p| p.iter().map(|s| (*s).to_owned()).collect())
    .collect()
}

/// `n` officials with Vietnamese names spread over the OUs; the first three have a password.
fn officials(n: usize) -> Vec<Person> {
    let ous = ous();
    (0..n)
        .map(|i| {
            let (f, fa) = FAMILY[i % FAMILY.len()];
            let (m, ma) = MIDDLE[(i / FAMILY.len()) % MIDDLE.len()];
            let (g, ga) = GIVEN[(i / 7) % GIVEN.len()];
            let uid = format!("{ga}.{fa}{ma}{i:04}");
            Person {
                mail: Some(format!("{uid}@haiphong.gov.vn")),
                phone: (i % 3 == 0).then(|| format!("+8491{:07}", i)),
                title: Some(
                    if i % 10 == 0 {
                        "Trưởng phòng"
                    } else {
                        "Chuyên viên"
                    }
                    .into(),
                ),
                cn: format!("{f} {m} {g}"),
                ous: ous[i % ous.len()].clone(),
                password: (i < 3).then(|| DOMAIN_PASSWORD.to_owned()),
                uid,
            }
        })
        .collect()
}

/// The directory, or `None` (skip) when slapd is not installed outside CI.
fn directory(people: &[Person]) -> anyhow::Result<Option<Slapd>> {
    if !slapd::available() {
        if std::env::var_os("CI").is_some() {
            bail!("slapd and ldap-utils are needed (see .ci/run)");
        }
        eprintln!("skipped: slapd (Debian's slapd and ldap-utils) is not installed");
        return Ok(None);
    }
    Slapd::start(people).map(Some)
}

/// A settings file for the directory; `extra` adds lines (the root unit, the schedule…).
fn config(
    dir: &Path,
    name: &str,
    url: &str,
    ca: &Path,
    password: &str,
    extra: &str,
) -> anyhow::Result<PathBuf> {
    let pw = dir.join(format!("{name}.bind-password"));
    std::fs::write(&pw, format!("{password}\n"))?;
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(
        &file,
        format!(
            "ldap_url = \"{url}\"\nldap_ca_file = \"{}\"\nldap_bind_dn = \"{SERVICE_DN}\"\n\
             ldap_bind_password_file = \"{}\"\nldap_base_dn = \"{BASE_DN}\"\n{extra}",
            ca.display(),
            pw.display()
        ),
    )?;
    Ok(file)
}

async fn users(server: &TestServer) -> anyhow::Result<Vec<Value>> {
    let out = server.cli_ok(&["user", "list", "--json"], None).await?;
    Ok(out.json()?.as_array().cloned().unwrap_or_default())
}

fn user<'a>(all: &'a [Value], username: &str) -> anyhow::Result<&'a Value> {
    all.iter()
        .find(|u| u["username"] == username)
        .with_context(|| format!("no user {username}"))
}

/// Unit ids by name.
async fn unit_id(server: &TestServer, name: &str) -> anyhow::Result<String> {
    let out = server.cli_ok(&["unit", "list", "--json"], None).await?;
    out.json()?
        .as_array()
        .and_then(|a| a.iter().find(|u| u["name"] == name))
        .and_then(|u| u["id"].as_str().map(str::to_owned))
        .with_context(|| format!("no unit {name}: {out}"))
}

async fn sync(server: &TestServer, config: &Path) -> anyhow::Result<tessera_e2e::CliOutput> {
    let c = config.to_string_lossy();
    server.cli(&["--config", &c, "ldap", "sync"], None).await
}

async fn ldap_sync_brings_in_officials_and_follows_the_directory(
    backend: Backend,
) -> anyhow::Result<()> {
    let people = officials(1000);
    let Some(dir) = directory(&people)? else {
        return Ok(());
    };
    let (an, binh, cuong) = (&people[0], &people[1], &people[2]);
    // The server checks domain passwords over StartTLS.
    let serve_config = config(
        dir.dir(),
        "serve",
        &dir.ldap_url(),
        &dir.ca(),
        SERVICE_PASSWORD,
        "ldap_password_login = true\n",
    )?;
    let server = TestServer::start_with(
        backend,
        ServerOptions::default()
            .allow_loopback_calls()
            .env("TESSERA_CONFIG", &serve_config.to_string_lossy()),
    )
    .await?;
    let city = server.add_unit(CITY, None).await?;
    let root = format!("ldap_root_unit = \"{city}\"\n");

    // A wrong bind password: a clear error, nothing changed.
    let wrong = config(
        dir.dir(),
        "wrong",
        &dir.ldaps_url(),
        &dir.ca(),
        "khong-dung",
        &root,
    )?;
    let refused = sync(&server, &wrong).await?;
    ensure!(!refused.success(), "{refused}");
    ensure!(
        refused.stderr.contains("refused the bind account")
            && refused.stderr.contains("invalidCredentials"),
        "{refused}"
    );
    ensure!(
        users(&server).await?.is_empty(),
        "a refused bind wrote users"
    );
    ensure!(
        !server.audit("directory.sync_failed").await?.is_empty(),
        "no directory.sync_failed"
    );

    // The first sync, over LDAPS: 1,000 officials, OUs become units under the city.
    let good = config(
        dir.dir(),
        "good",
        &dir.ldaps_url(),
        &dir.ca(),
        SERVICE_PASSWORD,
        &root,
    )?;
    let started = Instant::now();
    let first = sync(&server, &good).await?;
    ensure!(first.success(), "{first}");
    eprintln!("first sync of 1000 officials: {:?}", started.elapsed());
    ensure!(
        first
            .stderr
            .contains("1000 entries: 1000 created, 0 updated, 0 unchanged, 0 refused, 0 disabled"),
        "{first}"
    );
    ensure!(
        first.stderr.contains("1000 entries read"),
        "no progress: {first}"
    );
    ensure!(
        first
            .stdout
            .contains(&format!("created\t{}\t{}", an.uid, an.dn())),
        "{first}"
    );
    let all = users(&server).await?;
    assert_eq!(all.len(), 1000);
    let noi_vu = unit_id(&server, "Sở Nội vụ").await?;
    let to_chuc = unit_id(&server, "Phòng Tổ chức, Cán bộ").await?;
    let tu_phap = unit_id(&server, "Sở Tư pháp").await?;
    let an_bien = unit_id(&server, "UBND phường An Biên").await?;
    let units = server
        .cli_ok(&["unit", "list", "--json"], None)
        .await?
        .json()?;
    let parent = |id: &str| {
        units
            .as_array()
            .and_then(|a| a.iter().find(|u| u["id"] == id))
            .map(|u| u["parent_id"].clone())
    };
    assert_eq!(parent(&noi_vu), Some(Value::from(city.as_str())));
    assert_eq!(parent(&to_chuc), Some(Value::from(noi_vu.as_str())));
    assert_eq!(
        parent(&an_bien),
        Some(Value::from(unit_id(&server, "UBND quận Lê Chân").await?))
    );
    let an_user = user(&all, &an.uid)?;
    assert_eq!(an_user["name"], an.cn.as_str());
    assert_eq!(
        an_user["email"],
        an.mail.clone().unwrap_or_default().as_str()
    );
    assert_eq!(
        an_user["phone"],
        an.phone.clone().unwrap_or_default().as_str()
    );
    assert_eq!(an_user["unit_id"], noi_vu.as_str());
    assert_eq!(user(&all, &people[1].uid)?["unit_id"], to_chuc.as_str());
    assert_eq!(user(&all, &people[4].uid)?["unit_id"], an_bien.as_str());

    // Again: nothing changes.
    let again = sync(&server, &good).await?;
    ensure!(
        again
            .stderr
            .contains("1000 entries: 0 created, 0 updated, 1000 unchanged, 0 refused, 0 disabled"),
        "{again}"
    );

    // Officials keep their domain password (checked by binding as them over StartTLS)…
    let receiver = LogoutReceiver::start().await?;
    let client = server
        .add_client(
            &NewClient::confidential("vanban", "Quản lý văn bản")
                .backchannel_logout_uri(&receiver.url("/vanban/bcl")),
        )
        .await?;
    let rp = flow::relying_party(&server, &client).await?;
    let browser = Browser::new()?;
    let login = flow::sdk_login(&browser, &server, &rp, &[], &binh.uid, DOMAIN_PASSWORD).await?;
    // …and a wrong one is refused like any wrong password.
    let other = Browser::new()?;
    let (url, _) = rp.authorization_url(&[], &tessera_sdk::AuthOptions::default());
    let form = flow::open_login_page(&other, &url).await?.login_form()?;
    let wrong_pw = other
        .submit_login(&server, &form, &an.uid, "Mật-khẩu-sai-2024")
        .await?;
    assert_eq!(wrong_pw.status, StatusCode::UNAUTHORIZED, "{wrong_pw}");
    let form = wrong_pw.login_form()?;
    let right = other
        .submit_login(&server, &form, &an.uid, DOMAIN_PASSWORD)
        .await?;
    ensure!(right.status == StatusCode::SEE_OTHER, "{right}");

    // Cường moves from the Sở Tư pháp to the Sở Nội vụ; Bình leaves.
    assert_eq!(user(&all, &cuong.uid)?["unit_id"], tu_phap.as_str());
    dir.move_person(cuong, &ous()[0])?;
    dir.remove_person(binh)?;
    let third = sync(&server, &good).await?;
    ensure!(third.success(), "{third}");
    ensure!(
        third
            .stderr
            .contains("999 entries: 0 created, 1 updated, 998 unchanged, 0 refused, 1 disabled"),
        "{third}"
    );
    ensure!(
        third.stdout.contains(&format!("updated\t{}", cuong.uid)),
        "{third}"
    );
    ensure!(
        third
            .stdout
            .contains(&format!("disabled (left the directory)\t{}", binh.uid)),
        "{third}"
    );
    let all = users(&server).await?;
    assert_eq!(user(&all, &cuong.uid)?["unit_id"], noi_vu.as_str());
    assert_eq!(user(&all, &binh.uid)?["status"], "disabled");
    assert_eq!(all.len(), 1000, "nobody is deleted");
    // Bình's application hears of the end of the session over the back channel.
    let got = receiver.wait_for(1, WAIT).await?;
    let token = got[0].logout_token.as_deref().context("no logout_token")?;
    let (_, claims) = tessera_e2e::oauth::jwt_parts(token)?;
    assert_eq!(claims["sub"], login.subject.as_str());
    let disabled = server.audit("user.disabled").await?;
    assert_eq!(disabled.len(), 1, "{disabled:?}");
    assert_eq!(disabled[0].detail["backchannel_queued"], 1, "{disabled:?}");
    let synced = server.audit("directory.synced").await?;
    assert_eq!(synced.len(), 3);
    assert_eq!(synced[2].detail["disabled"], 1);

    // Bình comes back: enabled again, and signs in with the domain password.
    dir.add_person(binh)?;
    let back = sync(&server, &good).await?;
    ensure!(
        back.stderr
            .contains("1000 entries: 0 created, 1 updated, 999 unchanged, 0 refused, 0 disabled"),
        "{back}"
    );
    assert_eq!(user(&users(&server).await?, &binh.uid)?["status"], "active");
    flow::sdk_login(
        &Browser::new()?,
        &server,
        &rp,
        &[],
        &binh.uid,
        DOMAIN_PASSWORD,
    )
    .await?;
    Ok(())
}

async fn ldap_sync_runs_on_a_schedule_in_one_replica_at_a_time(
    backend: Backend,
) -> anyhow::Result<()> {
    let people = officials(3);
    let Some(dir) = directory(&people)? else {
        return Ok(());
    };
    let server = TestServer::start(backend).await?;
    let city = server.add_unit(CITY, None).await?;
    let scheduled = config(
        dir.dir(),
        "scheduled",
        &dir.ldaps_url(),
        &dir.ca(),
        SERVICE_PASSWORD,
        &format!("ldap_root_unit = \"{city}\"\nldap_sync_interval_secs = 2\n"),
    )?;
    let options = ServerOptions::default().env("TESSERA_CONFIG", &scheduled.to_string_lossy());
    let a = server.start_replica(options.clone()).await?;
    let b = server.start_replica(options).await?;
    let deadline = Instant::now() + WAIT;
    while users(&server).await?.len() < 3 {
        ensure!(
            Instant::now() < deadline,
            "the schedule did not sync:\n{}",
            a.output()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    dir.remove_person(&people[2])?;
    loop {
        let all = users(&server).await?;
        if user(&all, &people[2].uid)?["status"] == "disabled" {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "the leaver was not disabled:\n{}",
            b.output()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Let a few more intervals pass: each sync ran once, never two at once.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let synced = server.audit("directory.synced").await?;
    ensure!(synced.len() >= 2, "{synced:?}");
    let created: i64 = synced
        .iter()
        .map(|s| s.detail["created"].as_i64().unwrap_or(0))
        .sum();
    let disabled: i64 = synced
        .iter()
        .map(|s| s.detail["disabled"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!((created, disabled), (3, 1), "{synced:?}");
    assert!(server.audit("directory.sync_failed").await?.is_empty());
    Ok(())
}
