//! CSC signHash benchmark (issue 13): signatures per second through `POST
//! /csc/v2/signatures/signHash` of the real `tessera` binary over HTTP on loopback, in batches of
//! 1 and of 50 hashes, for an RSA-2048 and a P-256 credential whose keys the server holds on a
//! SoftHSM2 token, against bare PKCS#11 `C_Sign` (cryptoki) on the same token in the same run.
//!
//! Each round makes one `signHash` call of `batch` hashes, then the same number of bare
//! `C_Sign` calls on as many threads as the server signs a batch with (its signing concurrency,
//! one HSM session per core by default), the order swapped every round; each side is timed
//! alone, so the shared machine's speed affects both alike. The SADs the calls spend come from
//! `credentials/authorize` with a code of the official's HOTP token (a new code for each SAD of
//! up to 100 hashes), outside the timed part; their cost is shown in its own column. Also
//! timed: the check the server makes after every signature (the RustCrypto verifier over the
//! digest), on the first signature of each answer; "of b+chk" is the HTTP rate over that of a
//! checked signature (bare plus check, on the same threads).
//!
//! cargo build --release --bin tessera --bin bench-csc
//! TESSERA_BIN=target/release/tessera target/release/bench-csc [--seconds 10] [--postgres]
//!
//! It makes its own token (SOFTHSM2_CONF in a temporary directory) and re-runs itself with it,
//! since the module reads its configuration once per process; the server inherits it.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, ensure};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::Parser;
use cryptoki::context::Pkcs11;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::slot::Slot;
use tessera_core::mfa::otp::{Spec, hotp};
use tessera_e2e::admin::login_token;
use tessera_e2e::{Backend, NewClient, NewUser, ServerOptions, TempDir, TestServer, run_tessera};
use tessera_hsm::softhsm::module_path;
use tessera_proto::csc::{AuthorizeRequest, AuthorizeResponse, SignHashRequest, SignHashResponse};

mod bare;

const LABEL: &str = "bench-csc";
const PIN: &str = "bench-1234";
/// Set in the re-run with the token's configuration.
const CHILD: &str = "TESSERA_BENCH_CSC_CHILD";
const PASSWORD: &str = "mat-khau-benchmark-2026";
const USERNAME: &str = "ky.so";
/// RFC 4226 Appendix D's secret, "12345678901234567890", as the seed file gives it.
const HOTP_SECRET: &[u8] = b"12345678901234567890";
const HOTP_SECRET_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const SHA256_OID: &str = "2.16.840.1.101.3.4.2.1";
/// Most hashes one SAD covers (the server's `multisign`).
const SAD_HASHES: usize = 100;

#[derive(Debug, Parser, Clone)]
#[command(about = "CSC signHash signatures per second over HTTP vs bare C_Sign (SoftHSM2)")]
struct Args {
    /// Seconds per configuration (key type and batch size)
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Run against PostgreSQL (needs TESSERA_TEST_DATABASE_URL); SQLite otherwise
    #[arg(long)]
    postgres: bool,
    /// Batch sizes (hashes per signHash call), comma separated
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 50])]
    batches: Vec<usize>,
    /// Run only one side (for profiling): `http` or `bare`
    #[arg(long)]
    only: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let module = module_path().context("SoftHSM2 is not installed (apt-get install softhsm2)")?;
    if std::env::var_os(CHILD).is_some() {
        return tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(bench(&args, &module));
    }
    bare::rerun_with_token(&module, LABEL, PIN, CHILD)
}

/// One credential under test.
struct Credential {
    name: &'static str,
    id: String,
    sign_algo: &'static str,
    mechanism: Mechanism<'static>,
    key: ObjectHandle,
}

/// The server and the official's token for the CSC API.
struct Service {
    server: TestServer,
    http: reqwest::Client,
    token: String,
    /// The HOTP counter of the next code.
    counter: u64,
    /// Distinct hashes: each SAD covers fresh ones.
    next_hash: u64,
}

/// Calls made, signatures made, and seconds spent in them.
#[derive(Default, Clone, Copy)]
struct Tally {
    calls: u64,
    sigs: u64,
    secs: f64,
}

