//! HSM signing benchmark: signatures per second through `tessera-hsm` (session pool, key-handle
//! cache, DigestInfo) against a bare `cryptoki` loop (one session per thread, key handle looked
//! up once) on the same SoftHSM2 token, for RSA-2048 (CKM_RSA_PKCS) and P-256 (CKM_ECDSA), on 1
//! and 2 threads. See BENCHMARKS.md.
//!
//! cargo build --release --bin bench-hsm && target/release/bench-hsm [--seconds 10]
//!
//! It makes its own token (SOFTHSM2_CONF in a temporary directory) and re-runs itself with it,
//! since the module reads its configuration once per process.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::Parser;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass};
use cryptoki::session::UserType;
use tessera_hsm::pkcs11::{
    DigestScheme, HashAlg, KeySpec, Pin, Pkcs11Config, Pkcs11Token, TokenSelector,
};
use tessera_hsm::softhsm::{SoftHsmToken, module_path};
use tessera_hsm::{KeyAlgorithm, KeyCustody};

const LABEL: &str = "bench";
const PIN: &str = "bench-1234";
const CHILD: &str = "TESSERA_BENCH_HSM_CHILD";
const SLICE: Duration = Duration::from_millis(250);

#[derive(Debug, Parser, Clone)]
#[command(about = "HSM signatures per second: tessera-hsm vs a bare cryptoki loop (SoftHSM2)")]
struct Args {
    /// Seconds of signing per configuration and contender, in alternating 250 ms slices
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// PKCS#11 module [default: SoftHSM2]
    #[arg(long)]
    module: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let module = match &args.module {
        Some(m) => m.clone(),
        None => module_path().context("SoftHSM2 is not installed (apt-get install softhsm2)")?,
    };
    if std::env::var_os(CHILD).is_some() {
        return bench(&args, module);
    }
    let token = SoftHsmToken::create(&module, LABEL, PIN).map_err(|e| anyhow!(e))?;
    let status = Command::new(std::env::current_exe()?)
        .args(std::env::args_os().skip(1))
        .env(CHILD, "1")
        .env("SOFTHSM2_CONF", &token.conf)
        .status()?;
    if !status.success() {
        bail!("benchmark failed ({status})");
    }
    Ok(())
}

#[derive(Clone, Copy)]
struct Case {
    name: &'static str,
    id: &'static [u8],
    scheme: DigestScheme,
}

fn bench(args: &Args, module: PathBuf) -> anyhow::Result<()> {
    let mut config = Pkcs11Config::new(&module, TokenSelector::Label(LABEL.into()), Pin::new(PIN));
    config.max_sessions = 2;
    let token = Arc::new(Pkcs11Token::open(config)?);
    let cases = [
        Case {
            name: "RSA-2048 PKCS#1 v1.5 (CKM_RSA_PKCS)",
            id: b"bench-rsa",
            scheme: DigestScheme::RsaPkcs1v15(HashAlg::Sha256),
        },
        Case {
            name: "ECDSA P-256 (CKM_ECDSA)",
            id: b"bench-p256",
            scheme: DigestScheme::Ecdsa,
        },
    ];
    token.generate_key_pair(KeySpec::rsa(2048)?, "bench-rsa", cases[0].id)?;
    token.generate_key_pair(KeySpec::P256, "bench-p256", cases[1].id)?;
    let digest = HashAlg::Sha256.digest(b"benchmark message");
    // What the bare loop hands the token: DigestInfo for RSA, the digest for ECDSA.
    let mut digest_info = rsa10::pkcs1v15::Pkcs1v15Sign::new::<sha2::Sha256>()
        .prefix
        .into_vec();
    digest_info.extend_from_slice(&digest);

    let ctx = Pkcs11::new(&module)?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(())
        | Err(cryptoki::error::Error::Pkcs11(
            cryptoki::error::RvError::CryptokiAlreadyInitialized,
            _,
        )) => {}
        Err(e) => return Err(e.into()),
    }
    let slot = ctx
        .get_slots_with_token()?
        .into_iter()
        .find(|s| {
            ctx.get_token_info(*s)
                .is_ok_and(|i| i.label().trim_end() == LABEL)
        })
        .context("bench token not found")?;

    let info = ctx.get_library_info()?;
    println!(
        "module {} ({} {}.{}), {} s per configuration and contender, alternating {} ms slices",
        module.display(),
        info.library_description().trim_end(),
        info.library_version().major(),
        info.library_version().minor(),
        args.seconds,
        SLICE.as_millis()
    );
    let slices = (args.seconds * 1000 / SLICE.as_millis() as u64).max(2);
    println!(
        "{:<38} {:>7} {:>12} {:>12} {:>9}",
        "signature", "threads", "bare ops/s", "crate ops/s", "overhead"
    );
    let duration = Duration::from_secs(args.seconds.min(5));
    for case in cases {
        let bare_input = match case.scheme {
            DigestScheme::RsaPkcs1v15(_) => digest_info.clone(),
            _ => digest.clone(),
        };
        let rsa = matches!(case.scheme, DigestScheme::RsaPkcs1v15(_));
        for threads in [1usize, 2] {
            // Short slices, alternating bare and crate, so that the machine's changing speed
            // (shared cores) weighs on both alike.
            let (mut bare, mut ours) = ((0u64, 0f64), (0u64, 0f64));
            for slice in 0..slices {
                let add = |acc: &mut (u64, f64), (n, t): (u64, f64)| {
                    acc.0 += n;
                    acc.1 += t;
                };
                if slice % 2 == 1 {
                    add(&mut ours, run_crate(&token, case, &digest, threads, SLICE)?);
                }
                add(
                    &mut bare,
                    run_bare(&ctx, slot, case.id, rsa, &bare_input, threads, SLICE)?,
                );
                if slice % 2 == 0 {
                    add(&mut ours, run_crate(&token, case, &digest, threads, SLICE)?);
                }
            }
            let (b, c) = (bare.0 as f64 / bare.1, ours.0 as f64 / ours.1);
            println!(
                "{:<38} {:>7} {:>12.0} {:>12.0} {:>8.1}%",
                case.name,
                threads,
                b,
                c,
                (b - c) / b * 100.0
            );
        }
    }
    // The JWS path of the OIDC keys, for reference: SHA-256 of the message, the signature, and
    // (ES256) a range check of r and s.
    for (alg, id) in [
        (KeyAlgorithm::Rs256, cases[0].id),
        (KeyAlgorithm::Es256, cases[1].id),
    ] {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < duration {
            token.sign(alg, id, b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbi5udiJ9")?;
            n += 1;
        }
        println!(
            "{:<38} {:>7} {:>12} {:>12.0}",
            format!("KeyCustody::sign {} (JWS)", alg.jws_name()),
            1,
            "-",
            n as f64 / start.elapsed().as_secs_f64()
        );
    }
    println!("faults recovered during the run: {}", token.recoveries());
    Ok(())
}

