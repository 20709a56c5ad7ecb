//! G.711 µ-law and A-law by table. Decoding is one lookup in a 256-entry table; encoding
//! one lookup in a table indexed by the sample's significant bits (14 for µ-law, 13 for
//! A-law, as G.711 quantises them); transcoding one lookup. All tables are computed at
//! compile time from the segment rules of ITU-T G.711.

const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 32_635;

/// µ-law encoding of one sample by the segment rule of G.711 (for building the table).
/// G.711 quantises 14 bits: the magnitude is taken as the one's complement of a negative
/// sample shifted right by two (as the ITU's reference code does), biased by 33.
const fn ulaw_encode_rule(sample: i32) -> u8 {
    let (sign, mut magnitude) = if sample < 0 { (0x80, (!sample) >> 2) } else { (0x00, sample >> 2) };
    if magnitude > (ULAW_CLIP >> 2) {
        magnitude = ULAW_CLIP >> 2;
    }
    magnitude += ULAW_BIAS >> 2;
    // The segment is the position of the highest set bit above bit 5.
    let mut exponent = 7;
    while exponent > 0 && magnitude & (0x20 << exponent) == 0 {
        exponent -= 1;
    }
    let mantissa = (magnitude >> (exponent + 1)) & 0x0F;
    !(sign | (exponent << 4) | mantissa) as u8
}

const fn ulaw_decode_rule(code: u8) -> i16 {
    let c = !code;
    let exponent = ((c >> 4) & 0x07) as i32;
    let mantissa = (c & 0x0F) as i32;
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    (if c & 0x80 != 0 { -magnitude } else { magnitude }) as i16
}

/// A-law encoding of a 13-bit magnitude with sign (G.711 §A: even bits inverted).
const fn alaw_encode_rule(sample: i32) -> u8 {
    let (sign, magnitude) = if sample >= 0 { (0x80, sample >> 3) } else { (0x00, (-sample - 1) >> 3) };
    let code = if magnitude < 32 {
        magnitude >> 1
    } else {
        let mut segment = 1;
        while segment < 7 && magnitude >= (32 << segment) {
            segment += 1;
        }
        (segment << 4) | ((magnitude >> segment) & 0x0F)
    };
    ((sign | code) ^ 0x55) as u8
}

const fn alaw_decode_rule(code: u8) -> i16 {
    let c = (code ^ 0x55) as i32;
    let segment = (c >> 4) & 0x07;
    let mantissa = c & 0x0F;
    let magnitude = if segment == 0 { (mantissa << 4) + 8 } else { ((mantissa << 4) + 0x108) << (segment - 1) };
    (if c & 0x80 != 0 { magnitude } else { -magnitude }) as i16
}

const fn build_ulaw_decode() -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = ulaw_decode_rule(i as u8);
        i += 1;
    }
    t
}

const fn build_alaw_decode() -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = alaw_decode_rule(i as u8);
        i += 1;
    }
    t
}

/// µ-law: index = sample >> 2 (14 significant bits), offset to be non-negative.
const fn build_ulaw_encode() -> [u8; 16_384] {
    let mut t = [0u8; 16_384];
    let mut i = 0;
    while i < 16_384 {
        t[i] = ulaw_encode_rule(((i as i32) - 8192) << 2);
        i += 1;
    }
    t
}

/// A-law: index = sample >> 3 (13 significant bits), offset to be non-negative.
const fn build_alaw_encode() -> [u8; 8192] {
    let mut t = [0u8; 8192];
    let mut i = 0;
    while i < 8192 {
        t[i] = alaw_encode_rule(((i as i32) - 4096) << 3);
        i += 1;
    }
    t
}

static ULAW_DECODE: [i16; 256] = build_ulaw_decode();
static ALAW_DECODE: [i16; 256] = build_alaw_decode();
static ULAW_ENCODE: [u8; 16_384] = build_ulaw_encode();
static ALAW_ENCODE: [u8; 8192] = build_alaw_encode();

const fn build_ulaw_to_alaw() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = alaw_encode_rule(ulaw_decode_rule(i as u8) as i32);
        i += 1;
    }
    t
}

const fn build_alaw_to_ulaw() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = ulaw_encode_rule(alaw_decode_rule(i as u8) as i32);
        i += 1;
    }
    t
}

static ULAW_TO_ALAW: [u8; 256] = build_ulaw_to_alaw();
static ALAW_TO_ULAW: [u8; 256] = build_alaw_to_ulaw();

