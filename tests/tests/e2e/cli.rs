//! The administration CLI's refusals, and the server's refusal of a bad database URL.

use tessera_e2e::fixture::{Fixture, USERNAME};
use tessera_e2e::{Backend, CliOutput, TempDir, run_tessera};

scenarios!(cli_rejects_bad_input);

/// Bad input: non-zero exit, a message on stderr, nothing created.
async fn cli_rejects_bad_input(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let server = &fx.server;
    let long_password = Some("mot-mat-khau-dai-du");
    #[rustfmt::skip]
    let cases: [(&[&str], Option<&str>); 6] = [
        // Password shorter than 10 characters.
        (&["user", "add", "--username=ngan.ht", "--name=Hồ Thị Ngân", "--password-stdin"], Some("ngan123")),
        // The username is taken.
        (&["user", "add", "--username=an.nv", "--name=Người Khác", "--password-stdin"], long_password),
        // No such parent unit.
        (&["unit", "add", "--name=Phòng ma", "--parent=khong-ton-tai", "--json"], None),
        // Not a URL.
        (&["client", "add", "--id=hong", "--name=Hỏng", "--redirect-uri=khong phai url"], None),
        // No such user.
        (&["user", "disable", "khong.ai"], None),
        // No such subcommand.
        (&["user", "fly"], None),
    ];
    for (args, stdin) in cases {
        let out = server.cli(args, stdin).await?;
        assert_refused(&out, &args.join(" "));
    }

    // Nothing of the above was created; the listing shows users without password material.
    let list = server.cli_ok(&["user", "list", "--json"], None).await?;
    assert!(list.stdout.contains(USERNAME), "{list}");
    assert!(!list.stdout.contains("ngan.ht"), "{list}");
    assert!(!list.stdout.contains("Người Khác"), "{list}");
    assert!(
        !list.stdout.contains("$argon2"),
        "password hash in user list: {list}"
    );
    Ok(())
}

fn assert_refused(out: &CliOutput, what: &str) {
    assert!(!out.success(), "`tessera {what}` succeeded: {out}");
    assert!(
        !out.stderr.trim().is_empty(),
        "`tessera {what}` failed without a message: {out}"
    );
}

/// A malformed `TESSERA_DATABASE_URL`: the server exits non-zero with a clear message (that
/// does not repeat the password) instead of serving.
#[tokio::test]
async fn server_refuses_malformed_database_url() {
    for url in [
        "khong-phai-url",
        "mysql://tessera@127.0.0.1/tessera",
        "postgres://tessera:mat-khau-bi-mat@127.0.0.1:notaport/tessera",
    ] {
        let dir = TempDir::new("tessera-e2e").unwrap();
        let data_dir = dir.path().to_string_lossy().into_owned();
        let args = ["serve", "--listen", "127.0.0.1:0", "--data-dir", &data_dir];
        let env = [("TESSERA_DATABASE_URL", url)];
        // A server that wrongly starts serving is killed after the CLI timeout (an error).
        let out = run_tessera(&args, &env, None).await.unwrap();
        assert!(
            !out.success(),
            "started with TESSERA_DATABASE_URL={url}: {out}"
        );
        assert!(!out.stdout.contains("listening on"), "{out}");
        let message = out.stderr.to_lowercase();
        assert!(
            message.contains("database") || message.contains("tessera_database_url"),
            "unclear error for {url}: {out}"
        );
        assert!(
            !out.stderr.contains("mat-khau-bi-mat"),
            "password echoed: {out}"
        );
    }
}
