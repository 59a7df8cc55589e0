//! Decree 30 appearances on every PDF fixture, checked with tools nobody here wrote: `pdftotext`
//! gives back the Vietnamese text, `pdffonts` shows the embedded subset, `qpdf --check` accepts
//! the file, and the page rendered by `pdftoppm` matches a reference picture.
//!
//! The rendered pages are kept in `target/test-artifacts/appearance/`. To re-make a reference
//! picture after a deliberate change, run with `TESSERA_UPDATE_REFERENCE=1` and look at it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use lopdf::{Dictionary, IncrementalDocument, Object};
use tessera_formats::FormatError;
use tessera_formats::pdf::PlacedAppearance;
use tessera_formats::pdf::anchor;
use tessera_formats::pdf::appearance::{
    AppearanceSpec, AppendixStamp, DEFAULT_SEAL_DIAMETER_MM, Placement, Seal, Visible,
    add_appearances, vietnam_time,
};

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");
/// 2024-03-15T09:30:00+07:00.
const SIGNED_AT: i64 = 1_710_469_800;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(MANIFEST).join("tests/fixtures/pdf").join(name)).unwrap()
}

fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(MANIFEST).join("../../target"));
    let dir = target.join("test-artifacts/appearance");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn signature_png() -> Vec<u8> {
    fixture("images/chu-ky-xanh.png")
}

fn seal_png() -> Vec<u8> {
    fixture("images/con-dau-do.png")
}

/// Puts each appearance on its page as a printable stamp annotation (the PAdES writer makes
/// signature widgets instead; the appearance stream is the same).
fn annotate(inc: &mut IncrementalDocument, placed: &[PlacedAppearance]) {
    for p in placed {
        let mut ap = Dictionary::new();
        ap.set("N", Object::Reference(p.normal));
        let mut annot = Dictionary::new();
        annot.set("Type", Object::Name(b"Annot".to_vec()));
        annot.set("Subtype", Object::Name(b"Stamp".to_vec()));
        annot.set(
            "Rect",
            Object::Array(p.rect.iter().map(|v| Object::Real(*v)).collect()),
        );
        annot.set("F", 4);
        annot.set("P", Object::Reference(p.page));
        annot.set("AP", ap);
        let annot_id = inc.new_document.add_object(annot);
        inc.opt_clone_object_to_new_document(p.page).unwrap();
        let existing = {
            let page = inc.new_document.get_dictionary(p.page).unwrap();
            match page.get(b"Annots") {
                Ok(Object::Array(a)) => a.clone(),
                Ok(Object::Reference(id)) => inc
                    .get_prev_documents()
                    .get_object(*id)
                    .and_then(Object::as_array)
                    .cloned()
                    .unwrap_or_default(),
                _ => Vec::new(),
            }
        };
        let mut annots = existing;
        annots.push(Object::Reference(annot_id));
        let page = inc.new_document.get_object_mut(p.page).unwrap();
        page.as_dict_mut()
            .unwrap()
            .set("Annots", Object::Array(annots));
    }
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd} is needed for this test (poppler-utils, qpdf): {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// Adds the spec as a new revision, saves it and checks it with qpdf and pdffonts. Answers the
/// path of the saved file.
fn sign_visibly(name: &str, src: &str, spec: &AppearanceSpec) -> (PathBuf, Vec<PlacedAppearance>) {
    let original = fixture(src);
    let mut inc = IncrementalDocument::load_from(&original[..]).unwrap();
    let placed = add_appearances(&mut inc, spec).unwrap();
    annotate(&mut inc, &placed);
    let mut out = Vec::new();
    inc.save_to(&mut out).unwrap();
    assert!(
        out.starts_with(&original),
        "an incremental update keeps the original bytes"
    );
    let path = artifacts().join(format!("{name}.pdf"));
    std::fs::write(&path, &out).unwrap();
    let p = path.to_str().unwrap();

    let check = run("qpdf", &["--check", p]);
    assert!(
        check.contains("No syntax or stream encoding errors"),
        "{check}"
    );
    let draws_text =
        !spec.appendices.is_empty() || spec.visible.as_ref().is_some_and(|v| !v.lines.is_empty());
    if !draws_text {
        return (path, placed);
    }
    let fonts = run("pdffonts", &[p]);
    let ours = fonts
        .lines()
        .find(|l| l.contains("+LiberationSerif ") && l.contains("CID TrueType"))
        .unwrap_or_else(|| panic!("our font is not listed:\n{fonts}"));
    // pdffonts names a Type0 font by its descendant's type: "CID TrueType".
    let cols = ours.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        cols.contains("CID TrueType Identity-H yes yes yes"),
        "embedded, subset, ToUnicode: {ours}"
    );
    (path, placed)
}

