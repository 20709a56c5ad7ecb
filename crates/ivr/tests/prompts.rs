//! The committed prompt set (scripts/make-prompts.sh) has every prompt the read-outs and
//! the demo menus use, as 8 kHz mono 16-bit WAV with sound in it.

use std::path::PathBuf;

fn prompts(lang: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../prompts").join(lang)
}

fn check(lang: &str, name: &str) {
    let path = prompts(lang).join(format!("{name}.wav"));
    let reader = hound::WavReader::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = reader.spec();
    assert_eq!((spec.sample_rate, spec.channels, spec.bits_per_sample), (8000, 1, 16), "{}", path.display());
    let samples: Vec<i16> = reader.into_samples::<i16>().map(|s| s.expect("sample")).collect();
    assert!(samples.len() > 1600, "{} is shorter than 0.2 s", path.display());
    let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    assert!(peak > 8000, "{} is nearly silent (peak {peak})", path.display());
}

#[test]
fn every_danish_read_out_prompt_exists() {
    for name in ivr::speech::all_prompt_names() {
        check("da", &name);
    }
}

#[test]
fn the_demo_menus_have_their_prompts_in_both_languages() {
    for name in ["velkommen", "hovedmenu", "borgerservice-menu", "udbetaling-danmark", "ugyldigt-valg", "lukket"] {
        check("da", name);
    }
    for name in ["welcome", "main-menu", "invalid", "closed"] {
        check("en", name);
    }
}
