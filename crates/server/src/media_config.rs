//! `[media]`: anchored RTP. On by default: svar is in every call's audio path, so it can
//! play prompts, hear keys, record messages and end dead calls. `anchor = false` lets
//! RTP flow phone to phone (SDP passes untouched), as PBXs call "direct media".

use std::net::IpAddr;
use std::time::Duration;

use pbx::MediaSettings;
use sdp::Codec;
use serde::Deserialize;

/// `[media]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMedia {
    /// Anchor media through svar (default true).
    pub(crate) anchor: Option<bool>,
    /// Address written into SDP (default: `server.advertise`).
    pub(crate) ip: Option<String>,
    /// Address RTP ports are bound on (default: the SIP address's IP).
    pub(crate) bind: Option<String>,
    /// RTP port range `[first, last]` (default 20000–39999).
    pub(crate) ports: Option<[u16; 2]>,
    /// Seconds without RTP from an answered leg that end the call (default 60).
    pub(crate) timeout_s: Option<u64>,
    /// Codecs in svar's order of preference (default `["PCMA", "PCMU"]`).
    pub(crate) codecs: Option<Vec<String>>,
    /// WAV file played to a caller on hold (default `prompts/music-on-hold.wav` when it
    /// exists where svar runs; `""` for silence).
    pub(crate) music_on_hold: Option<String>,
}

/// The validated `[media]`.
#[derive(Debug, Clone)]
pub(crate) struct Media {
    /// For call control.
    pub(crate) settings: MediaSettings,
    /// Where RTP sockets are bound.
    pub(crate) bind: IpAddr,
    /// Music on hold: the file, and whether it was asked for (a missing default is fine).
    pub(crate) music_on_hold: Option<(std::path::PathBuf, bool)>,
}

pub(crate) fn validate(
    raw: Option<&RawMedia>,
    advertise: Option<IpAddr>,
    sip_ip: Option<IpAddr>,
    errs: &mut Vec<String>,
) -> Option<Media> {
    let default = RawMedia::default();
    let r = raw.unwrap_or(&default);
    if r.anchor == Some(false) {
        return None;
    }
    let ip = match &r.ip {
        Some(s) => s.parse::<IpAddr>().map_err(|_| errs.push(format!("media.ip: {s:?} is not an IP address"))).ok(),
        None => advertise,
    };
    let bind = match &r.bind {
        Some(s) => s.parse::<IpAddr>().map_err(|_| errs.push(format!("media.bind: {s:?} is not an IP address"))).ok(),
        None => sip_ip,
    };
    let [first, last] = r.ports.unwrap_or([20_000, 39_999]);
    // a call takes a block of four ports: RTP and RTCP for each leg, from an even port
    if first < 1024 || u32::from(first) + u32::from(first % 2) + 3 > u32::from(last) {
        errs.push(format!(
            "media.ports: [{first}, {last}] must be a range above 1023 holding at least one block of four ports (RTP and RTCP for each leg of a call)"
        ));
    }
    let timeout = r.timeout_s.unwrap_or(60);
    if timeout < 5 {
        errs.push(format!(
            "media.timeout_s: {timeout} is too short (at least 5 s; RTP pauses during hold and re-INVITEs)"
        ));
    }
    let mut codecs = Vec::new();
    for c in r.codecs.clone().unwrap_or_else(|| vec!["PCMA".into(), "PCMU".into()]) {
        match c.to_ascii_uppercase().as_str() {
            "PCMA" => codecs.push(Codec::Pcma),
            "PCMU" => codecs.push(Codec::Pcmu),
            other => errs.push(format!("media.codecs: {other:?} is not a codec svar speaks (PCMA, PCMU)")),
        }
    }
    if codecs.is_empty() {
        errs.push("media.codecs: at least one codec".into());
    }
    Some(Media {
        settings: MediaSettings {
            ip: ip?,
            first_port: first,
            last_port: last,
            timeout: Duration::from_secs(timeout),
            codecs,
            dtmf_payload_type: 101,
            music_on_hold: None,
        },
        bind: bind?,
        music_on_hold: match r.music_on_hold.as_deref() {
            Some("") => None,
            Some(p) => Some((p.into(), true)),
            None => Some(("prompts/music-on-hold.wav".into(), false)),
        },
    })
}

/// Load music on hold for `serve`: an explicitly named file must be there and be WAV;
/// the default file is used when present.
///
/// # Errors
/// A named file is missing or not WAV.
pub(crate) fn load_music_on_hold(m: &Media) -> Result<Option<media::prompt::Prompt>, String> {
    let Some((path, asked)) = &m.music_on_hold else { return Ok(None) };
    match std::fs::read(path) {
        Ok(bytes) => media::prompt::Prompt::from_wav(&bytes)
            .map(Some)
            .map_err(|e| format!("media.music_on_hold: {}: {e}", path.display())),
        Err(_) if !asked => Ok(None),
        Err(e) => Err(format!("media.music_on_hold: {}: {e}", path.display())),
    }
}