fn page_text(path: &Path, page: u32) -> String {
    let p = page.to_string();
    run(
        "pdftotext",
        &["-f", &p, "-l", &p, "-layout", path.to_str().unwrap(), "-"],
    )
}

fn render(pdf: &Path, page: u32, stem: &Path) -> PathBuf {
    let p = page.to_string();
    run(
        "pdftoppm",
        &[
            "-r",
            "50",
            "-png",
            "-singlefile",
            "-f",
            &p,
            "-l",
            &p,
            pdf.to_str().unwrap(),
            stem.to_str().unwrap(),
        ],
    );
    stem.with_extension("png")
}

/// Pixels that differ by more than 64 in some channel, and the limit the comparison allows
/// (0.05 % of the page: anti-aliasing may change between poppler versions, a missing image or
/// a moved seal changes thousands of pixels).
fn differing_pixels(a: &Path, b: &Path) -> (usize, usize) {
    let (aw, ah, a_px) = decode_rgb(a);
    let (bw, bh, b_px) = decode_rgb(b);
    assert_eq!(
        (aw, ah),
        (bw, bh),
        "{} and {} differ in size",
        a.display(),
        b.display()
    );
    let differing = a_px
        .chunks(3)
        .zip(b_px.chunks(3))
        .filter(|(x, y)| x.iter().zip(y.iter()).any(|(p, q)| p.abs_diff(*q) > 64))
        .count();
    (differing, (aw * ah) as usize / 2000)
}

/// Renders `page` at 50 dpi and compares it with the reference picture; the page as it was
/// before signing must NOT pass the same comparison.
fn compare_with_reference(path: &Path, original: &str, page: u32, reference: &str) {
    let dir = artifacts();
    let stem = reference.trim_end_matches(".png");
    let rendered = render(path, page, &dir.join(stem));
    let reference_path = Path::new(MANIFEST).join("tests/reference").join(reference);
    if std::env::var_os("TESSERA_UPDATE_REFERENCE").is_some() {
        std::fs::copy(&rendered, &reference_path).unwrap();
    }
    let (differing, limit) = differing_pixels(&rendered, &reference_path);
    assert!(
        differing <= limit,
        "{differing} pixels differ from {reference} (limit {limit}); see {}",
        rendered.display()
    );
    let unsigned = render(
        &Path::new(MANIFEST)
            .join("tests/fixtures/pdf")
            .join(original),
        page,
        &dir.join(format!("{stem}-unsigned")),
    );
    let (differing, limit) = differing_pixels(&unsigned, &reference_path);
    assert!(
        differing > 2 * limit,
        "the unsigned page is too close to {reference}: {differing}"
    );
    eprintln!("{reference}: unsigned page differs in {differing} pixels (limit {limit})");
}

fn decode_rgb(path: &Path) -> (u32, u32, Vec<u8>) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (TESSERA_UPDATE_REFERENCE=1 makes it)",
            path.display()
        )
    });
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let rgb = buf[..info.buffer_size()]
        .chunks(channels)
        .flat_map(|px| match px.len() {
            1 | 2 => [px[0], px[0], px[0]],
            _ => [px[0], px[1], px[2]],
        })
        .collect();
    (info.width, info.height, rgb)
}

