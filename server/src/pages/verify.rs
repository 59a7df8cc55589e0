//! The `/verify` page: a person drops a signed PDF and reads, in Vietnamese or English, what
//! each signature is worth (ETSI EN 319 102-1 verdicts, explained).

use minijinja::Value;
use minijinja::value::Serde;
use serde::Serialize;
use tessera_core::verify::{
    Coverage, Indication, RevocationSource, RevocationStatus, SignatureKind, SignatureReport,
    SubIndication, Verification,
};

use super::{Base, Lang, Pages};

#[derive(Debug, Serialize)]
pub struct VerifyText {
    pub title: &'static str,
    pub lead: &'static str,
    pub file_label: &'static str,
    pub file_help: &'static str,
    pub submit: &'static str,
    pub result_heading: &'static str,
    pub no_signature: &'static str,
    pub bad_file: &'static str,
    pub no_file: &'static str,
    pub too_large: &'static str,
    pub overall: &'static str,
    pub another: &'static str,
    pub technical: &'static str,
    passed: &'static str,
    failed: &'static str,
    indeterminate: &'static str,
    signature: &'static str,
    doc_timestamp: &'static str,
    detached: &'static str,
    field: &'static str,
    signer: &'static str,
    issued_by: &'static str,
    chain: &'static str,
    trusted: &'static str,
    trusted_yes: &'static str,
    trusted_no: &'static str,
    integrity: &'static str,
    integrity_yes: &'static str,
    integrity_no: &'static str,
    coverage: &'static str,
    cov_whole: &'static str,
    cov_later: &'static str,
    cov_modified: &'static str,
    cov_content: &'static str,
    signing_time: &'static str,
    claimed: &'static str,
    timestamp: &'static str,
    ts_valid: &'static str,
    ts_invalid: &'static str,
    revocation: &'static str,
    rev_good: &'static str,
    rev_revoked: &'static str,
    rev_ca_revoked: &'static str,
    rev_unknown: &'static str,
    rev_na: &'static str,
    src_dss: &'static str,
    src_cms: &'static str,
    src_tessera: &'static str,
    certification: &'static str,
    not_found: &'static str,
}

pub const VI: VerifyText = VerifyText {
    title: "Kiểm tra chữ ký số",
    lead: "Chọn một tệp PDF đã ký số để kiểm tra: chữ ký có còn nguyên vẹn, do ai ký, chứng thư số có tin cậy và còn hiệu lực không. Tệp chỉ được dùng để kiểm tra, không được lưu lại.",
    file_label: "Tệp PDF đã ký",
    file_help: "Tối đa 32 MB.",
    submit: "Kiểm tra",
    result_heading: "Kết quả kiểm tra",
    no_signature: "Tệp này không có chữ ký số nào.",
    bad_file: "Không đọc được tệp này như một tệp PDF.",
    no_file: "Vui lòng chọn một tệp PDF.",
    too_large: "Tệp quá lớn (tối đa 32 MB).",
    overall: "Kết luận chung",
    another: "Kiểm tra tệp khác",
    technical: "Chi tiết kỹ thuật",
    passed: "Chữ ký hợp lệ",
    failed: "Chữ ký không hợp lệ",
    indeterminate: "Chưa xác định được",
    signature: "Chữ ký",
    doc_timestamp: "Dấu thời gian của tài liệu",
    detached: "Chữ ký rời",
    field: "Trường chữ ký",
    signer: "Người ký",
    issued_by: "cấp bởi",
    chain: "Chuỗi chứng thư",
    trusted: "Tin cậy",
    trusted_yes: "Có, dẫn đến một chứng thư gốc tin cậy",
    trusted_no: "Không dẫn đến chứng thư gốc tin cậy nào",
    integrity: "Toàn vẹn",
    integrity_yes: "Nguyên vẹn, chữ ký khớp với nội dung",
    integrity_no: "Không nguyên vẹn",
    coverage: "Phạm vi ký",
    cov_whole: "Toàn bộ tài liệu",
    cov_later: "Tài liệu, với các thay đổi sau khi ký được phép (chữ ký khác, dữ liệu kiểm tra, dấu thời gian)",
    cov_modified: "Tài liệu đã bị sửa đổi sau khi ký",
    cov_content: "Nội dung được cung cấp",
    signing_time: "Thời điểm ký",
    claimed: "theo người ký khai, chưa có bằng chứng",
    timestamp: "Dấu thời gian",
    ts_valid: "hợp lệ",
    ts_invalid: "không hợp lệ",
    revocation: "Thu hồi",
    rev_good: "Chưa bị thu hồi",
    rev_revoked: "Chứng thư của người ký đã bị thu hồi lúc",
    rev_ca_revoked: "Một chứng thư CA trong chuỗi đã bị thu hồi lúc",
    rev_unknown: "Chưa kiểm tra được tình trạng thu hồi",
    rev_na: "Chứng thư không chỉ định dịch vụ kiểm tra thu hồi",
    src_dss: "nguồn: dữ liệu kiểm tra trong tệp",
    src_cms: "nguồn: dữ liệu trong chữ ký",
    src_tessera: "nguồn: CA của Tessera",
    certification: "Chữ ký chứng nhận (DocMDP)",
    not_found: "Không tìm thấy",
};