impl Tally {
    fn add(&mut self, sigs: usize, t: Duration) {
        self.calls += 1;
        self.sigs += sigs as u64;
        self.secs += t.as_secs_f64();
    }
    fn rate(self) -> f64 {
        self.sigs as f64 / self.secs
    }
    fn ms(self) -> f64 {
        self.secs * 1000.0 / self.calls as f64
    }
}

async fn bench(args: &Args, module: &Path) -> anyhow::Result<()> {
    let backend = Backend::chosen(args.postgres)?;
    ensure!(
        args.batches.iter().all(|b| (1..=SAD_HASHES).contains(b)),
        "batches are 1 to {SAD_HASHES} hashes"
    );
    let pin_dir = TempDir::new("tessera-bench-csc")?;
    let pin_file = pin_dir.path().join("pin");
    std::fs::write(&pin_file, format!("{PIN}\n"))?;
    let hsm_env = [
        ("TESSERA_PKCS11_MODULE", module.display().to_string()),
        ("TESSERA_PKCS11_TOKEN_LABEL", LABEL.to_owned()),
        ("TESSERA_PKCS11_PIN_FILE", pin_file.display().to_string()),
    ];
    let mut options = ServerOptions::default();
    for (k, v) in &hsm_env {
        options = options.env(k, v);
    }
    let server = TestServer::start_with(backend, options)
        .await
        .context("starting tessera")?;
    // The CLI makes keys too (the CA's, the credentials'): it needs the HSM as the server has it.
    let data_dir = server.data_dir().display().to_string();
    let db = server.database_url();
    let cli = |args: Vec<String>| {
        let (data_dir, db, hsm_env) = (&data_dir, &db, &hsm_env);
        async move {
            let mut full: Vec<&str> = args.iter().map(String::as_str).collect();
            full.extend(["--data-dir", data_dir]);
            let mut env: Vec<(&str, &str)> =
                hsm_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            env.push(("TESSERA_DATABASE_URL", db));
            let out = run_tessera(&full, &env, None).await?;
            ensure!(out.success(), "tessera {} failed: {out}", args.join(" "));
            Ok(out)
        }
    };
    let words = |s: &[&str]| s.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
    cli(words(&["ca", "init", "--base-url", server.issuer()])).await?;
    let unit = server.add_unit("Văn phòng UBND", None).await?;
    let mut user = NewUser::new(USERNAME, "Cán bộ Ký số", PASSWORD);
    user.unit = Some(unit);
    server.add_user(&user).await?;
    let mut ids = Vec::new();
    for alg in ["RSA-2048", "P-256"] {
        let issued = cli(words(&[
            "cert", "issue", "--user", USERNAME, "--alg", alg, "--json",
        ]))
        .await?
        .json()?;
        ids.push(
            issued["id"]
                .as_str()
                .context("no credential id")?
                .to_owned(),
        );
    }
    let seeds = pin_dir.path().join("seeds.csv");
    std::fs::write(
        &seeds,
        format!(
            "serial,secret,type,digits,period,algorithm,counter\nBENCH-1,{HOTP_SECRET_B32},hotp,6,,SHA1,0\n"
        ),
    )?;
    cli(words(&[
        "mfa",
        "token",
        "import",
        "--user",
        USERNAME,
        "--file",
        &seeds.display().to_string(),
        "--json",
    ]))
    .await?;
    let client = server
        .add_client(&NewClient::confidential("kyso", "Ký số văn bản").scopes("openid service"))
        .await?;
    let token = login_token(&server, &client, "openid service", USERNAME, PASSWORD).await?;

    // The bare side: the same token, its own sessions, the credentials' key handles.
    let (ctx, slot) = bare::open(module, LABEL)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pool = BarePool::new(&ctx, slot, threads)?;
    let creds = [
        Credential {
            name: "RSA-2048",
            id: ids[0].clone(),
            sign_algo: "1.2.840.113549.1.1.11",
            mechanism: Mechanism::RsaPkcs,
            key: pool.credential_key(&ctx, slot, KeyType::RSA)?,
        },
        Credential {
            name: "P-256",
            id: ids[1].clone(),
            sign_algo: "1.2.840.10045.4.3.2",
            mechanism: Mechanism::Ecdsa,
            key: pool.credential_key(&ctx, slot, KeyType::EC)?,
        },
    ];

    let mut service = Service {
        server,
        http: reqwest::Client::new(),
        token,
        counter: 0,
        next_hash: 0,
    };
    println!(
        "{}, {backend:?}, {} s per line, {threads} bare threads (the server's \
         HSM sessions and signing concurrency), calls interleaved (http, bare, bare, http, …)",
        bare::describe(&ctx, module)?,
        args.seconds,
    );
    println!(
        "{:<9} {:>5} {:>11} {:>11} {:>8} {:>10} {:>10} {:>12} {:>10}",
        "key",
        "batch",
        "bare sig/s",
        "http sig/s",
        "of bare",
        "check ms",
        "of b+chk",
        "http ms/call",
        "authz ms"
    );
    let duration = Duration::from_secs(args.seconds);
    for cred in &creds {
        for &batch in &args.batches {
            let r = run(
                &mut service,
                &pool,
                cred,
                batch,
                duration,
                args.only.as_deref(),
            )
            .await?;
            // A checked signature costs a bare one plus the check (on as many threads).
            let threads = pool.threads(batch) as f64;
            let checked = 1.0 / (1.0 / r.bare.rate() + r.check.ms() / 1000.0 / threads);
            println!(
                "{:<9} {:>5} {:>11.0} {:>11.0} {:>7.1}% {:>10.3} {:>9.1}% {:>12.3} {:>10}",
                cred.name,
                batch,
                r.bare.rate(),
                r.http.rate(),
                r.http.rate() / r.bare.rate() * 100.0,
                r.check.ms(),
                r.http.rate() / checked * 100.0,
                r.http.ms(),
                // Each SAD covers 100 hashes: a short run may need none after the warm-up.
                if r.auth.calls > 0 {
                    format!("{:.2}", r.auth.ms())
                } else {
                    "-".to_owned()
                },
            );
        }
    }
    pool.stop();
    Ok(())
}

