//! `tessera user import`: Vietnamese rows with bad ones among them, refused by line with the
//! reason while the good ones go in; a dry run writes nothing; a re-run creates nothing twice.

use anyhow::ensure;
use serde_json::Value;
use tessera_e2e::{Backend, TempDir, TestServer};

scenarios!(csv_import_is_checked_idempotent_and_dry_runs);

const CSV: &str = "\
username,name,email,phone,unit,roles,title
an.nv,Nguyễn Văn An,an.nv@haiphong.gov.vn,+84912345678,Thành phố Hải Phòng/Sở Nội vụ,chuyen_vien;van_thu,Chuyên viên
\"binh.tt\",\"Trần Thị Bình, Phó phòng\",binh.tt@haiphong.gov.vn,,Thành phố Hải Phòng/Sở Nội vụ,chuyen_vien,Phó Trưởng phòng
cuong.lv,Lê Văn Cường,khong-phai-email,,Thành phố Hải Phòng/Sở Nội vụ,,
Dung.PT,Phạm Thị Dung,,0912345678,Thành phố Hải Phòng/Sở Tư pháp,,
em.hv,Hoàng Văn Em,,,Thành phố Hải Phòng/Sở Nội vụ,admin,
an.nv,Nguyễn Văn An (lặp),,,Thành phố Hải Phòng/Sở Nội vụ,,
giang.dt,,,,Thành phố Hải Phòng/Sở Nội vụ,,
hoa.nt,Nguyễn Thị Hoa,,,Thành phố Hải Phòng/Sở Nội vụ,chuyen_vien
";

async fn users(server: &TestServer) -> anyhow::Result<Vec<Value>> {
    let out = server.cli_ok(&["user", "list", "--json"], None).await?;
    Ok(out.json()?.as_array().cloned().unwrap_or_default())
}

async fn csv_import_is_checked_idempotent_and_dry_runs(backend: Backend) -> anyhow::Result<()> {
    let server = TestServer::start(backend).await?;
    let city = server.add_unit("Thành phố Hải Phòng", None).await?;
    let noi_vu = server.add_unit("Sở Nội vụ", Some(&city)).await?;
    let dir = TempDir::new("tessera-import")?;
    let file = dir.path().join("users.csv");
    std::fs::write(&file, CSV)?;
    let path = file.to_string_lossy().into_owned();

    // Dry run: every row checked, nothing written.
    let dry = server
        .cli(&["user", "import", "--file", &path, "--dry-run"], None)
        .await?;
    ensure!(!dry.success(), "refused rows make the exit status 1: {dry}");
    ensure!(dry.stdout.contains("line 2\twould create\tan.nv"), "{dry}");
    ensure!(users(&server).await?.is_empty(), "a dry run wrote users");

    let run = server
        .cli(&["user", "import", "--file", &path], None)
        .await?;
    ensure!(!run.success(), "{run}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    for (line, expect) in [
        ("line 2\tcreated\tan.nv", ""),
        ("line 3\tcreated\tbinh.tt", ""),
        ("line 4\trefused\tcuong.lv\t", "e-mail"),
        (
            "line 5\trefused\tdung.pt\t",
            "unknown unit \"Thành phố Hải Phòng/Sở Tư pháp\"",
        ),
        ("line 6\trefused\tem.hv\t", "administrative role"),
        ("line 7\trefused\tan.nv\t", "repeats line 2"),
        ("line 8\trefused\tgiang.dt\t", "name"),
        ("line 9\trefused\thoa.nt\t", "fields"),
    ] {
        ensure!(
            lines
                .iter()
                .any(|l| l.starts_with(line) && l.contains(expect)),
            "no {line:?} with {expect:?} in {run}"
        );
    }
    ensure!(
        run.stderr
            .contains("2 created, 0 updated, 0 unchanged, 6 refused"),
        "{run}"
    );
    let all = users(&server).await?;
    assert_eq!(all.len(), 2, "{all:?}");
    let binh = all
        .iter()
        .find(|u| u["username"] == "binh.tt")
        .cloned()
        .unwrap_or_default();
    assert_eq!(binh["name"], "Trần Thị Bình, Phó phòng");
    assert_eq!(binh["unit_id"], noi_vu.as_str());
    let an = all
        .iter()
        .find(|u| u["username"] == "an.nv")
        .cloned()
        .unwrap_or_default();
    assert_eq!(an["roles"], serde_json::json!(["chuyen_vien", "van_thu"]));
    assert_eq!(an["phone"], "+84912345678");

    // Re-run with fixes and the missing unit created: nothing twice, changes applied.
    let fixed = CSV
        .replace("khong-phai-email", "cuong.lv@haiphong.gov.vn")
        .replace(
            "chuyen_vien;van_thu,Chuyên viên",
            "van_thu,Chuyên viên chính",
        )
        .replace(",admin,", ",,")
        .replace("an.nv,Nguyễn Văn An (lặp)", "an.nv2,Nguyễn Văn An")
        .replace("giang.dt,,", "giang.dt,Đỗ Thị Giang,")
        .replace("chuyen_vien\n", "chuyen_vien,\n");
    std::fs::write(&file, fixed)?;
    let again = server
        .cli_ok(&["user", "import", "--file", &path, "--create-units"], None)
        .await?;
    ensure!(again.stdout.contains("line 2\tupdated\tan.nv"), "{again}");
    ensure!(
        again.stdout.contains("line 3\tunchanged\tbinh.tt"),
        "{again}"
    );
    ensure!(again.stdout.contains("line 5\tcreated\tdung.pt"), "{again}");
    ensure!(
        again
            .stderr
            .contains("units created: Thành phố Hải Phòng/Sở Tư pháp"),
        "{again}"
    );
    let all = users(&server).await?;
    assert_eq!(all.len(), 8, "{all:?}");
    let an = all
        .iter()
        .find(|u| u["username"] == "an.nv")
        .cloned()
        .unwrap_or_default();
    assert_eq!(an["roles"], serde_json::json!(["van_thu"]));
    // A third run changes nothing.
    let third = server
        .cli_ok(&["user", "import", "--file", &path], None)
        .await?;
    ensure!(
        third
            .stderr
            .contains("0 created, 0 updated, 8 unchanged, 0 refused"),
        "{third}"
    );
    ensure!(
        !server.audit("user.imported").await?.is_empty(),
        "no user.imported"
    );
    Ok(())
}
