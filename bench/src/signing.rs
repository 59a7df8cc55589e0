//! Document signature benchmark (issue 12): signatures per second on a SoftHSM2 token for
//! RSA-2048 and P-256, comparing on the same token, call by call interleaved:
//! - bare `C_Sign` (CKM_RSA_PKCS over a DigestInfo, CKM_ECDSA over a digest);
//! - the check every custody signature passes (ring's verification of one signature);
//! - complete CAdES-B-B detached signatures over a 1 MB file (the file hashed each time), with
//!   a prepared [`CadesSigner`], and one-shot (`cades::sign_detached`, certificates parsed per
//!   call);
//! - PAdES-B-B signatures of a ~1.26 MB, 60-page PDF;
//! - the hash of the 1 MB file and of the PDF alone, which with one bare signature bounds the two.
//!
//! Then the peak memory (VmHWM) of a child process that signs the PDF once, after one warm-up
//! signature. See BENCHMARKS.md.
//!
//! cargo build --release --bin bench-signing && target/release/bench-signing [--seconds 10]
//!
//! It makes its own token (SOFTHSM2_CONF in a temporary directory) and re-runs itself with it,
//! since the module reads its configuration once per process. The PDF is built at start from
//! `crates/formats/tests/fixtures/pdf/quyet-dinh-libreoffice.pdf` (see [`enlarge_pdf`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::Parser;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass};
use der::{Decode, Encode};
use lopdf::{Dictionary, Object, ObjectId, Stream};
use tessera_formats::cades::{self, CadesSigner, Profile, SignerCerts};
use tessera_formats::pdf::{SignOptions, sign_pdf};
use tessera_hsm::pkcs11::{Pin, Pkcs11Config, Pkcs11Token, TokenSelector};
use tessera_hsm::softhsm::module_path;
use tessera_hsm::x509::{CustodySigner, X509Signature};
use tessera_hsm::{HashAlg, KeyCustody, KeyPurpose, KeyType};
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::profile::cabf::Root;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

mod bare;

const LABEL: &str = "bench-signing";
const PIN: &str = "bench-1234";
/// Set in the re-run with the token's configuration.
const CHILD: &str = "TESSERA_BENCH_SIGNING_CHILD";
/// Set in the memory child: the directory holding `key_ref`, `cert.der`, `root.der` and the PDF.
const RSS_CHILD: &str = "TESSERA_BENCH_SIGNING_RSS";
/// 2026-12-01T00:00:00Z: the signatures need a time, the benchmark no clock.
const SIGNING_TIME: i64 = 1_795_996_800;
const FIXTURE: &str = "crates/formats/tests/fixtures/pdf/quyet-dinh-libreoffice.pdf";
const PDF_PAGES: usize = 60;
const PDF_BYTES: usize = 1_260_000;
const FILE_BYTES: usize = 1 << 20;

#[derive(Debug, Parser, Clone)]
#[command(about = "CAdES and PAdES signatures per second vs bare C_Sign (SoftHSM2)")]
struct Args {
    /// Seconds per key type (all contenders interleaved call by call)
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// PKCS#11 module [default: SoftHSM2]
    #[arg(long)]
    module: Option<PathBuf>,
    /// The PDF to enlarge [default: the LibreOffice fixture of tessera-formats]
    #[arg(long)]
    fixture: Option<PathBuf>,
    /// Keep the generated PDF, one signed copy, a CAdES signature, its content and the root
    /// certificate in this directory (for checking with pdfsig, pyHanko, openssl)
    #[arg(long)]
    keep: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let module = match &args.module {
        Some(m) => m.clone(),
        None => module_path().context("SoftHSM2 is not installed (apt-get install softhsm2)")?,
    };
    if let Some(dir) = std::env::var_os(RSS_CHILD) {
        return memory_child(&module, Path::new(&dir));
    }
    if std::env::var_os(CHILD).is_some() {
        return bench(&args, module);
    }
    bare::rerun_with_token(&module, LABEL, PIN, CHILD)
}

