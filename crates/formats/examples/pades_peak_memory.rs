//! Signs a PDF with a placeholder CMS (zeros, as large as a real one) to measure time and peak
//! memory of the PAdES update: `/usr/bin/time -v cargo run --release -p tessera-formats
//! --example pades_peak_memory -- IN.pdf OUT.pdf`. The output is written as the original
//! followed by the appended revision; the original is never copied.

use std::io::Write;

use tessera_formats::pdf::{SignOptions, sign_pdf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        return Err("usage: pades_peak_memory IN.pdf OUT.pdf".into());
    };
    let original = std::fs::read(&input)?;
    let started = std::time::Instant::now();
    let update = sign_pdf(
        &original,
        &SignOptions::new("Benchmark", 1_796_305_760),
        None,
        |_| Ok(vec![0x30; 8 * 1024]),
    )?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(&output)?);
    update.write_to(&mut out)?;
    out.flush()?;
    eprintln!(
        "{} bytes in, {} appended, {:?}",
        original.len(),
        update.appended().len(),
        started.elapsed()
    );
    Ok(())
}
