//! A small deterministic generator for branches, tags and Call-IDs. The engine takes a
//! seed as input (never OS randomness), so simulations replay exactly; the server seeds
//! it from the OS. Uniqueness, not secrecy, is required here: nonces are keyed separately.

/// SplitMix64 (Steele, Lea, Flood 2014).
#[derive(Debug, Clone)]
pub struct IdGen {
    state: u64,
}

impl IdGen {
    /// A generator from a seed.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A Via branch with the RFC 3261 magic cookie.
    pub fn branch(&mut self) -> String {
        let mut out = String::with_capacity(sip_msg::BRANCH_MAGIC.len() + 16);
        out.push_str(sip_msg::BRANCH_MAGIC);
        push_hex(&mut out, self.next_u64(), 16);
        out
    }

    /// A From/To tag.
    pub fn tag(&mut self) -> String {
        let mut out = String::with_capacity(12);
        push_hex(&mut out, self.next_u64(), 12);
        out
    }

    /// A Call-ID local part.
    pub fn call_id(&mut self) -> String {
        let mut out = String::with_capacity(24 + 5);
        push_hex(&mut out, self.next_u64(), 16);
        push_hex(&mut out, self.next_u64(), 8);
        out
    }
}

/// Append the low `digits` hex digits of `v`, lower case, zero-padded. Several ids are
/// made per call; `format!("{:016x}")` went through the formatter's padding logic.
pub fn push_hex(out: &mut String, v: u64, digits: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..digits).rev() {
        out.push(char::from(HEX[((v >> (4 * i)) & 0xf) as usize]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_fixed_width_lower_hex_as_formatted() {
        let mut g = IdGen::new(7);
        let mut reference = g.clone();
        let v = reference.next_u64();
        assert_eq!(g.branch(), format!("{}{v:016x}", sip_msg::BRANCH_MAGIC));
        let v = reference.next_u64();
        assert_eq!(g.tag(), format!("{:012x}", v & 0xffff_ffff_ffff));
        let (a, b) = (reference.next_u64(), reference.next_u64());
        assert_eq!(g.call_id(), format!("{a:016x}{:08x}", b as u32));
        let mut small = String::new();
        push_hex(&mut small, 0xab, 4);
        assert_eq!(small, "00ab");
    }
}