fn open_token(module: &Path) -> anyhow::Result<Arc<Pkcs11Token>> {
    let mut config = Pkcs11Config::new(module, TokenSelector::Label(LABEL.into()), Pin::new(PIN));
    config.max_sessions = 2;
    Ok(Arc::new(Pkcs11Token::open(config)?))
}

/// An end-entity profile with no extensions: enough for a benchmark's signatures.
struct Leaf {
    issuer: Name,
    subject: Name,
}

impl BuilderProfile for Leaf {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }
    fn get_subject(&self) -> Name {
        self.subject.clone()
    }
    fn build_extensions(
        &self,
        _spk: spki::SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: spki::SubjectPublicKeyInfoRef<'_>,
        _tbs: &x509_cert::TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        Ok(Vec::new())
    }
}

/// A P-256 root on the token and a certificate from it for each credential key.
struct Ca {
    root: CustodySigner,
    root_der: Vec<u8>,
    name: Name,
}

impl Ca {
    fn new(custody: Arc<dyn KeyCustody>) -> anyhow::Result<Ca> {
        let key = custody.generate(KeyType::P256, KeyPurpose::Ca)?;
        let root = CustodySigner::open(custody, KeyType::P256, KeyPurpose::Ca, &key.key_ref)?;
        let name = Name::from_str("CN=Tessera Bench Root,O=UBND TP Hai Phong,C=VN")?;
        let cert = CertificateBuilder::new(
            Root::new(false, name.clone())?,
            SerialNumber::from(1u32),
            Validity::from_now(Duration::from_secs(86_400))?,
            root.spki()?,
        )?
        .build::<_, X509Signature>(&root)?;
        Ok(Ca {
            root,
            root_der: cert.to_der()?,
            name,
        })
    }

    fn issue(&self, spki_der: &[u8], serial: u32) -> anyhow::Result<Vec<u8>> {
        let cert = CertificateBuilder::new(
            Leaf {
                issuer: self.name.clone(),
                subject: Name::from_str("CN=Van thu,OU=So Noi vu,O=UBND TP Hai Phong,C=VN")?,
            },
            SerialNumber::from(serial),
            Validity::from_now(Duration::from_secs(86_400))?,
            spki::SubjectPublicKeyInfoOwned::from_der(spki_der)?,
        )?
        .build::<_, X509Signature>(&self.root)?;
        Ok(cert.to_der()?)
    }
}

