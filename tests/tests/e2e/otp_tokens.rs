//! Hardware OTP tokens through the real binary: an administrator imports tokens from a vendor's
//! seed file with `tessera mfa token`, the official signs in with a code of the token alone
//! (level 2), a spent code is refused, and the administrator takes the token back.

use anyhow::{Context, ensure};
use reqwest::StatusCode;
use serde_json::Value;
use tessera_e2e::fixture::{Fixture, USERNAME};
use tessera_e2e::{Backend, Browser, TempDir, TestServer};
use tessera_sdk::{PendingLogin, RelyingParty};

use crate::strong_auth::{csrf, follow_to_client, password_then_factor_page};

scenarios!(a_hardware_token_signs_in_at_level_two);

const LOA2: &str = "urn:tessera:loa:2";
/// RFC 4226 Appendix D: the secret "12345678901234567890", in base32 and in hex.
const SECRET_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const SECRET_HEX: &str = "3132333435363738393031323334353637383930";

/// The code of an HOTP token (RFC 4226) at `counter`: a TOTP generator with one-second steps.
fn hotp(counter: u64) -> anyhow::Result<String> {
    let hotp = totp_rs::Builder::new()
        .with_secret(b"12345678901234567890".to_vec())
        .with_step_duration(1)
        .build()?;
    Ok(hotp.generate(counter).to_string())
}

/// The code an 8-digit SHA-256 TOTP token with 30 s steps shows now.
#[allow(clippy::disallowed_methods)] // the server checks codes against the real clock
fn totp_sha256_now() -> anyhow::Result<String> {
    let totp = totp_rs::Builder::new()
        .with_secret(b"12345678901234567890".to_vec())
        .with_algorithm(totp_rs::Algorithm::SHA256)
        .with_digits(8)
        .build()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    Ok(totp.generate(now).to_string())
}

/// Signs in to `rp` with the password and then `code`; the factor page's answer.
async fn sign_in_with_code(
    fx: &Fixture,
    rp: &RelyingParty,
    code: &str,
) -> anyhow::Result<(Browser, tessera_e2e::Page, PendingLogin)> {
    let browser = fx.browser()?;
    let (factor, req, pending) = password_then_factor_page(&browser, fx, rp).await?;
    ensure!(
        factor.body.contains("name=\"method\" value=\"totp\""),
        "no code field for the token: {factor}"
    );
    let answer = browser
        .post_form(
            &fx.server.url("/login/factor"),
            &[
                ("csrf_token", &csrf(&factor)?),
                ("req", &req),
                ("method", "totp"),
                ("code", code),
            ],
        )
        .await?;
    Ok((browser, answer, pending))
}

/// A refused command: non-zero exit, and `words` in its message.
async fn refused(server: &TestServer, args: &[&str], words: &str) -> anyhow::Result<()> {
    let out = server.cli(args, None).await?;
    ensure!(
        !out.success(),
        "`tessera {}` succeeded: {out}",
        args.join(" ")
    );
    ensure!(
        out.stderr.contains(words),
        "`tessera {}`: expected '{words}' in {out}",
        args.join(" ")
    );
    Ok(())
}