fn official_and_seal(anchor: &str, lines: Vec<String>) -> AppearanceSpec {
    AppearanceSpec {
        visible: Some(Visible {
            placement: Placement::Anchor {
                text: anchor.into(),
                page: None,
            },
            signature_image: Some(signature_png()),
            seal: Some(Seal {
                png: seal_png(),
                diameter_mm: DEFAULT_SEAL_DIAMETER_MM,
            }),
            lines,
            text_size: 8.0,
        }),
        appendices: Vec::new(),
    }
}

#[test]
fn anchors_are_found_in_every_fixture() {
    let cases = [
        ("quyet-dinh-libreoffice.pdf", "Phạm Đức Minh", 2),
        ("quyet-dinh-objstm.pdf", "Phạm Đức Minh", 2),
        ("quyet-dinh-linearized.pdf", "Phạm Đức Minh", 2),
        ("cong-van-reportlab.pdf", "Nguyễn Thị Thu Hà", 1),
        ("phu-luc-ghostscript.pdf", "PHỤ LỤC (tiếp theo)", 3),
        (
            "phu-luc-ghostscript.pdf",
            "Kèm theo Quyết định số 123/QĐ-UBND",
            1,
        ),
    ];
    for (file, text, page) in cases {
        let doc = lopdf::Document::load_mem(&fixture(file)).unwrap();
        let m = anchor::find_text(&doc, text, None)
            .unwrap()
            .unwrap_or_else(|| panic!("{text:?} not found in {file}"));
        assert_eq!(m.page, page, "{file}");
        assert!(m.rect[2] - m.rect[0] > 30.0, "{file}: {m:?}");
    }
    let doc = lopdf::Document::load_mem(&fixture("quyet-dinh-libreoffice.pdf")).unwrap();
    let m = anchor::find_text(&doc, "Phạm Đức Minh", Some(2))
        .unwrap()
        .unwrap();
    // The name line is drawn at y 241.6 in 14 pt (README of the fixtures).
    assert!((m.baseline - 241.589).abs() < 0.1, "{m:?}");
    let glyphs = anchor::page_glyphs(&doc, m.page_id).unwrap();
    let area = anchor::area_above(&glyphs, &m, 170.0);
    // About x 322–508, y 252–344 by the fixture's README.
    for (got, want) in area.iter().zip([322.0, 252.0, 508.0, 344.0]) {
        assert!((got - want).abs() < 20.0, "area {area:?}");
    }
    assert!(
        anchor::find_text(&doc, "Không có dòng này", None)
            .unwrap()
            .is_none()
    );
}

#[test]
fn decision_signed_with_signature_and_seal_above_the_name() {
    for (name, file) in [
        ("quyet-dinh-libreoffice", "quyet-dinh-libreoffice.pdf"),
        ("quyet-dinh-objstm", "quyet-dinh-objstm.pdf"),
        ("quyet-dinh-linearized", "quyet-dinh-linearized.pdf"),
    ] {
        let spec = official_and_seal(
            "Phạm Đức Minh",
            vec![format!("Ký số: {}", vietnam_time(SIGNED_AT))],
        );
        let (path, placed) = sign_visibly(name, file, &spec);
        assert_eq!(placed.len(), 1);
        let text = page_text(&path, 2);
        assert!(
            text.contains("Ký số: 2024-03-15T09:30:00+07:00"),
            "{name}: {text}"
        );
        compare_with_reference(&path, file, 2, "quyet-dinh-page2.png");
    }
}

#[test]
fn official_letter_signed_above_the_name() {
    let spec = official_and_seal("Nguyễn Thị Thu Hà", vec!["Nguyễn Thị Thu Hà".into()]);
    let (path, _) = sign_visibly("cong-van-reportlab", "cong-van-reportlab.pdf", &spec);
    let text = page_text(&path, 1);
    assert_eq!(text.matches("Nguyễn Thị Thu Hà").count(), 2, "{text}");
    compare_with_reference(&path, "cong-van-reportlab.pdf", 1, "cong-van-page1.png");
}