/// Deterministic incompressible bytes (xorshift64*): padding and the 1 MB file, not keys.
fn noise(len: usize, mut state: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Builds a `pages`-page PDF of about `target` bytes from `original`: its pages are repeated,
/// each copy with its own content streams (cloned), and each carries an unused image XObject
/// of incompressible 8-bit grey pixels (like a scanned page's image) sized so that the file
/// reaches `target`. Written uncompressed by lopdf, so the size is what the bytes say.
fn enlarge_pdf(original: &[u8], pages: usize, target: usize) -> anyhow::Result<Vec<u8>> {
    let build = |pad: usize| -> anyhow::Result<Vec<u8>> {
        let mut doc = lopdf::Document::load_mem(original)?;
        let sources: Vec<ObjectId> = doc.get_pages().values().copied().collect();
        if sources.is_empty() {
            bail!("the fixture has no pages");
        }
        let pages_id = doc.catalog()?.get(b"Pages")?.as_reference()?;
        let mut kids = Vec::with_capacity(pages);
        for i in 0..pages {
            let source = sources[i % sources.len()];
            let mut page = doc.get_dictionary(source)?.clone();
            // Own copies of the content streams.
            let contents: Vec<ObjectId> = match page.get(b"Contents")? {
                Object::Reference(id) => vec![*id],
                Object::Array(a) => a.iter().filter_map(|o| o.as_reference().ok()).collect(),
                _ => bail!("unexpected /Contents"),
            };
            let mut copies = Vec::with_capacity(contents.len());
            for id in contents {
                let stream = doc.get_object(id)?.clone();
                copies.push(Object::Reference(doc.add_object(stream)));
            }
            page.set("Contents", Object::Array(copies));
            // Resources may be inherited from the page tree (ISO 32000-1 §7.7.3.4).
            let inherited = doc.get_dictionary(pages_id)?.get(b"Resources").ok();
            let mut resources = match page.get(b"Resources").ok().or(inherited) {
                Some(Object::Reference(id)) => doc.get_dictionary(*id)?.clone(),
                Some(Object::Dictionary(d)) => d.clone(),
                _ => bail!("a page without /Resources"),
            };
            let mut xobjects = match resources.get(b"XObject") {
                Ok(Object::Reference(id)) => doc.get_dictionary(*id)?.clone(),
                Ok(Object::Dictionary(d)) => d.clone(),
                _ => Dictionary::new(),
            };
            if pad > 0 {
                let width = 1000usize;
                let height = pad.div_ceil(width).max(1);
                let mut image = Dictionary::new();
                image.set("Type", "XObject");
                image.set("Subtype", "Image");
                image.set("Width", width as i64);
                image.set("Height", height as i64);
                image.set("ColorSpace", "DeviceGray");
                image.set("BitsPerComponent", 8);
                let pixels = noise(width * height, 0x9E37_79B9_7F4A_7C15 ^ i as u64);
                let id = doc.add_object(Stream::new(image, pixels).with_compression(false));
                xobjects.set(format!("BenchScan{i}"), Object::Reference(id));
            }
            resources.set("XObject", Object::Dictionary(xobjects));
            page.set("Resources", Object::Dictionary(resources));
            page.set("Parent", Object::Reference(pages_id));
            kids.push(Object::Reference(doc.add_object(page)));
        }
        let tree = doc.get_dictionary_mut(pages_id)?;
        tree.set("Kids", Object::Array(kids));
        tree.set("Count", pages as i64);
        doc.prune_objects();
        let mut out = Vec::new();
        doc.save_to(&mut out)?;
        Ok(out)
    };
    let bare = build(0)?;
    // Each image costs its pixels plus about 150 bytes of dictionary and xref.
    let pad = target.saturating_sub(bare.len()) / pages;
    let pad = pad.saturating_sub(150);
    build(pad)
}

/// A `/proc/self/status` figure in KiB: `VmHWM` (peak resident memory), `RssAnon` (resident
/// anonymous memory: heap and stacks, not code or mapped files).
fn status_kib(field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .with_context(|| format!("no {field} in /proc/self/status"))?;
    Ok(line.trim().trim_end_matches("kB").trim().parse()?)
}

fn memory_now() -> anyhow::Result<[u64; 2]> {
    Ok([status_kib("VmHWM")?, status_kib("RssAnon")?])
}

/// The memory child: opens the token and signs once (baseline), then reads the PDF from disk,
/// signs it (PAdES-B-B, RSA-2048) and writes the signed copy to disk; prints the peak and the
/// anonymous memory at the three points, in KiB.
fn memory_child(module: &Path, dir: &Path) -> anyhow::Result<()> {
    let token = open_token(module)?;
    let key_ref = std::fs::read(dir.join("key_ref"))?;
    let certs = SignerCerts {
        cert_der: std::fs::read(dir.join("cert.der"))?,
        chain: vec![std::fs::read(dir.join("root.der"))?],
    };
    let signer = CustodySigner::open(token, KeyType::Rsa2048, KeyPurpose::Credential, &key_ref)?;
    // One signature first, as a server has made before: the token's and the crypto libraries'
    // one-time set-up belongs to the baseline, not to the PDF.
    cades::sign_detached(&signer, &certs, &[0u8; 32], Profile::Pades)?;
    let baseline = memory_now()?;
    let pdf = std::fs::read(dir.join("bench.pdf"))?;
    let read = memory_now()?;
    let signed = sign_pdf(
        &pdf,
        &SignOptions::new("Van thu", SIGNING_TIME),
        None,
        |d| cades::sign_detached(&signer, &certs, d, Profile::Pades),
    )?;
    let out = dir.join("signed-rss.pdf");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&out)?);
    signed.write_to(&mut file)?;
    drop(file);
    let end = memory_now()?;
    for [peak, anon] in [baseline, read, end] {
        print!("{peak} {anon} ");
    }
    println!();
    Ok(())
}

