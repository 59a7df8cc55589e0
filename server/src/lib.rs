//! The Tessera server: HTTP layer, pages and command line over `tessera-core`.

pub mod app;
pub mod backchannel;
pub mod cli;
pub mod cli_audit;
pub mod cli_backup;
pub mod cli_config;
pub mod cli_demo;
pub mod cli_hsm;
pub mod cli_import;
pub mod cli_mfa;
pub mod cli_otp_token;
pub mod cli_pki;
pub mod cli_scope;
pub mod cli_sign;
pub mod cli_trust;
pub mod cli_upstream;
pub mod cli_verify;
pub mod clock;
pub mod custody;
pub mod http;
pub mod metrics;
pub mod outbound;
pub mod pages;
pub mod settings;
pub mod signing_webhooks;
pub mod syslog;