/// One µ-law code from a 16-bit linear sample.
#[must_use]
pub fn ulaw_encode(sample: i16) -> u8 {
    ULAW_ENCODE[((i32::from(sample) >> 2) + 8192) as usize]
}

/// The linear sample of a µ-law code.
#[must_use]
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_DECODE[usize::from(code)]
}

/// One A-law code from a 16-bit linear sample.
#[must_use]
pub fn alaw_encode(sample: i16) -> u8 {
    ALAW_ENCODE[((i32::from(sample) >> 3) + 4096) as usize]
}

/// The linear sample of an A-law code.
#[must_use]
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_DECODE[usize::from(code)]
}

/// One µ-law code as A-law.
#[must_use]
pub fn ulaw_to_alaw_byte(code: u8) -> u8 {
    ULAW_TO_ALAW[usize::from(code)]
}

/// One A-law code as µ-law.
#[must_use]
pub fn alaw_to_ulaw_byte(code: u8) -> u8 {
    ALAW_TO_ULAW[usize::from(code)]
}

/// Transcode µ-law to A-law in place (one lookup per byte).
pub fn ulaw_to_alaw(payload: &mut [u8]) {
    for b in payload {
        *b = ULAW_TO_ALAW[usize::from(*b)];
    }
}

/// Transcode A-law to µ-law in place.
pub fn alaw_to_ulaw(payload: &mut [u8]) {
    for b in payload {
        *b = ALAW_TO_ULAW[usize::from(*b)];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_of_g711() {
        // Silence: µ-law 0xFF (and 0x7F), A-law 0xD5 (and 0x55).
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        // Full scale.
        assert_eq!(ulaw_decode(0x80), 32_124);
        assert_eq!(ulaw_decode(0x00), -32_124);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(alaw_decode(0xAA), 32_256);
        assert_eq!(alaw_decode(0x2A), -32_256);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
    }

    #[test]
    fn every_code_survives_decode_then_encode() {
        for code in 0..=255u8 {
            let u = ulaw_decode(code);
            // 0x7F and 0xFF both mean zero; encoding picks the positive one.
            let back = ulaw_encode(u);
            assert!(back == code || (u == 0 && back == 0xFF), "µ-law {code:#04x} -> {u} -> {back:#04x}");
            let a = alaw_decode(code);
            assert_eq!(alaw_encode(a), code, "A-law {code:#04x} -> {a}");
        }
    }

    #[test]
    fn quantisation_error_stays_within_one_step() {
        for s in (i16::MIN..=i16::MAX).step_by(7) {
            let x = i32::from(s);
            for (name, decoded, step) in [
                ("µ", i32::from(ulaw_decode(ulaw_encode(s))), ulaw_step(x)),
                ("A", i32::from(alaw_decode(alaw_encode(s))), alaw_step(x)),
            ] {
                assert!((decoded - x).abs() <= step, "{name}-law {x} -> {decoded} (step {step})");
            }
        }
    }

    fn ulaw_step(x: i32) -> i32 {
        // Segment n has steps of 2^(n+3); at clipping the error grows to the clip distance.
        let m = x.abs().min(ULAW_CLIP) + ULAW_BIAS;
        let seg = (31 - m.leading_zeros() as i32 - 7).clamp(0, 7);
        (1 << (seg + 3)) + (x.abs() - ULAW_CLIP).max(0)
    }

    fn alaw_step(x: i32) -> i32 {
        let m = x.abs() >> 4;
        let seg = if m < 32 { 1 } else { 32 - m.leading_zeros() as i32 - 4 };
        (1 << (seg + 3)) + (x.abs() - 32_256).max(0)
    }

    #[test]
    fn transcoding_keeps_the_sound() {
        for code in 0..=255u8 {
            let mut b = [code];
            ulaw_to_alaw(&mut b);
            let (orig, via) = (i32::from(ulaw_decode(code)), i32::from(alaw_decode(b[0])));
            assert!((orig - via).abs() <= alaw_step(orig), "µ {code:#04x}: {orig} became {via}");
            let mut b = [code];
            alaw_to_ulaw(&mut b);
            let (orig, via) = (i32::from(alaw_decode(code)), i32::from(ulaw_decode(b[0])));
            assert!((orig - via).abs() <= ulaw_step(orig), "A {code:#04x}: {orig} became {via}");
        }
    }
}