/// One configuration.
async fn run(
    s: &mut Service,
    pool: &BarePool,
    cred: &Credential,
    batch: usize,
    duration: Duration,
    only: Option<&str>,
) -> anyhow::Result<Runs> {
    let (run_bare, run_http) = match only {
        Some("bare") => (true, false),
        Some("http") => (false, true),
        _ => (true, true),
    };
    // What bare C_Sign is handed: the DigestInfo for RSA, the digest for ECDSA.
    let digest = sha256(b"benchmark");
    let bare_input = match cred.mechanism {
        Mechanism::RsaPkcs => {
            let mut di = rsa10::pkcs1v15::Pkcs1v15Sign::new::<sha2::Sha256>()
                .prefix
                .into_vec();
            di.extend_from_slice(&digest);
            di
        }
        _ => digest,
    };
    let (mut bare, mut http, mut auth) = (Tally::default(), Tally::default(), Tally::default());
    let mut check = Tally::default();
    let checker = Check::of(&s.certificate(&cred.id).await?)?;
    // The SAD in hand and the hashes it still covers.
    let mut sad: Option<(String, Vec<String>)> = None;
    // A few rounds unmeasured first: connections, caches, the database's pages.
    let warm_up = 3;
    let start = Instant::now();
    let mut round = 0u64;
    while start.elapsed() < duration || round < warm_up {
        let counted = round >= warm_up;
        if run_http && sad.as_ref().is_none_or(|(_, left)| left.len() < batch) {
            let t = Instant::now();
            sad = Some(s.authorize(cred, SAD_HASHES / batch * batch).await?);
            if counted {
                auth.add(1, t.elapsed());
            }
        }
        let http_first = round.is_multiple_of(2);
        for side in [http_first, !http_first] {
            if side && run_http {
                let (key, left) = sad.as_mut().context("no SAD")?;
                let hashes: Vec<String> = left.drain(..batch).collect();
                let first = STANDARD.decode(&hashes[0])?;
                let t = Instant::now();
                let sigs = s.sign_hash(cred, key, hashes).await?;
                if counted {
                    http.add(batch, t.elapsed());
                }
                let t = Instant::now();
                checker.verify(&first, &sigs[0])?;
                if counted {
                    check.add(1, t.elapsed());
                }
            } else if !side && run_bare {
                let t = Instant::now();
                pool.sign(cred, &bare_input, batch)?;
                if counted {
                    bare.add(batch, t.elapsed());
                }
            }
        }
        round += 1;
    }
    Ok(Runs {
        bare,
        http,
        auth,
        check,
    })
}

