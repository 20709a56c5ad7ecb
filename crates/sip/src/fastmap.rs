//! Hash maps on the message path. std's SipHash showed up in profiles of the SIP thread;
//! foldhash is several times faster. It is seeded from the engine's seed (an input, as
//! the guide wants): an attacker who does not know the seed cannot aim Call-IDs or
//! branches at one bucket.

use std::collections::HashMap;

use foldhash::fast::FixedState;

/// A hash map keyed by peer-chosen strings, with a seeded fast hasher.
pub type FastMap<K, V> = HashMap<K, V, FixedState>;

/// An empty map hashing with `seed`.
#[must_use]
pub fn fast_map<K, V>(seed: u64) -> FastMap<K, V> {
    HashMap::with_hasher(FixedState::with_seed(seed))
}
