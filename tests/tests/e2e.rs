//! End-to-end tests: the real `tessera` binary, driven over HTTP by a scripted browser and
//! by relying parties (the `tessera-sdk`, or hand-made requests where the SDK would refuse).
//!
//! Every scenario is an `async fn(Backend) -> anyhow::Result<()>` that starts its own server,
//! so tests are independent and run in parallel. [`scenarios!`] turns each into two tests,
//! `<scenario>::sqlite` and `<scenario>::postgres`; the latter only runs when
//! `TESSERA_TEST_DATABASE_URL` is set (e.g. `postgres://postgres@127.0.0.1:5432/test`).
//!
//! Needs a built binary: `cargo build --bin tessera` (or set `TESSERA_BIN`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// For each scenario `name`, declares `mod name { async fn sqlite(); async fn postgres(); }`.
macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                if let Err(e) = super::$name(tessera_e2e::Backend::Sqlite).await {
                    panic!("{e:#}");
                }
            }

            #[tokio::test]
            async fn postgres() {
                if !tessera_e2e::Backend::Postgres.available() {
                    return;
                }
                if let Err(e) = super::$name(tessera_e2e::Backend::Postgres).await {
                    panic!("{e:#}");
                }
            }
        }
    )*};
}

#[path = "e2e/admin_api.rs"]
mod admin_api;
#[path = "e2e/admin_api_pki.rs"]
mod admin_api_pki;
#[path = "e2e/admin_api_signing.rs"]
mod admin_api_signing;
#[path = "e2e/admin_console.rs"]
mod admin_console;
#[path = "e2e/audit.rs"]
mod audit;
#[path = "e2e/authorize_errors.rs"]
mod authorize_errors;
#[path = "e2e/backchannel.rs"]
mod backchannel;
#[path = "e2e/backup.rs"]
mod backup;
#[path = "e2e/browser_office.rs"]
mod browser_office;
#[path = "e2e/browser_pages.rs"]
mod browser_pages;
#[path = "e2e/browser_passkey.rs"]
mod browser_passkey;
#[path = "e2e/browser_signing.rs"]
mod browser_signing;
#[path = "e2e/cli.rs"]
mod cli;
#[path = "e2e/code_flow.rs"]
mod code_flow;
#[path = "e2e/config_check.rs"]
mod config_check;
#[path = "e2e/console.rs"]
mod console;
#[path = "e2e/console_manage.rs"]
mod console_manage;
#[path = "e2e/csc.rs"]
mod csc;
#[path = "e2e/csc_async.rs"]
mod csc_async;
#[path = "e2e/csc_credential_scope.rs"]
mod csc_credential_scope;
#[path = "e2e/csc_pushed_authorization.rs"]
mod csc_pushed_authorization;
#[path = "e2e/demo_seed.rs"]
mod demo_seed;
#[path = "e2e/device_grant.rs"]
mod device_grant;
#[path = "e2e/discovery.rs"]
mod discovery;
#[path = "e2e/federation.rs"]
mod federation;
#[path = "e2e/hsm.rs"]
mod hsm;
#[path = "e2e/hsm_outage.rs"]
mod hsm_outage;
#[path = "e2e/key_ceremony.rs"]
mod key_ceremony;
#[path = "e2e/key_rotation.rs"]
mod key_rotation;
#[path = "e2e/ldap_sync.rs"]
mod ldap_sync;
#[path = "e2e/load_balancer.rs"]
mod load_balancer;
#[path = "e2e/login.rs"]
mod login;
#[path = "e2e/logout.rs"]
mod logout;
#[path = "e2e/logs.rs"]
mod logs;
#[path = "e2e/native_apps.rs"]
mod native_apps;
#[path = "e2e/operations.rs"]
mod operations;
#[path = "e2e/otp_tokens.rs"]
mod otp_tokens;
#[path = "e2e/passwords_sessions.rs"]
mod passwords_sessions;
#[path = "e2e/pki.rs"]
mod pki;
#[path = "e2e/refresh.rs"]
mod refresh;
#[path = "e2e/scale_out.rs"]
mod scale_out;
#[path = "e2e/sdk_kit.rs"]
mod sdk_kit;
#[path = "e2e/sdk_logout.rs"]
mod sdk_logout;
#[path = "e2e/sdk_signing.rs"]
mod sdk_signing;
#[path = "e2e/service_clients.rs"]
mod service_clients;
#[path = "e2e/shutdown.rs"]
mod shutdown;
#[path = "e2e/signing_cms.rs"]
mod signing_cms;
#[path = "e2e/signing_pages.rs"]
mod signing_pages;
#[path = "e2e/signing_pdf.rs"]
mod signing_pdf;
#[path = "e2e/signing_requests.rs"]
mod signing_requests;
#[path = "e2e/signing_webhook_wakeup.rs"]
mod signing_webhook_wakeup;
#[path = "e2e/soc_feed.rs"]
mod soc_feed;
#[path = "e2e/spend_once.rs"]
mod spend_once;
#[path = "e2e/sso.rs"]
mod sso;
#[path = "e2e/stacks.rs"]
mod stacks;
#[path = "e2e/strong_auth.rs"]
mod strong_auth;
#[path = "e2e/token_errors.rs"]
mod token_errors;
#[path = "e2e/tsa.rs"]
mod tsa;
#[path = "e2e/user_import.rs"]
mod user_import;
#[path = "e2e/userinfo.rs"]
mod userinfo;
#[path = "e2e/verify.rs"]
mod verify;