/// A bare loop: each thread opens its own session, logs in, finds the key once, then signs.
fn run_bare(
    ctx: &Pkcs11,
    slot: cryptoki::slot::Slot,
    id: &[u8],
    rsa: bool,
    input: &[u8],
    threads: usize,
    duration: Duration,
) -> anyhow::Result<(u64, f64)> {
    let pin = cryptoki::types::AuthPin::from(PIN);
    let start = Instant::now();
    let counts: Vec<anyhow::Result<u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let pin = &pin;
                s.spawn(move || -> anyhow::Result<u64> {
                    let mechanism = if rsa {
                        Mechanism::RsaPkcs
                    } else {
                        Mechanism::Ecdsa
                    };
                    let session = ctx.open_rw_session(slot)?;
                    match session.login(UserType::User, Some(pin)) {
                        Ok(())
                        | Err(cryptoki::error::Error::Pkcs11(
                            cryptoki::error::RvError::UserAlreadyLoggedIn,
                            _,
                        )) => {}
                        Err(e) => return Err(e.into()),
                    }
                    let key = *session
                        .find_objects(&[
                            Attribute::Class(ObjectClass::PRIVATE_KEY),
                            Attribute::Id(id.to_vec()),
                        ])?
                        .first()
                        .context("key not found")?;
                    let mut n = 0u64;
                    while start.elapsed() < duration {
                        session.sign(&mechanism, key, input)?;
                        n += 1;
                    }
                    Ok(n)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| anyhow!("thread panicked"))?)
            .collect()
    });
    let total: u64 = counts.into_iter().sum::<anyhow::Result<u64>>()?;
    Ok((total, start.elapsed().as_secs_f64()))
}

/// The same through the crate: `sign_digest` from `threads` threads sharing one token.
fn run_crate(
    token: &Arc<Pkcs11Token>,
    case: Case,
    digest: &[u8],
    threads: usize,
    duration: Duration,
) -> anyhow::Result<(u64, f64)> {
    let start = Instant::now();
    let counts: Vec<anyhow::Result<u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(move || -> anyhow::Result<u64> {
                    let mut n = 0u64;
                    while start.elapsed() < duration {
                        token.sign_digest(case.id, case.scheme, digest)?;
                        n += 1;
                    }
                    Ok(n)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| anyhow!("thread panicked"))?)
            .collect()
    });
    let total: u64 = counts.into_iter().sum::<anyhow::Result<u64>>()?;
    Ok((total, start.elapsed().as_secs_f64()))
}