/// Calls made and seconds spent in them.
#[derive(Default, Clone, Copy)]
struct Tally {
    calls: u64,
    secs: f64,
}

impl Tally {
    fn add(&mut self, t: Duration) {
        self.calls += 1;
        self.secs += t.as_secs_f64();
    }
    fn rate(self) -> f64 {
        self.calls as f64 / self.secs
    }
    fn ms(self) -> f64 {
        self.secs * 1000.0 / self.calls as f64
    }
}

#[derive(Default)]
struct Results {
    bare: Tally,
    check: Tally,
    cms: Tally,
    one_shot: Tally,
    cades: Tally,
    hash_file: Tally,
    pades: Tally,
    hash_pdf: Tally,
}

fn bench(args: &Args, module: PathBuf) -> anyhow::Result<()> {
    let token = open_token(&module)?;
    let custody: Arc<dyn KeyCustody> = token.clone();
    let ca = Ca::new(custody.clone())?;

    let fixture = match &args.fixture {
        Some(f) => f.clone(),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(FIXTURE),
    };
    let original =
        std::fs::read(&fixture).with_context(|| format!("reading {}", fixture.display()))?;
    let t = Instant::now();
    let pdf = enlarge_pdf(&original, PDF_PAGES, PDF_BYTES)?;
    let pages = lopdf::Document::load_mem(&pdf)?.get_pages().len();
    let built_in = t.elapsed();
    let file = noise(FILE_BYTES, 42);

    let dir = std::env::temp_dir().join(format!("tessera-bench-signing-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("bench.pdf"), &pdf)?;
    std::fs::write(dir.join("root.der"), &ca.root_der)?;

    let (ctx, slot) = bare::open(&module, LABEL)?;
    let session = bare::login(&ctx, slot, PIN)?;

    println!(
        "{}, {} s per key type, calls interleaved in rotating order",
        bare::describe(&ctx, &module)?,
        args.seconds,
    );
    println!(
        "PDF: {} pages, {} bytes, built in {:.0} ms from {} ({} bytes); file for CAdES: {} bytes",
        pages,
        pdf.len(),
        built_in.as_secs_f64() * 1000.0,
        fixture
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        original.len(),
        file.len()
    );

    let duration = Duration::from_secs(args.seconds);
    let options = SignOptions::new("Van thu", SIGNING_TIME);
    for (serial, key_type) in [(2u32, KeyType::Rsa2048), (3, KeyType::P256)] {
        let key = custody.generate(key_type, KeyPurpose::Credential)?;
        let certs = SignerCerts {
            cert_der: ca.issue(&key.spki_der, serial)?,
            chain: vec![ca.root_der.clone()],
        };
        let signer = CustodySigner::open(
            custody.clone(),
            key_type,
            KeyPurpose::Credential,
            &key.key_ref,
        )?;
        let prepared = CadesSigner::new(signer.clone(), &certs)?;
        // The check alone: ring's verification of a signature over signed-attributes-sized
        // bytes, as `CustodySigner::sign_checked` makes it.
        let attrs = noise(240, 7);
        let attrs_sig = signer.sign_checked(tessera_hsm::SignInput::Message(&attrs))?;
        let spki = spki::SubjectPublicKeyInfoRef::try_from(key.spki_der.as_slice())?;
        let ring_key = spki
            .subject_public_key
            .as_bytes()
            .context("public key bits")?
            .to_vec();
        let ring_alg: &dyn ring::signature::VerificationAlgorithm = if key_type.is_rsa() {
            &ring::signature::RSA_PKCS1_2048_8192_SHA256
        } else {
            &ring::signature::ECDSA_P256_SHA256_ASN1
        };
        let object = *session
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Id(key.key_ref.clone()),
            ])?
            .first()
            .context("key not found")?;
        let rsa = key_type != KeyType::P256;
        let bare_digest = HashAlg::Sha256.digest(&file);
        let (mechanism, bare_input) = if rsa {
            let mut di = rsa10::pkcs1v15::Pkcs1v15Sign::new::<sha2::Sha256>()
                .prefix
                .into_vec();
            di.extend_from_slice(&HashAlg::Sha256.digest(&file));
            (Mechanism::RsaPkcs, di)
        } else {
            (Mechanism::Ecdsa, HashAlg::Sha256.digest(&file))
        };
        if key_type == KeyType::Rsa2048 {
            std::fs::write(dir.join("key_ref"), &key.key_ref)?;
            std::fs::write(dir.join("cert.der"), &certs.cert_der)?;
        }
        if let Some(keep) = &args.keep {
            std::fs::create_dir_all(keep)?;
            let name = key_type.name();
            let digest = HashAlg::Sha256.digest(&file);
            let cms = prepared.sign_detached(
                &digest,
                Profile::Cades {
                    signing_time: SIGNING_TIME,
                },
            )?;
            std::fs::write(keep.join(format!("cades-{name}.p7s")), cms)?;
            let signed = sign_pdf(&pdf, &options, None, |d| {
                prepared.sign_detached(d, Profile::Pades)
            })?;
            std::fs::write(keep.join(format!("signed-{name}.pdf")), signed.to_vec())?;
            std::fs::write(keep.join("file.bin"), &file)?;
            std::fs::write(keep.join("bench.pdf"), &pdf)?;
            let pem =
                der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &ca.root_der)?;
            std::fs::write(keep.join("root.pem"), pem)?;
        }

        let mut r = Results::default();
        let start = Instant::now();
        let mut round = 0usize;
        while start.elapsed() < duration {
            for step in 0..7 {
                match (round + step) % 7 {
                    0 => {
                        let t = Instant::now();
                        session.sign(&mechanism, object, &bare_input)?;
                        r.bare.add(t.elapsed());
                    }
                    1 => {
                        // The complete CAdES signature of the file: hash it, then the CMS.
                        let t = Instant::now();
                        let digest = HashAlg::Sha256.digest(&file);
                        let hashed = t.elapsed();
                        let cms = prepared.sign_detached(
                            &digest,
                            Profile::Cades {
                                signing_time: SIGNING_TIME,
                            },
                        )?;
                        let all = t.elapsed();
                        std::hint::black_box(cms);
                        r.cades.add(all);
                        r.cms.add(all - hashed);
                    }
                    2 => {
                        let t = Instant::now();
                        std::hint::black_box(HashAlg::Sha256.digest(&file));
                        r.hash_file.add(t.elapsed());
                    }
                    3 => {
                        let t = Instant::now();
                        let signed = sign_pdf(&pdf, &options, None, |d| {
                            prepared.sign_detached(d, Profile::Pades)
                        })?;
                        signed.write_to(&mut std::io::sink())?;
                        r.pades.add(t.elapsed());
                    }
                    5 => {
                        let t = Instant::now();
                        let cms = cades::sign_detached(
                            &signer,
                            &certs,
                            &bare_digest,
                            Profile::Cades {
                                signing_time: SIGNING_TIME,
                            },
                        )?;
                        r.one_shot.add(t.elapsed());
                        std::hint::black_box(cms);
                    }
                    6 => {
                        let t = Instant::now();
                        ring::signature::UnparsedPublicKey::new(ring_alg, &ring_key)
                            .verify(&attrs, &attrs_sig)
                            .map_err(|_| anyhow!("the check failed"))?;
                        r.check.add(t.elapsed());
                    }
                    _ => {
                        let t = Instant::now();
                        std::hint::black_box(HashAlg::Sha256.digest(&pdf));
                        r.hash_pdf.add(t.elapsed());
                    }
                }
            }
            round += 1;
        }
        report(key_type, &r);
    }
    println!("faults recovered during the run: {}", token.recoveries());
    drop(session);

    // Peak memory of one PAdES signature of the PDF in a fresh process.
    let out = Command::new(std::env::current_exe()?)
        .args(std::env::args_os().skip(1))
        .env(RSS_CHILD, &dir)
        .output()?;
    if !out.status.success() {
        bail!(
            "the memory child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8(out.stdout)?;
    let fields: Vec<u64> = text
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("the memory child answered {text:?}"))?;
    let [hwm_base, anon_base, hwm_read, anon_read, hwm_end, anon_end] = fields.as_slice() else {
        bail!("the memory child answered {text:?}");
    };
    let kib = pdf.len() as f64 / 1024.0;
    let x = |k: u64| k as f64 / kib;
    println!(
        "peak RSS signing the {pages}-page PDF ({kib:.0} KiB) in a child (RSA-2048): {hwm_end} KiB; \
         {hwm_base} KiB after opening the token and one signature, {hwm_read} KiB after reading \
         the file; signing added {} KiB = {:.2} x the file size, {:.2} x with the read. \
         Anonymous memory (heap, stacks): {anon_base} KiB, {anon_read} KiB, {anon_end} KiB: \
         reading added {:.2} x the file size, signing {:.2} x",
        hwm_end.saturating_sub(*hwm_read),
        x(hwm_end.saturating_sub(*hwm_read)),
        x(hwm_end.saturating_sub(*hwm_base)),
        x(anon_read.saturating_sub(*anon_base)),
        x(anon_end.saturating_sub(*anon_read)),
    );
    let signed = std::fs::read(dir.join("signed-rss.pdf"))?;
    if !signed.starts_with(&pdf) || signed.len() <= pdf.len() {
        bail!("the memory child's output is not an incremental update of the PDF");
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

fn report(key_type: KeyType, r: &Results) {
    let bare = r.bare.rate();
    println!("{}:", key_type.name());
    println!(
        "  {:<48} {:>8.0} ops/s  {:>7.3} ms",
        "bare C_Sign",
        bare,
        r.bare.ms()
    );
    println!(
        "  {:<48} {:>8.0} ops/s  {:>7.3} ms",
        "signature check alone (ring verify)",
        r.check.rate(),
        r.check.ms()
    );
    let checked = 1.0 / (r.bare.secs / r.bare.calls as f64 + r.check.secs / r.check.calls as f64);
    println!(
        "  {:<48} {:>8.0} ops/s  {:>7.3} ms  {:>5.1} % of bare, {:.1} % of bare+check",
        "CAdES-B-B CMS, digest given (CadesSigner)",
        r.cms.rate(),
        r.cms.ms(),
        r.cms.rate() / bare * 100.0,
        r.cms.rate() / checked * 100.0
    );
    println!(
        "  {:<48} {:>8.0} ops/s  {:>7.3} ms  {:>5.1} % of bare",
        "CAdES-B-B CMS, one-shot sign_detached",
        r.one_shot.rate(),
        r.one_shot.ms(),
        r.one_shot.rate() / bare * 100.0
    );
    println!(
        "  {:<48} {:>8.0} ops/s  {:>7.3} ms",
        "SHA-256 of the 1 MB file alone",
        r.hash_file.rate(),
        r.hash_file.ms()
    );
    let bound =
        1.0 / (r.hash_file.secs / r.hash_file.calls as f64 + r.bare.secs / r.bare.calls as f64);
    println!(
        "  {:<48} {:>8.0} ops/s  {:>7.3} ms  {:>5.1} % of hash+bare ({:.0}/s)",
        "CAdES-B-B of the 1 MB file (hash + CMS)",
        r.cades.rate(),
        r.cades.ms(),
        r.cades.rate() / bound * 100.0,
        bound
    );
    println!(
        "  {:<48} {:>8.0} ops/s  {:>7.3} ms",
        "SHA-256 of the PDF alone",
        r.hash_pdf.rate(),
        r.hash_pdf.ms()
    );
    let bound =
        1.0 / (r.hash_pdf.secs / r.hash_pdf.calls as f64 + r.bare.secs / r.bare.calls as f64);
    println!(
        "  {:<48} {:>8.0} ops/s  {:>7.3} ms  {:>5.1} % of hash+bare ({:.0}/s)",
        "PAdES-B-B of the PDF (parse, update, hash, CMS)",
        r.pades.rate(),
        r.pades.ms(),
        r.pades.rate() / bound * 100.0,
        bound
    );
    println!("  ({} rounds)", r.bare.calls);
}