/// The tallies of one configuration.
struct Runs {
    bare: Tally,
    http: Tally,
    auth: Tally,
    check: Tally,
}

/// The check the server makes after every signature of a digest (`CustodySigner::sign_checked`:
/// the RustCrypto verifier, the key prepared once), timed here on the signatures signHash
/// answers, which it thereby also checks.
enum Check {
    P256(p256::ecdsa::VerifyingKey),
    Rsa(rsa10::RsaPublicKey),
}

impl Check {
    fn of(cert_der: &[u8]) -> anyhow::Result<Check> {
        use der::{Decode, Encode};
        let cert = x509_cert::Certificate::from_der(cert_der)?;
        let spki = cert.tbs_certificate().subject_public_key_info().to_der()?;
        match tessera_hsm::PublicKey::from_spki_der(&spki)? {
            tessera_hsm::PublicKey::P256(k) => Ok(Check::P256(k.into())),
            tessera_hsm::PublicKey::Rsa(k) => Ok(Check::Rsa(k)),
            other => Err(anyhow!("unexpected credential key {}", other.name())),
        }
    }

    fn verify(&self, digest: &[u8], sig: &[u8]) -> anyhow::Result<()> {
        match self {
            Check::P256(k) => {
                use p256::ecdsa::signature::hazmat::PrehashVerifier;
                k.verify_prehash(digest, &p256::ecdsa::Signature::from_der(sig)?)?;
            }
            Check::Rsa(k) => k.verify(
                rsa10::pkcs1v15::Pkcs1v15Sign::new::<sha2::Sha256>(),
                digest,
                sig,
            )?,
        }
        Ok(())
    }
}

fn sha256(data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(data).to_vec()
}

impl Service {
    /// A SAD for `n` fresh hashes, with the next code of the official's HOTP token.
    async fn authorize(
        &mut self,
        cred: &Credential,
        n: usize,
    ) -> anyhow::Result<(String, Vec<String>)> {
        let hashes: Vec<String> = (0..n)
            .map(|_| {
                self.next_hash += 1;
                STANDARD.encode(sha256(&self.next_hash.to_be_bytes()))
            })
            .collect();
        let otp = hotp(HOTP_SECRET, Spec::APP, self.counter)?;
        self.counter += 1;
        let body = AuthorizeRequest {
            credential_id: cred.id.clone(),
            num_signatures: n as u32,
            hashes: Some(hashes.clone()),
            hash_algorithm_oid: Some(SHA256_OID.into()),
            otp: Some(otp),
            pin: None,
            description: None,
            client_data: None,
        };
        let answer: AuthorizeResponse = self.post("credentials/authorize", &body).await?;
        Ok((answer.sad, hashes))
    }

    /// The signatures of `hashes`, decoded.
    async fn sign_hash(
        &self,
        cred: &Credential,
        sad: &str,
        hashes: Vec<String>,
    ) -> anyhow::Result<Vec<Vec<u8>>> {
        let n = hashes.len();
        let body = SignHashRequest {
            credential_id: cred.id.clone(),
            sad: sad.to_owned(),
            hashes,
            hash_algorithm_oid: Some(SHA256_OID.into()),
            sign_algo: cred.sign_algo.into(),
            sign_algo_params: None,
            client_data: None,
        };
        let answer: SignHashResponse = self.post("signatures/signHash", &body).await?;
        ensure!(
            answer.signatures.len() == n && answer.signatures.iter().all(|s| !s.is_empty()),
            "signHash answered {} signatures for {n} hashes",
            answer.signatures.len()
        );
        Ok(answer
            .signatures
            .iter()
            .map(|s| STANDARD.decode(s))
            .collect::<Result<_, _>>()?)
    }

