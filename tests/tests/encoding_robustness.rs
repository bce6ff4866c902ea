//! Every golden fixture, cut short at every length and with bytes flipped,
//! decodes to an error (cut short) or to an error or a value (flipped), and
//! never panics. Decoding uses the same readers as `encoding_golden`.

mod golden_types;

use std::panic::{catch_unwind, AssertUnwindSafe};

use golden_types::cases::*;
use interop_tests::golden;

/// Decodes `bytes` as `spec`; `Err(())` when the decoder panicked.
fn no_panic(
    spec: &Spec,
    enc: ice_proto::encoding::EncodingVersion,
    bytes: &[u8],
) -> Result<bool, ()> {
    catch_unwind(AssertUnwindSafe(|| decode_show(spec, enc, bytes).is_ok())).map_err(|_| ())
}

#[test]
fn cut_short_and_flipped_fixtures_never_panic() {
    let manifest = golden::manifest();
    let specs = cases();
    let mut cuts = 0usize;
    let mut flips = 0usize;
    let mut flipped_ok = 0usize;
    let mut problems = Vec::new();
    // Quiet the default hook: a panic is reported as a problem below.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for case in &manifest {
        let enc = version(case.encoding);
        let hidden;
        let spec = match specs.get(&case.name) {
            Some(s) => s,
            None => {
                hidden = hidden_spec(&case.name);
                &hidden
            }
        };
        let full = case.bytes();
        let label = format!("{} {}", case.name, case.encoding);
        for len in 0..full.len() {
            cuts += 1;
            match no_panic(spec, enc, &full[..len]) {
                Ok(false) => {}
                Ok(true) => problems.push(format!("{label}: cut at {len} decoded without error")),
                Err(()) => problems.push(format!("{label}: cut at {len} panicked")),
            }
        }
        // Every byte of small fixtures, a spread of positions in large ones.
        let stride = (full.len() / 256).max(1);
        for pos in (0..full.len()).step_by(stride) {
            for mask in [0xffu8, 0x01, 0x80, 0x7f] {
                let mut bytes = full.clone();
                bytes[pos] ^= mask;
                flips += 1;
                match no_panic(spec, enc, &bytes) {
                    Ok(ok) => flipped_ok += usize::from(ok),
                    Err(()) => problems.push(format!("{label}: flip {mask:#x} at {pos} panicked")),
                }
            }
        }
    }
    std::panic::set_hook(hook);
    eprintln!(
        "robustness: {} fixtures, {cuts} cut-short inputs (all must fail), {flips} flipped inputs \
         ({flipped_ok} still decoded to some value)",
        manifest.len()
    );
    assert!(cuts > 10_000, "too few cut-short inputs: {cuts}");
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
