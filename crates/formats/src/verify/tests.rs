//! Unit tests on signatures made by tools nobody here wrote (pyHanko 0.38, openssl 3.0) with
//! `tests/data/verify/make.sh` on `input.pdf`; the certificates were issued at `ISSUED`.
#![allow(clippy::panic)]

use super::*;

const ISSUED: i64 = 1_796_309_348; // 2026-12-03T14:49:08Z, notBefore of the test certificates
const NOW: i64 = ISSUED + 3600;

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/verify/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn pem_cert(name: &str) -> Vec<u8> {
    let (_, der_bytes) = der::pem::decode_vec(&data(name)).unwrap_or_else(|e| panic!("{e}"));
    der_bytes
}

fn opts() -> Options {
    Options {
        now: NOW,
        anchors: vec![pem_cert("root.pem")],
        ..Options::default()
    }
}

fn verify(name: &str, opts: &Options) -> PdfReport {
    verify_pdf(&data(name), opts).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn only(report: &PdfReport) -> &SignatureReport {
    assert_eq!(report.signatures.len(), 1, "{report:#?}");
    &report.signatures[0]
}

#[test]
fn a_valid_rsa_signature_passes() {
    let r = verify("valid.pdf", &opts());
    let s = only(&r);
    assert_eq!(s.verdict, Verdict::passed(), "{s:#?}");
    assert_eq!(s.kind, SignatureKind::Pdf);
    assert!(s.integrity && s.trusted);
    assert_eq!(s.coverage, Coverage::WholeDocument);
    assert_eq!(
        s.signer.as_ref().map(|c| c.subject.as_str()),
        Some("CN=Test signer, O=Tessera Test")
    );
    assert_eq!(s.chain.len(), 1);
    assert_eq!(s.chain[0].subject, "CN=Verify Test Root, O=Tessera Test");
    // pyHanko writes /M; the signing is within a minute of the issuance.
    let m = s.claimed_signing_time.unwrap_or_default();
    assert!((ISSUED..ISSUED + 600).contains(&m), "{m}");
    assert_eq!(s.revocation, RevocationStatus::NotApplicable);
    assert_eq!(r.overall(), Some(Indication::TotalPassed));
}

#[test]
fn a_valid_ecdsa_signature_passes() {
    let r = verify("valid-ec.pdf", &opts());
    assert_eq!(only(&r).verdict, Verdict::passed(), "{r:#?}");
}

#[test]
fn a_byte_changed_inside_the_range_is_a_hash_failure() {
    let r = verify("tampered-inside.pdf", &opts());
    let s = only(&r);
    assert_eq!(s.verdict.indication, Indication::TotalFailed);
    assert_eq!(s.verdict.sub_indication, Some(SubIndication::HashFailure));
    assert!(!s.integrity);
    // Who signed is still reported.
    assert!(s.trusted && s.signer.is_some());
}

#[test]
fn junk_after_the_signature_is_reported_but_not_a_revision() {
    let r = verify("tampered-appended.pdf", &opts());
    let s = only(&r);
    assert_eq!(s.verdict, Verdict::passed(), "{s:#?}");
    assert_eq!(s.coverage, Coverage::AllowedLaterChanges);
    assert!(s.later_changes[0].contains("not a PDF revision"), "{s:#?}");
}

#[test]
fn a_byte_changed_in_the_contents_padding_does_not_matter() {
    let r = verify("tampered-padding.pdf", &opts());
    assert_eq!(only(&r).verdict, Verdict::passed(), "{r:#?}");
}

#[test]
fn an_expired_certificate_without_timestamp_is_out_of_bounds() {
    let r = verify("expired.pdf", &opts());
    let s = only(&r);
    assert_eq!(s.verdict.indication, Indication::Indeterminate, "{s:#?}");
    assert_eq!(
        s.verdict.sub_indication,
        Some(SubIndication::OutOfBoundsNoPoe)
    );
    assert!(s.integrity);
}

#[test]
fn an_unknown_root_gives_no_chain() {
    let r = verify("untrusted.pdf", &opts());
    let s = only(&r);
    assert_eq!(s.verdict.indication, Indication::Indeterminate, "{s:#?}");
    assert_eq!(
        s.verdict.sub_indication,
        Some(SubIndication::NoCertificateChainFound)
    );
    assert!(s.integrity && !s.trusted);
}

#[test]
fn a_revoked_certificate_without_timestamp_is_revoked_no_poe() {
    let mut o = opts();
    o.crls = vec![data("root.crl")];
    let r = verify("revoked.pdf", &o);
    let s = only(&r);
    assert_eq!(s.verdict.indication, Indication::Indeterminate, "{s:#?}");
    assert_eq!(s.verdict.sub_indication, Some(SubIndication::RevokedNoPoe));
    assert!(matches!(
        s.revocation,
        RevocationStatus::Revoked {
            source: RevocationSource::Caller,
            ca: false,
            ..
        }
    ));
    // The same CRL says the other signer is good.
    let r = verify("valid.pdf", &o);
    let s = only(&r);
    assert_eq!(s.verdict, Verdict::passed());
    assert_eq!(
        s.revocation,
        RevocationStatus::Good {
            source: RevocationSource::Caller
        }
    );
}

#[test]
fn a_second_signature_is_an_allowed_change_for_the_first() {
    let r = verify("two-signatures.pdf", &opts());
    assert_eq!(r.signatures.len(), 2);
    let first = &r.signatures[0];
    assert_eq!(first.verdict, Verdict::passed(), "{first:#?}");
    assert_eq!(first.coverage, Coverage::AllowedLaterChanges);
    assert!(!first.later_changes.is_empty());
    assert_eq!(r.signatures[1].coverage, Coverage::WholeDocument);
    assert_eq!(r.signatures[1].verdict, Verdict::passed());
}

#[test]
fn a_page_changed_after_signing_fails_the_signature() {
    // An incremental update that replaces the page's content stream.
    let mut pdf = data("valid.pdf");
    let doc = lopdf::Document::load_mem(&pdf).unwrap_or_else(|e| panic!("{e}"));
    let startxref = doc.xref_start;
    let off = pdf.len();
    let body = b"BT /F1 14 Tf 72 760 Td (Something else) Tj ET";
    let obj = format!("4 0 obj\n<< /Length {} >>\nstream\n", body.len());
    pdf.extend_from_slice(b"\n");
    let obj_off = pdf.len();
    pdf.extend_from_slice(obj.as_bytes());
    pdf.extend_from_slice(body);
    pdf.extend_from_slice(b"\nendstream\nendobj\n");
    let xref = pdf.len();
    let size = doc
        .trailer
        .get(b"Size")
        .and_then(lopdf::Object::as_i64)
        .unwrap_or(0);
    let root = doc
        .trailer
        .get(b"Root")
        .and_then(lopdf::Object::as_reference)
        .unwrap_or((1, 0));
    pdf.extend_from_slice(
        format!(
            "xref\n4 1\n{obj_off:010} 00000 n \ntrailer\n<< /Size {size} /Root {} {} R /Prev {startxref} >>\nstartxref\n{xref}\n%%EOF\n",
            root.0, root.1
        )
        .as_bytes(),
    );
    assert!(pdf.len() > off);
    let r = verify_pdf(&pdf, &opts()).unwrap_or_else(|e| panic!("{e}"));
    let s = only(&r);
    assert_eq!(s.coverage, Coverage::Modified, "{s:#?}");
    assert_eq!(s.verdict.indication, Indication::TotalFailed);
    assert!(
        s.later_changes.iter().any(|c| c.contains("object 4 0")),
        "{s:#?}"
    );
}

#[test]
fn a_detached_openssl_cms_passes_and_fails_on_other_content() {
    let o = opts();
    let s = verify_detached(&data("content.p7s"), &data("content.txt"), &o)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.verdict, Verdict::passed(), "{s:#?}");
    assert_eq!(s.kind, SignatureKind::Detached);
    assert!(s.claimed_signing_time.is_some());
    let s = verify_detached(&data("content.p7s"), &data("other-content.txt"), &o)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.verdict.sub_indication, Some(SubIndication::HashFailure));
}