    /// The credential's certificate (`credentials/info`).
    async fn certificate(&self, cred_id: &str) -> anyhow::Result<Vec<u8>> {
        let info: serde_json::Value = self
            .post(
                "credentials/info",
                &serde_json::json!({ "credentialID": cred_id }),
            )
            .await?;
        let b64 = info["cert"]["certificates"][0]
            .as_str()
            .context("credentials/info has no certificate")?;
        Ok(STANDARD.decode(b64)?)
    }

    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        body: &impl serde::Serialize,
    ) -> anyhow::Result<T> {
        let r = self
            .http
            .post(self.server.url(&format!("/csc/v2/{method}")))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        let status = r.status();
        let bytes = r.bytes().await?;
        ensure!(
            status.is_success(),
            "{method}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
        serde_json::from_slice(&bytes).with_context(|| format!("{method} answer"))
    }
}

/// A job for one bare thread: sign `n` times, then say how it went.
struct Job {
    /// `CKM_RSA_PKCS`, else `CKM_ECDSA` (a `Mechanism` cannot cross threads).
    rsa: bool,
    key: ObjectHandle,
    input: Vec<u8>,
    n: usize,
    done: mpsc::Sender<Result<(), String>>,
}

/// Bare `C_Sign` on `threads` threads, each with its own logged-in session (kept for the run,
/// as the server keeps its pool's).
struct BarePool {
    workers: Vec<(mpsc::Sender<Job>, std::thread::JoinHandle<()>)>,
}

impl BarePool {
    fn new(ctx: &Pkcs11, slot: Slot, threads: usize) -> anyhow::Result<BarePool> {
        let mut workers = Vec::new();
        for _ in 0..threads {
            let session = bare::login(ctx, slot, PIN)?;
            let (tx, rx) = mpsc::channel::<Job>();
            let handle = std::thread::spawn(move || {
                for job in rx {
                    let mechanism = if job.rsa {
                        Mechanism::RsaPkcs
                    } else {
                        Mechanism::Ecdsa
                    };
                    let r = (0..job.n).try_for_each(|_| {
                        session
                            .sign(&mechanism, job.key, &job.input)
                            .map(|_| ())
                            .map_err(|e| e.to_string())
                    });
                    let _ = job.done.send(r);
                }
            });
            workers.push((tx, handle));
        }
        Ok(BarePool { workers })
    }

    /// The private key of the credential of `key_type` the CLI made on the token (labelled
    /// `tessera:cert:…`).
    fn credential_key(
        &self,
        ctx: &Pkcs11,
        slot: Slot,
        key_type: KeyType,
    ) -> anyhow::Result<ObjectHandle> {
        let session = bare::login(ctx, slot, PIN)?;
        let keys = session.find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(key_type),
        ])?;
        let mut found = Vec::new();
        for k in keys {
            let label = session
                .get_attributes(k, &[AttributeType::Label])?
                .into_iter()
                .find_map(|a| match a {
                    Attribute::Label(l) => Some(String::from_utf8_lossy(&l).into_owned()),
                    _ => None,
                })
                .unwrap_or_default();
            if label.starts_with("tessera:cert:") {
                found.push(k);
            }
        }
        ensure!(
            found.len() == 1,
            "expected one {key_type} credential key on the token, found {}",
            found.len()
        );
        Ok(found[0])
    }

    /// The threads a batch of `n` is spread over.
    fn threads(&self, n: usize) -> usize {
        self.workers.len().clamp(1, n.max(1))
    }

    /// `n` signatures of `input` spread over the threads, as the server spreads a batch.
    fn sign(&self, cred: &Credential, input: &[u8], n: usize) -> anyhow::Result<()> {
        let workers = self.threads(n);
        let per = n.div_ceil(workers);
        let (done, results) = mpsc::channel();
        let mut jobs = 0;
        let mut left = n;
        for (tx, _) in self.workers.iter().take(workers) {
            let take = per.min(left);
            if take == 0 {
                break;
            }
            left -= take;
            tx.send(Job {
                rsa: matches!(cred.mechanism, Mechanism::RsaPkcs),
                key: cred.key,
                input: input.to_vec(),
                n: take,
                done: done.clone(),
            })
            .map_err(|_| anyhow!("a bare thread stopped"))?;
            jobs += 1;
        }
        for _ in 0..jobs {
            results
                .recv()
                .map_err(|_| anyhow!("a bare thread stopped"))?
                .map_err(|e| anyhow!("bare C_Sign: {e}"))?;
        }
        Ok(())
    }

    fn stop(self) {
        for (tx, handle) in self.workers {
            drop(tx);
            let _ = handle.join();
        }
    }
}
