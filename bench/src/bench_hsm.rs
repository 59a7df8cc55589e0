//! HSM signing benchmark: signatures per second through `tessera-hsm` (session pool, key-handle
//! cache, DigestInfo) against a bare `cryptoki` loop (one session per thread, key handle looked
//! up once) on the same SoftHSM2 token, for RSA-2048 (CKM_RSA_PKCS) and P-256 (CKM_ECDSA), on 1
//! and 2 threads. See BENCHMARKS.md.
//!
//! cargo build --release --bin bench-hsm && target/release/bench-hsm [--seconds 20]
//!
//! It makes its own token (SOFTHSM2_CONF in a temporary directory) and re-runs itself with it,
//! since the module reads its configuration once per process.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use clap::Parser;
use cryptoki::context::Pkcs11;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass};
use tessera_hsm::pkcs11::{
    DigestScheme, HashAlg, KeySpec, Pin, Pkcs11Config, Pkcs11Token, TokenSelector,
};
use tessera_hsm::softhsm::module_path;
use tessera_hsm::{KeyAlgorithm, KeyCustody, KeyHandle, KeyPurpose, SignInput};

mod bare;

const LABEL: &str = "bench";
const PIN: &str = "bench-1234";
const CHILD: &str = "TESSERA_BENCH_HSM_CHILD";

#[derive(Debug, Parser, Clone)]
#[command(about = "HSM signatures per second: tessera-hsm vs a bare cryptoki loop (SoftHSM2)")]
struct Args {
    /// Seconds per configuration (both contenders, interleaved call by call)
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Run only one contender (for profiling): `bare` or `crate`
    #[arg(long)]
    only: Option<String>,
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
    bare::rerun_with_token(&module, LABEL, PIN, CHILD)
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

    let (ctx, slot) = bare::open(&module, LABEL)?;

    println!(
        "{}, {} s per configuration, calls interleaved (bare, crate, crate, bare, …)",
        bare::describe(&ctx, &module)?,
        args.seconds,
    );
    println!(
        "{:<38} {:>7} {:>12} {:>12} {:>9}",
        "signature", "threads", "bare ops/s", "crate ops/s", "overhead"
    );
    let duration = Duration::from_secs(args.seconds);
    for case in cases {
        let bare_input = match case.scheme {
            DigestScheme::RsaPkcs1v15(_) => digest_info.clone(),
            _ => digest.clone(),
        };
        let rsa = matches!(case.scheme, DigestScheme::RsaPkcs1v15(_));
        for threads in [1usize, 2] {
            let bench = Pair {
                ctx: &ctx,
                slot,
                token: &token,
                case,
                rsa,
                bare_input: &bare_input,
                digest: &digest,
                only: args.only.as_deref(),
            };
            let (b, c) = bench.run(threads, duration)?;
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
            let key = KeyHandle {
                key_type: alg.key_type(),
                purpose: KeyPurpose::Token,
                key_ref: id,
            };
            let message = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbi5udiJ9";
            token.sign(key, alg.scheme(), SignInput::Message(message))?;
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

/// The two contenders on the same token. Each thread opens its own bare session (logged in,
/// key handle looked up once) and alternates single calls: bare then crate, then crate then
/// bare, timing each call. Whatever the machine's speed does, it does to both alike.
struct Pair<'a> {
    ctx: &'a Pkcs11,
    slot: cryptoki::slot::Slot,
    token: &'a Pkcs11Token,
    case: Case,
    rsa: bool,
    bare_input: &'a [u8],
    digest: &'a [u8],
    only: Option<&'a str>,
}

/// Calls made and seconds spent in them.
#[derive(Default, Clone, Copy)]
struct Tally {
    calls: u64,
    secs: f64,
}

impl Tally {
    fn rate(self) -> f64 {
        self.calls as f64 / self.secs
    }
}

impl Pair<'_> {
    /// Throughput of each contender in signatures per second, summed over `threads`.
    fn run(&self, threads: usize, duration: Duration) -> anyhow::Result<(f64, f64)> {
        let results: Vec<anyhow::Result<(Tally, Tally)>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| s.spawn(|| self.thread(duration)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().map_err(|_| anyhow!("thread panicked"))?)
                .collect()
        });
        let (mut bare, mut ours) = (0.0, 0.0);
        for r in results {
            let (b, c) = r?;
            bare += b.rate();
            ours += c.rate();
        }
        Ok((bare, ours))
    }

    fn thread(&self, duration: Duration) -> anyhow::Result<(Tally, Tally)> {
        let mechanism = if self.rsa {
            Mechanism::RsaPkcs
        } else {
            Mechanism::Ecdsa
        };
        let session = bare::login(self.ctx, self.slot, PIN)?;
        let key = *session
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Id(self.case.id.to_vec()),
            ])?
            .first()
            .context("key not found")?;
        let (run_bare, run_ours) = match self.only {
            Some("bare") => (true, false),
            Some("crate") => (false, true),
            _ => (true, true),
        };
        let (mut bare, mut ours) = (Tally::default(), Tally::default());
        let start = Instant::now();
        let mut i = 0u64;
        while start.elapsed() < duration {
            let bare_first = i.is_multiple_of(2);
            for step in [bare_first, !bare_first] {
                let t = Instant::now();
                if step && run_bare {
                    session.sign(&mechanism, key, self.bare_input)?;
                    bare.secs += t.elapsed().as_secs_f64();
                    bare.calls += 1;
                } else if !step && run_ours {
                    self.token
                        .sign_digest(self.case.id, self.case.scheme, self.digest)?;
                    ours.secs += t.elapsed().as_secs_f64();
                    ours.calls += 1;
                }
            }
            i += 1;
        }
        Ok((bare, ours))
    }
}