#[test]
fn garbage_is_refused_or_a_format_failure() {
    assert!(verify_pdf(b"not a pdf", &opts()).is_err());
    let s =
        verify_detached(b"\x30\x03\x02\x01\x01", b"x", &opts()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.verdict.sub_indication, Some(SubIndication::FormatFailure));
    let r = verify("input.pdf", &opts());
    assert!(r.signatures.is_empty());
    assert_eq!(r.overall(), None);
}

#[test]
fn pdf_dates_parse() {
    assert_eq!(super::pdf::tests_pdf_date(b"D:19700101000000Z"), Some(0));
    assert_eq!(
        super::pdf::tests_pdf_date(b"D:20261203214908+07'00'"),
        Some(ISSUED)
    );
}

#[test]
fn a_timestamp_from_while_the_certificate_was_valid_is_proof_of_existence() {
    // Signed with the certificate that expired in 2021, time-stamped on 2020-06-01 by a TSA
    // chaining to the anchor (ETSI EN 319 102-1 §5.5: best-signature-time).
    let r = verify("expired-ts.pdf", &opts());
    let s = only(&r);
    assert_eq!(s.verdict, Verdict::passed(), "{s:#?}");
    let ts = s.timestamp.as_ref().unwrap_or_else(|| panic!("{s:#?}"));
    assert!(ts.valid, "{ts:#?}");
    assert_eq!(ts.time, 1_590_969_600);
    assert_eq!(ts.tsa.as_deref(), Some("CN=Test tsa, O=Tessera Test"));
    // Without the TSA's root among the anchors the timestamp proves nothing.
    let mut o = opts();
    o.anchors = vec![pem_cert("other-root.pem")];
    let r = verify("expired-ts.pdf", &o);
    let s = only(&r);
    assert!(s.timestamp.as_ref().is_some_and(|t| !t.valid));
    assert_eq!(s.verdict.indication, Indication::Indeterminate);
}

