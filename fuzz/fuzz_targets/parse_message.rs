//! Any bytes: parsing never panics; what parses prints and re-parses to the same message,
//! and the typed views never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_msg::{Message, StreamFrame, parse_datagram, parse_stream, salvage_headers};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(msg)) = parse_datagram(data) {
        let printed = msg.to_bytes();
        let again = parse_datagram(&printed).expect("a printed message parses").expect("not a keep-alive");
        assert_eq!(msg, again, "print/parse round trip changed the message");
        let h = msg.headers();
        let _ = h.vias();
        let _ = h.contacts();
        let _ = h.expires();
        let _ = h.max_forwards();
        if let Message::Request(r) = &msg {
            let _ = r.core();
        }
    }
    if let Ok(StreamFrame::Message { consumed, .. }) = parse_stream(data) {
        assert!(consumed <= data.len());
    }
    let _ = salvage_headers(data);
});