async fn a_hardware_token_signs_in_at_level_two(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let server = &fx.server;
    server
        .cli_ok(
            &["mfa", "require", "--unit", &fx.unit_id, "--level", LOA2],
            None,
        )
        .await?;

    let dir = TempDir::new("tessera-otp")?;
    let seeds = dir.path().join("seeds.csv");
    std::fs::write(
        &seeds,
        format!(
            "serial,secret,type,digits,period,algorithm,counter\n\
             FT-HOTP-01,{SECRET_B32},hotp,6,,SHA1,0\n\
             FT-TOTP-02,hex:{SECRET_HEX},totp,8,30,SHA256,\n"
        ),
    )?;
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        format!("serial,secret,type\nA-1,{SECRET_B32},hotp\nA-2,{SECRET_B32},motp\n"),
    )?;
    let seeds_arg = seeds.to_string_lossy().into_owned();
    let bad_arg = bad.to_string_lossy().into_owned();
    let import = |serial: &'static str| {
        let seeds_arg = seeds_arg.clone();
        async move {
            server
                .cli(
                    &[
                        "mfa", "token", "import", "--user", USERNAME, "--file", &seeds_arg,
                        "--serial", serial, "--json",
                    ],
                    None,
                )
                .await
        }
    };

    // Refusals: a file of two rows without --serial, an unknown user, a bad row, a serial the
    // file does not hold.
    let base = ["mfa", "token", "import", "--user", USERNAME, "--file"];
    refused(
        server,
        &[&base[..], &[seeds_arg.as_str()]].concat(),
        "--serial",
    )
    .await?;
    refused(
        server,
        &[
            "mfa", "token", "import", "--user", "khong.ai", "--file", &seeds_arg,
        ],
        "no user",
    )
    .await?;
    refused(server, &[&base[..], &[bad_arg.as_str()]].concat(), "line 3").await?;
    refused(
        server,
        &[&base[..], &[seeds_arg.as_str(), "--serial", "FT-KHONG"]].concat(),
        "FT-KHONG",
    )
    .await?;

    // The HOTP token: imported once; its secret is never printed.
    let out = import("FT-HOTP-01").await?;
    ensure!(out.success(), "{out}");
    let imported: Value = serde_json::from_str(&out.stdout)?;
    assert_eq!(imported["token"]["serial"], "FT-HOTP-01");
    assert_eq!(imported["token"]["next_counter"], 0);
    let again = import("FT-HOTP-01").await?;
    ensure!(
        !again.success() && again.stderr.contains("already imported"),
        "{again}"
    );
    let list = server
        .cli_ok(
            &["mfa", "token", "list", "--user", USERNAME, "--json"],
            None,
        )
        .await?;
    let tokens: Value = serde_json::from_str(&list.stdout)?;
    assert_eq!(tokens[0]["kind"], "hotp", "{list}");
    for out in [&out, &list] {
        assert!(!out.stdout.contains(SECRET_B32) && !out.stdout.contains(SECRET_HEX));
    }

    // Password, then the token's first code: level 2 without any enrolment step.
    let rp = fx.rp().await?;
    let (browser, answer, pending) = sign_in_with_code(&fx, &rp, &hotp(0)?).await?;
    let cb = follow_to_client(
        &browser,
        server,
        answer.see_other()?,
        &fx.client.redirect_uri,
    )
    .await?;
    let state = cb.state().context("no state")?;
    let login = rp.exchange_code(&pending, &cb.code()?, &state).await?;
    assert_eq!(login.claims.acr.as_deref(), Some(LOA2));
    assert_eq!(login.claims.amr, vec!["pwd", "otp", "mfa"]);
    let account = browser.get(&server.url("/account")).await?;
    ensure!(
        account.body.contains("id=\"otp-tokens\"") && account.body.contains("FT-HOTP-01"),
        "the token is not on the account page: {account}"
    );

    // The same code again is refused; a code a few presses ahead is taken.
    let (_, replay, _) = sign_in_with_code(&fx, &rp, &hotp(0)?).await?;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "{replay}");
    let (_, ahead, _) = sign_in_with_code(&fx, &rp, &hotp(3)?).await?;
    assert_eq!(ahead.status, StatusCode::SEE_OTHER, "{ahead}");
    let list = server
        .cli_ok(
            &["mfa", "token", "list", "--user", USERNAME, "--json"],
            None,
        )
        .await?;
    let tokens: Value = serde_json::from_str(&list.stdout)?;
    assert_eq!(tokens[0]["next_counter"], 4, "{list}");

    // An 8-digit SHA-256 TOTP token from the same file.
    let out = import("FT-TOTP-02").await?;
    ensure!(out.success(), "{out}");
    let (_, with_totp, _) = sign_in_with_code(&fx, &rp, &totp_sha256_now()?).await?;
    assert_eq!(with_totp.status, StatusCode::SEE_OTHER, "{with_totp}");

    // Taken back: the tokens are gone.
    for serial in ["FT-HOTP-01", "FT-TOTP-02"] {
        server
            .cli_ok(
                &[
                    "mfa", "token", "remove", "--user", USERNAME, "--serial", serial,
                ],
                None,
            )
            .await?;
    }
    refused(
        server,
        &[
            "mfa",
            "token",
            "remove",
            "--user",
            USERNAME,
            "--serial",
            "FT-HOTP-01",
        ],
        "no token",
    )
    .await?;
    let list = server
        .cli_ok(&["mfa", "token", "list", "--user", USERNAME], None)
        .await?;
    ensure!(list.stdout.contains("no OTP token"), "{list}");

    for event in [
        "mfa.otp_token.imported",
        "mfa.otp_token.removed",
        "login.success",
        "mfa.failure",
    ] {
        ensure!(
            !server.audit(event).await?.is_empty(),
            "no {event} in the audit log"
        );
    }
    server.cli_ok(&["audit", "verify"], None).await?;
    Ok(())
}
