//! What the engine benchmarks share: the demo domain, a user with the benchmarks'
//! password, and a PBX configuration with nothing but users (and media when anchored).

use std::net::SocketAddr;
use std::time::Duration;

use pbx::MediaSettings;
use pbx::config::{PbxConfig, User};
use sip::Transport;
use sip::digest::Credentials;
use sip::registrar::RegistrarConfig;

pub(crate) const DOMAIN: &str = "egeskov.example";
pub(crate) const PASSWORD: &str = "benchpass1";

/// A user of `DOMAIN` with extension `ext` and the password `PASSWORD`.
pub(crate) fn user(ext: &str) -> User {
    User {
        credentials: Credentials::from_password(ext, DOMAIN, PASSWORD),
        extension: ext.into(),
        display: String::new(),
        caller_id: None,
    }
}

/// svar at `svar` with these users, no trunks, routes or IVR.
pub(crate) fn config(svar: SocketAddr, users: Vec<User>, media: Option<MediaSettings>) -> PbxConfig {
    PbxConfig {
        domain: DOMAIN.into(),
        users,
        trunks: vec![],
        dids: vec![],
        routes: vec![],
        ring_timeout: Duration::from_secs(30),
        registrar: RegistrarConfig::default(),
        contact_addrs: vec![(Transport::Udp, svar)],
        drain_retry_after: 60,
        media,
        ivr: None,
        ivr_numbers: vec![],
        record_conversations: false,
        user_index: sip::fastmap::FastMap::default(),
    }
    .index()
}