pub const EN: VerifyText = VerifyText {
    title: "Check digital signatures",
    lead: "Choose a signed PDF to check: whether each signature is intact, who signed, and whether the certificate is trusted and valid. The file is only checked, never kept.",
    file_label: "Signed PDF file",
    file_help: "Up to 32 MB.",
    submit: "Check",
    result_heading: "Result",
    no_signature: "This file has no digital signature.",
    bad_file: "This file cannot be read as a PDF.",
    no_file: "Please choose a PDF file.",
    too_large: "The file is too large (32 MB at most).",
    overall: "Overall",
    another: "Check another file",
    technical: "Technical detail",
    passed: "Valid signature",
    failed: "Invalid signature",
    indeterminate: "Could not be confirmed",
    signature: "Signature",
    doc_timestamp: "Document timestamp",
    detached: "Detached signature",
    field: "Signature field",
    signer: "Signer",
    issued_by: "issued by",
    chain: "Certificate chain",
    trusted: "Trusted",
    trusted_yes: "Yes, it chains to a trusted root",
    trusted_no: "It does not chain to any trusted root",
    integrity: "Integrity",
    integrity_yes: "Intact: the signature matches the content",
    integrity_no: "Not intact",
    coverage: "Covers",
    cov_whole: "The whole document",
    cov_later: "The document, with changes after signing that are allowed (other signatures, validation data, timestamps)",
    cov_modified: "The document was modified after signing",
    cov_content: "The content given",
    signing_time: "Signing time",
    claimed: "as claimed by the signer, not proven",
    timestamp: "Timestamp",
    ts_valid: "valid",
    ts_invalid: "not valid",
    revocation: "Revocation",
    rev_good: "Not revoked",
    rev_revoked: "The signer's certificate was revoked on",
    rev_ca_revoked: "A CA certificate of the chain was revoked on",
    rev_unknown: "The revocation status could not be checked",
    rev_na: "The certificates name no revocation service",
    src_dss: "source: validation data in the file",
    src_cms: "source: data in the signature",
    src_tessera: "source: Tessera's CA",
    certification: "Certification signature (DocMDP)",
    not_found: "Not found",
};

pub fn text(lang: Lang) -> &'static VerifyText {
    match lang {
        Lang::Vi => &VI,
        Lang::En => &EN,
    }
}

/// Why a verdict is what it is, for people (ETSI EN 319 102-1 §5.1.3 sub-indications).
fn explain(lang: Lang, sub: SubIndication) -> &'static str {
    use SubIndication as S;
    match (lang, sub) {
        (Lang::Vi, S::HashFailure) => "Nội dung đã bị thay đổi sau khi ký.",
        (Lang::En, S::HashFailure) => "The content was changed after it was signed.",
        (Lang::Vi, S::SigCryptoFailure) => "Chữ ký không khớp với khóa của chứng thư.",
        (Lang::En, S::SigCryptoFailure) => "The signature does not match the certificate's key.",
        (Lang::Vi, S::FormatFailure) => "Chữ ký bị hỏng hoặc không đúng định dạng.",
        (Lang::En, S::FormatFailure) => "The signature is damaged or malformed.",
        (Lang::Vi, S::Revoked) => "Chứng thư đã bị thu hồi trước thời điểm ký.",
        (Lang::En, S::Revoked) => "The certificate was revoked before the signing time.",
        (Lang::Vi, S::NotYetValid) => "Chứng thư chưa có hiệu lực.",
        (Lang::En, S::NotYetValid) => "The certificate is not valid yet.",
        (Lang::Vi, S::NoSigningCertificateFound) => "Không xác định được chứng thư của người ký.",
        (Lang::En, S::NoSigningCertificateFound) => {
            "The signer's certificate could not be identified."
        }
        (Lang::Vi, S::NoCertificateChainFound) => {
            "Chứng thư không do một tổ chức cung cấp dịch vụ chứng thực tin cậy cấp."
        }
        (Lang::En, S::NoCertificateChainFound) => {
            "The certificate was not issued by a trusted certification authority."
        }
        (Lang::Vi, S::OutOfBoundsNoPoe) => {
            "Chứng thư đã hết hạn và không có dấu thời gian chứng minh chữ ký có trước đó."
        }
        (Lang::En, S::OutOfBoundsNoPoe) => {
            "The certificate has expired and no timestamp proves the signature was made before."
        }
        (Lang::Vi, S::RevokedNoPoe) | (Lang::Vi, S::RevokedCaNoPoe) => {
            "Chứng thư đã bị thu hồi và không có dấu thời gian chứng minh chữ ký có trước khi thu hồi."
        }
        (Lang::En, S::RevokedNoPoe) | (Lang::En, S::RevokedCaNoPoe) => {
            "The certificate is revoked and no timestamp proves the signature was made before."
        }
        (Lang::Vi, S::TryLater) => "Chưa kiểm tra được tình trạng thu hồi; hãy thử lại sau.",
        (Lang::En, S::TryLater) => "The revocation status is not available yet; try again later.",
        (Lang::Vi, S::CryptoConstraintsFailure) => "Thuật toán của chữ ký không được hỗ trợ.",
        (Lang::En, S::CryptoConstraintsFailure) => "The signature's algorithm is not supported.",
        (Lang::Vi, S::ChainConstraintsFailure) | (Lang::Vi, S::SigConstraintsFailure) => {
            "Chứng thư không được phép dùng để ký."
        }
        (Lang::En, S::ChainConstraintsFailure) | (Lang::En, S::SigConstraintsFailure) => {
            "The certificate may not be used for signing."
        }
    }
}

