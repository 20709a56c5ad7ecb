//! svar's SDP reader and the anchoring edit on arbitrary bodies: they never panic, and a
//! body svar anchors reads back as a stream at svar's own address.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sdp::Codec;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else { return };
    let codecs = [Codec::Pcmu, Codec::Pcma];
    let local = "192.0.2.1:40000".parse().expect("addr");
    let Ok(parsed) = sdp::parse(body) else { return };
    let _ = sdp::stream_of(&parsed, &codecs);
    if let Ok(anchored) = sdp::anchor_parsed(&parsed, body, local, &codecs) {
        let again = sdp::stream(&anchored, &codecs).expect("an anchored body reads back");
        assert_eq!(again.remote, local, "the anchored stream is at svar's address");
    }
});