#[test]
fn appendix_gets_number_and_time_at_the_top_right() {
    let spec = AppearanceSpec {
        visible: None,
        appendices: vec![AppendixStamp {
            page: 1,
            doc_number: "123/QĐ-UBND".into(),
            signing_time: SIGNED_AT,
        }],
    };
    let (path, placed) = sign_visibly("phu-luc-ghostscript", "phu-luc-ghostscript.pdf", &spec);
    let [x0, y0, x1, y1] = placed[0].rect;
    assert!(
        x1 > 500.0 && x1 < 560.0 && y1 > 780.0 && x0 > 350.0 && y0 > 740.0,
        "{:?}",
        placed[0].rect
    );
    let text = page_text(&path, 1);
    assert!(text.contains("123/QĐ-UBND"), "{text}");
    assert!(text.contains("2024-03-15T09:30:00+07:00"), "{text}");
    compare_with_reference(&path, "phu-luc-ghostscript.pdf", 1, "phu-luc-page1.png");
}

#[test]
fn explicit_rectangle_and_bad_input() {
    let spec = AppearanceSpec {
        visible: Some(Visible {
            placement: Placement::Rect {
                page: 2,
                rect: [322.0, 252.0, 508.0, 344.0],
            },
            signature_image: Some(signature_png()),
            seal: None,
            lines: vec!["Phạm Đức Minh".into()],
            text_size: 9.0,
        }),
        appendices: Vec::new(),
    };
    let (path, placed) = sign_visibly("rect", "quyet-dinh-libreoffice.pdf", &spec);
    let r = placed[0].rect;
    assert!(
        r[0] >= 322.0 && r[2] <= 508.0 && r[1] >= 252.0 && r[3] <= 344.0,
        "{r:?}"
    );
    assert_eq!(page_text(&path, 2).matches("Phạm Đức Minh").count(), 2);

    let mut inc =
        IncrementalDocument::load_from(&fixture("quyet-dinh-libreoffice.pdf")[..]).unwrap();
    let mut bad = spec.clone();
    if let Some(v) = bad.visible.as_mut() {
        v.signature_image = Some(b"\xff\xd8\xff\xe0 JPEG".to_vec());
    }
    let e = add_appearances(&mut inc, &bad).unwrap_err();
    assert!(
        matches!(e, FormatError::Invalid(_)) && e.to_string().contains("not a PNG"),
        "{e}"
    );
    let missing = official_and_seal("Trần Văn Không", Vec::new());
    let e = add_appearances(&mut inc, &missing).unwrap_err();
    assert!(e.to_string().contains("not found"), "{e}");
    let mut page9 = spec.clone();
    if let Some(v) = page9.visible.as_mut() {
        v.placement = Placement::Rect {
            page: 9,
            rect: [0.0, 0.0, 10.0, 10.0],
        };
    }
    let e = add_appearances(&mut inc, &page9).unwrap_err();
    assert!(e.to_string().contains("page 9"), "{e}");
}