use super::when::when_exact as when;

#[derive(Debug, Serialize)]
pub struct Row {
    pub label: &'static str,
    pub value: String,
}

#[derive(Debug, Serialize)]
pub struct SigView {
    pub title: String,
    /// `ok`, `bad` or `warn` (a CSS class).
    pub class: &'static str,
    pub verdict: &'static str,
    pub why: Option<&'static str>,
    pub code: String,
    pub detail: String,
    pub rows: Vec<Row>,
    pub changes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ResultView {
    pub class: &'static str,
    pub verdict: &'static str,
    pub file_name: String,
    pub no_signature: bool,
    pub signatures: Vec<SigView>,
}

/// The form, and the result of the last check when there is one.
#[derive(Debug, Serialize)]
pub struct VerifyView<'a> {
    pub csrf_token: &'a str,
    pub error: Option<&'static str>,
    pub result: Option<ResultView>,
}

fn verdict(t: &VerifyText, i: Indication) -> (&'static str, &'static str) {
    match i {
        Indication::TotalPassed => ("ok", t.passed),
        Indication::TotalFailed => ("bad", t.failed),
        Indication::Indeterminate => ("warn", t.indeterminate),
    }
}

fn source(t: &VerifyText, s: RevocationSource) -> &'static str {
    match s {
        RevocationSource::Dss => t.src_dss,
        RevocationSource::Cms => t.src_cms,
        RevocationSource::Caller => t.src_tessera,
    }
}

fn signature(lang: Lang, i: usize, s: &SignatureReport) -> SigView {
    let t = text(lang);
    let (class, v) = verdict(t, s.verdict.indication);
    let kind = match s.kind {
        SignatureKind::Pdf => t.signature,
        SignatureKind::DocumentTimestamp => t.doc_timestamp,
        SignatureKind::Detached => t.detached,
    };
    let mut rows = Vec::new();
    let mut row = |label: &'static str, value: String| rows.push(Row { label, value });
    if let Some(f) = &s.field {
        row(t.field, f.clone());
    }
    match &s.signer {
        Some(c) => row(
            t.signer,
            format!("{} — {} {}", c.subject, t.issued_by, c.issuer),
        ),
        None => row(t.signer, t.not_found.into()),
    }
    if !s.chain.is_empty() {
        row(
            t.chain,
            s.chain
                .iter()
                .map(|c| c.subject.as_str())
                .collect::<Vec<_>>()
                .join(" → "),
        );
    }
    row(
        t.trusted,
        if s.trusted {
            t.trusted_yes
        } else {
            t.trusted_no
        }
        .into(),
    );
    row(
        t.integrity,
        if s.integrity {
            t.integrity_yes
        } else {
            t.integrity_no
        }
        .into(),
    );
    row(
        t.coverage,
        match s.coverage {
            Coverage::WholeDocument => t.cov_whole,
            Coverage::AllowedLaterChanges => t.cov_later,
            Coverage::Modified => t.cov_modified,
            Coverage::Content => t.cov_content,
        }
        .into(),
    );
    if let Some(p) = s.docmdp {
        row(t.certification, format!("P={p}"));
    }
    if let Some(m) = s.claimed_signing_time
        && s.kind != SignatureKind::DocumentTimestamp
    {
        row(t.signing_time, format!("{} ({})", when(m), t.claimed));
    }
    if let Some(ts) = &s.timestamp {
        row(
            t.timestamp,
            format!(
                "{}{} — {}",
                when(ts.time),
                ts.tsa
                    .as_deref()
                    .map(|a| format!(", {a}"))
                    .unwrap_or_default(),
                if ts.valid { t.ts_valid } else { t.ts_invalid }
            ),
        );
    }
    row(
        t.revocation,
        match &s.revocation {
            RevocationStatus::Good { source: s } => format!("{} ({})", t.rev_good, source(t, *s)),
            RevocationStatus::Revoked {
                source: s,
                time,
                ca,
                ..
            } => format!(
                "{} {} ({})",
                if *ca { t.rev_ca_revoked } else { t.rev_revoked },
                when(*time),
                source(t, *s)
            ),
            RevocationStatus::Unknown { .. } => t.rev_unknown.into(),
            RevocationStatus::NotApplicable => t.rev_na.into(),
        },
    );
    SigView {
        title: format!("{i}. {kind}"),
        class,
        verdict: v,
        why: s.verdict.sub_indication.map(|sub| explain(lang, sub)),
        code: match s.verdict.sub_indication {
            Some(sub) => format!("{} / {}", s.verdict.indication.as_str(), sub.as_str()),
            None => s.verdict.indication.as_str().into(),
        },
        detail: s.verdict.detail.clone(),
        rows,
        changes: s.later_changes.clone(),
    }
}

