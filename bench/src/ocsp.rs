//! OCSP responder benchmark: answers per second over real HTTP on loopback against the real
//! `tessera` binary, for a certificate whose signed answer is cached in the database, and for
//! answers that must be signed per request (a serial the CA never issued: a lookup and a
//! signature each time, which is what every request cost before the cache), with p50/p99.
//!
//! cargo build --release --bin tessera --bin bench-ocsp
//! TESSERA_BIN=target/release/tessera target/release/bench-ocsp [--postgres] [--seconds 10]

#[path = "load.rs"]
mod load;

use std::sync::Arc;

use anyhow::{Context, ensure};
use clap::Parser;
use der::{Decode, Encode};
use tessera_core::pki::ocsp::{
    CertId, OcspRequest, OcspResponse, OcspResponseStatus, Request, TbsRequest, Version,
};
use tessera_e2e::NewUser;
use tessera_e2e::{Backend, TestServer};
use x509_cert::Certificate;
use x509_cert::serial_number::SerialNumber;

#[derive(Debug, Parser)]
#[command(about = "OCSP answers per second of a real tessera server, cached and signed")]
struct Args {
    /// Run against PostgreSQL (needs TESSERA_TEST_DATABASE_URL); SQLite otherwise
    #[arg(long)]
    postgres: bool,
    /// Seconds per measured phase
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Requests in flight at once
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?
        .block_on(run(&args))
}

/// A DER OCSP request about `serial` of `issuer` (SHA-1 CertID, as OpenSSL sends).
fn request(issuer: &Certificate, serial: &[u8]) -> anyhow::Result<Vec<u8>> {
    let sha1 = |b: &[u8]| {
        ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, b)
            .as_ref()
            .to_vec()
    };
    let tbs = issuer.tbs_certificate();
    Ok(OcspRequest {
        tbs_request: TbsRequest {
            version: Version::V1,
            requestor_name: None,
            request_list: vec![Request {
                req_cert: CertId {
                    hash_algorithm: spki::AlgorithmIdentifierOwned {
                        oid: der::asn1::ObjectIdentifier::new_unwrap("1.3.14.3.2.26"),
                        parameters: Some(der::Any::null()),
                    },
                    issuer_name_hash: der::asn1::OctetString::new(sha1(&tbs.subject().to_der()?))?,
                    issuer_key_hash: der::asn1::OctetString::new(sha1(
                        tbs.subject_public_key_info().subject_public_key.raw_bytes(),
                    ))?,
                    serial_number: SerialNumber::new(serial)?,
                },
                single_request_extensions: None,
            }],
            request_extensions: None,
        },
        optional_signature: None,
    }
    .to_der()?)
}

fn unhex(s: &str) -> anyhow::Result<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| Ok(u8::from_str_radix(s.get(i..i + 2).context("hex")?, 16)?))
        .collect()
}

async fn run(args: &Args) -> anyhow::Result<()> {
    let backend = if args.postgres {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    let server = TestServer::start(backend).await?;
    server
        .cli_ok(&["ca", "init", "--base-url", server.issuer()], None)
        .await?;
    server
        .add_user(&NewUser::new(
            "an.nv",
            "Nguyễn Văn An",
            "mat-khau-rat-dai-2468",
        ))
        .await?;
    let issued = server
        .cli_ok(&["cert", "issue", "--user", "an.nv", "--json"], None)
        .await?
        .json()?;
    let serial = issued["serial"].as_str().context("serial")?.to_owned();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let ca = http
        .get(server.url("/pki/ca/issuing.crt"))
        .send()
        .await?
        .bytes()
        .await?;
    let issuing = Certificate::from_der(&ca)?;
    let url = server.url("/pki/ocsp").to_string();
    println!(
        "backend: {backend:?}; {} requests in flight; {} s per phase",
        args.concurrency, args.seconds
    );

    let cached = Arc::new(request(&issuing, &unhex(&serial)?)?);
    let (h, u) = (http.clone(), url.clone());
    phase("cached (the same issued certificate)", args, move |_| {
        let (h, u, body) = (h.clone(), u.clone(), cached.clone());
        async move { ask(&h, &u, body.to_vec()).await }
    })
    .await?;

    let issuer = Arc::new(issuing);
    let (h, u) = (http.clone(), url.clone());
    phase(
        "signed per request (never-issued serials)",
        args,
        move |_| {
            let (h, u, issuer) = (h.clone(), u.clone(), issuer.clone());
            async move {
                let mut serial = tessera_e2e::random_bytes(16);
                serial[0] = (serial[0] & 0x7f) | 0x40;
                ask(&h, &u, request(&issuer, &serial)?).await
            }
        },
    )
    .await?;
    Ok(())
}

async fn ask(http: &reqwest::Client, url: &str, body: Vec<u8>) -> anyhow::Result<()> {
    let r = http
        .post(url)
        .header("content-type", "application/ocsp-request")
        .body(body)
        .send()
        .await?;
    ensure!(r.status().is_success(), "OCSP: {}", r.status());
    let resp = OcspResponse::from_der(&r.bytes().await?)?;
    ensure!(
        resp.response_status == OcspResponseStatus::Successful,
        "OCSP: {:?}",
        resp.response_status
    );
    Ok(())
}

/// Runs `op` under load and prints the rate and latency percentiles.
async fn phase<F, Fut>(name: &str, args: &Args, op: F) -> anyhow::Result<()>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let m = load::run(args.concurrency, args.seconds, op).await?;
    println!(
        "{name}: {:.0} answers/s, p50 {:.2} ms, p99 {:.2} ms, {} failures",
        m.rate,
        m.p50.as_secs_f64() * 1e3,
        m.p99.as_secs_f64() * 1e3,
        m.errors
    );
    Ok(())
}