#[test]
fn appendix_stamp_stays_upright_on_a_rotated_page() {
    let original = fixture("phu-luc-ghostscript.pdf");
    let mut inc = IncrementalDocument::load_from(&original[..]).unwrap();
    let page = *inc.get_prev_documents().get_pages().get(&1).unwrap();
    inc.opt_clone_object_to_new_document(page).unwrap();
    inc.new_document
        .get_object_mut(page)
        .unwrap()
        .as_dict_mut()
        .unwrap()
        .set("Rotate", 90);
    // The new revision's page is what the stamp is laid out on.
    let mut bytes = Vec::new();
    inc.save_to(&mut bytes).unwrap();
    let mut inc = IncrementalDocument::load_from(&bytes[..]).unwrap();
    let spec = AppearanceSpec {
        visible: None,
        appendices: vec![AppendixStamp {
            page: 1,
            doc_number: "123/QĐ-UBND".into(),
            signing_time: SIGNED_AT,
        }],
    };
    let placed = add_appearances(&mut inc, &spec).unwrap();
    // Displayed top right of a page turned 90° clockwise is the top LEFT of its user space,
    // and the stamp is taller than wide there.
    let [x0, y0, x1, y1] = placed[0].rect;
    assert!(x0 < 70.0 && y1 > 700.0, "{:?}", placed[0].rect);
    assert!(y1 - y0 > x1 - x0, "{:?}", placed[0].rect);
    annotate(&mut inc, &placed);
    let mut out = Vec::new();
    inc.save_to(&mut out).unwrap();
    let path = artifacts().join("phu-luc-rotated.pdf");
    std::fs::write(&path, &out).unwrap();
    let text = page_text(&path, 1);
    assert!(text.contains("123/QĐ-UBND"), "{text}");
    assert!(text.contains("2024-03-15T09:30:00+07:00"), "{text}");
    let rendered = render(&path, 1, &artifacts().join("phu-luc-rotated-page1"));
    let (w, h, _) = decode_rgb(&rendered);
    assert!(w > h, "the page is displayed in landscape");
}

/// Decree 30's usual order: the official signs with the handwritten image, then the clerk signs
/// for the organisation with the seal, which finds the official's image in the earlier revision
/// and covers its left third.
#[test]
fn seal_signed_later_covers_the_left_third_of_the_officials_image() {
    let anchor = Placement::Anchor {
        text: "Phạm Đức Minh".into(),
        page: Some(2),
    };
    let official = AppearanceSpec {
        visible: Some(Visible {
            placement: anchor.clone(),
            signature_image: Some(signature_png()),
            seal: None,
            lines: Vec::new(),
            text_size: 8.0,
        }),
        appendices: Vec::new(),
    };
    let (first, placed) = sign_visibly("two-revisions-1", "quyet-dinh-libreoffice.pdf", &official);
    let image = placed[0].rect;

    let bytes = std::fs::read(&first).unwrap();
    let mut inc = IncrementalDocument::load_from(&bytes[..]).unwrap();
    let organisation = AppearanceSpec {
        visible: Some(Visible {
            placement: anchor,
            signature_image: None,
            seal: Some(Seal {
                png: seal_png(),
                diameter_mm: DEFAULT_SEAL_DIAMETER_MM,
            }),
            lines: Vec::new(),
            text_size: 8.0,
        }),
        appendices: Vec::new(),
    };
    let placed = add_appearances(&mut inc, &organisation).unwrap();
    let seal = placed[0].rect;
    let third = image[0] + (image[2] - image[0]) / 3.0;
    assert!(
        (seal[2] - third).abs() < 0.5,
        "seal {seal:?} image {image:?}"
    );
    let centre = |r: [f32; 4]| (r[1] + r[3]) / 2.0;
    assert!(
        (centre(seal) - centre(image)).abs() < 0.5,
        "seal {seal:?} image {image:?}"
    );
    assert!((seal[2] - seal[0] - DEFAULT_SEAL_DIAMETER_MM * 72.0 / 25.4).abs() < 0.5);
    annotate(&mut inc, &placed);
    let mut out = Vec::new();
    inc.save_to(&mut out).unwrap();
    assert!(out.starts_with(&bytes));
    let path = artifacts().join("two-revisions-2.pdf");
    std::fs::write(&path, &out).unwrap();
    let check = run("qpdf", &["--check", path.to_str().unwrap()]);
    assert!(
        check.contains("No syntax or stream encoding errors"),
        "{check}"
    );
    compare_with_reference(
        &path,
        "quyet-dinh-libreoffice.pdf",
        2,
        "two-revisions-page2.png",
    );
}