/// The result part of the page.
pub fn result(lang: Lang, file_name: &str, v: &Verification) -> ResultView {
    let t = text(lang);
    let (class, verdict) = match v.overall {
        Some(i) => verdict(t, i),
        None => ("warn", t.no_signature),
    };
    ResultView {
        class,
        verdict,
        file_name: file_name.to_owned(),
        no_signature: v.overall.is_none(),
        signatures: v
            .signatures
            .iter()
            .enumerate()
            .map(|(i, s)| signature(lang, i + 1, s))
            .collect(),
    }
}

#[derive(Serialize)]
struct Ctx<'a> {
    #[serde(flatten)]
    base: Base,
    v: &'static VerifyText,
    view: &'a VerifyView<'a>,
}

impl Pages {
    pub fn verify(&self, lang: Lang, path_and_query: &str, view: &VerifyView<'_>) -> String {
        let ctx = Value::from(Serde(Ctx {
            base: Base::new(lang, path_and_query),
            v: text(lang),
            view,
        }));
        self.render_or_fallback(lang, "verify.html", ctx)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use tessera_core::verify::{CertSummary, Verdict};

    use super::*;

    const HOSTILE: &str = "<script>alert(1)</script>";

    fn report(indication: Indication, sub: Option<SubIndication>) -> SignatureReport {
        SignatureReport {
            kind: SignatureKind::Pdf,
            field: Some(HOSTILE.into()),
            signer: Some(CertSummary {
                subject: format!("CN={HOSTILE}"),
                issuer: "CN=Root".into(),
                serial: "01".into(),
                not_before: 0,
                not_after: 1,
            }),
            chain: Vec::new(),
            trusted: false,
            integrity: true,
            coverage: Coverage::AllowedLaterChanges,
            later_changes: vec![HOSTILE.into()],
            docmdp: Some(2),
            claimed_signing_time: Some(1_796_306_341),
            timestamp: None,
            revocation: RevocationStatus::NotApplicable,
            verdict: Verdict {
                indication,
                sub_indication: sub,
                detail: HOSTILE.into(),
            },
            revocation_wanted: Vec::new(),
        }
    }

    #[test]
    fn the_report_renders_in_both_languages_escaped() {
        let pages = Pages::new();
        let v = Verification {
            overall: Some(Indication::Indeterminate),
            signatures: vec![
                report(Indication::TotalPassed, None),
                report(
                    Indication::Indeterminate,
                    Some(SubIndication::NoCertificateChainFound),
                ),
            ],
        };
        for (lang, want) in [
            (Lang::Vi, "Chưa xác định được"),
            (Lang::En, "Could not be confirmed"),
        ] {
            let view = VerifyView {
                csrf_token: "tok",
                error: None,
                result: Some(result(lang, HOSTILE, &v)),
            };
            let html = pages.verify(lang, "/verify", &view);
            assert!(html.contains(want), "{html}");
            assert!(html.contains("name=\"csrf_token\" value=\"tok\""), "{html}");
            // minijinja escapes "/" in HTML.
            assert!(
                html.contains("03&#x2f;12&#x2f;2026 20:59:01 (+07:00)"),
                "{html}"
            );
            assert!(!html.contains(HOSTILE), "unescaped: {html}");
        }
        let form = pages.verify(
            Lang::Vi,
            "/verify",
            &VerifyView {
                csrf_token: "tok",
                error: Some(VI.no_file),
                result: None,
            },
        );
        assert!(form.contains("enctype=\"multipart/form-data\"") && form.contains(VI.no_file));
    }
}