#[test]
fn a_timestamp_after_the_revocation_fails_the_signature() {
    let mut o = opts();
    o.crls = vec![data("root.crl")];
    let r = verify("revoked-ts.pdf", &o);
    let s = only(&r);
    assert_eq!(s.verdict.indication, Indication::TotalFailed, "{s:#?}");
    assert_eq!(s.verdict.sub_indication, Some(SubIndication::Revoked));
}

#[test]
fn a_document_timestamp_is_verified_and_allowed_after_a_signature() {
    let r = verify("doc-ts.pdf", &opts());
    assert_eq!(r.signatures.len(), 2, "{r:#?}");
    let (sig, dts) = (&r.signatures[0], &r.signatures[1]);
    assert_eq!(sig.verdict, Verdict::passed(), "{sig:#?}");
    assert_eq!(sig.coverage, Coverage::AllowedLaterChanges);
    assert_eq!(dts.kind, SignatureKind::DocumentTimestamp);
    assert_eq!(dts.verdict, Verdict::passed(), "{dts:#?}");
    assert!(dts.timestamp.as_ref().is_some_and(|t| t.valid));
    // A byte of the time-stamped range changed: the imprint no longer matches.
    let mut pdf = data("doc-ts.pdf");
    let i = pdf.windows(9).position(|w| w == b"/Producer").unwrap_or(0) + 12;
    pdf[i] ^= 0x01;
    let r = verify_pdf(&pdf, &opts()).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        r.signatures
            .iter()
            .all(|s| s.verdict.indication == Indication::TotalFailed),
        "{r:#?}"
    );
}

#[test]
fn certification_signatures_allow_what_their_docmdp_level_allows() {
    // P=2, then an approval signature: allowed.
    let r = verify("certified-p2-then-signed.pdf", &opts());
    assert_eq!(r.signatures.len(), 2);
    assert_eq!(r.signatures[0].docmdp, Some(2));
    assert_eq!(r.signatures[0].verdict, Verdict::passed(), "{r:#?}");
    assert_eq!(r.signatures[0].coverage, Coverage::AllowedLaterChanges);
    // P=1, then a document timestamp: the one change P=1 still allows.
    let r = verify("certified-p1-then-ts.pdf", &opts());
    assert_eq!(r.signatures[0].docmdp, Some(1));
    assert_eq!(r.overall(), Some(Indication::TotalPassed), "{r:#?}");
    // P=1, then the page's content replaced: not allowed (nor would it be without P=1).
    let mut pdf = data("certified-p1.pdf");
    let doc = lopdf::Document::load_mem(&pdf).unwrap_or_else(|e| panic!("{e}"));
    let startxref = doc.xref_start;
    let size = doc
        .trailer
        .get(b"Size")
        .and_then(lopdf::Object::as_i64)
        .unwrap_or(0);
    let root = doc
        .trailer
        .get(b"Root")
        .and_then(lopdf::Object::as_reference)
        .unwrap_or((1, 0));
    pdf.extend_from_slice(b"\n");
    let obj_off = pdf.len();
    let body = b"BT /F1 14 Tf 72 760 Td (Changed) Tj ET";
    pdf.extend_from_slice(format!("4 0 obj\n<< /Length {} >>\nstream\n", body.len()).as_bytes());
    pdf.extend_from_slice(body);
    pdf.extend_from_slice(b"\nendstream\nendobj\n");
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!(
            "xref\n4 1\n{obj_off:010} 00000 n \ntrailer\n<< /Size {size} /Root {} {} R /Prev {startxref} >>\nstartxref\n{xref}\n%%EOF\n",
            root.0, root.1
        )
        .as_bytes(),
    );
    let r = verify_pdf(&pdf, &opts()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.signatures[0].coverage, Coverage::Modified, "{r:#?}");
}
