//! What svar records, stored under the data directory. Messages callers leave in the IVR:
//! the recording is written first (so an obligation never points at nothing), then the
//! message becomes an obligation for its owner (P1: called back within two working days),
//! whose topic names the file and its length. Conversations recorded with the caller's
//! consent: `recordings/<call>.wav` with `recordings/<call>.json` holding the consent
//! event (DOMAIN.md: the consent is stored with the recording).

use std::path::PathBuf;

use pbx::ivr_setup::{ConversationRecording, Recording};
use policy::obligation::Source;
use tokio::sync::mpsc;
use tracing::{error, info};

use crate::ledger_service::{Create, LedgerHandle};

/// The file name of a call's message (Call-IDs may hold characters a file name must not).
fn file_name(call_id: &str) -> String {
    let safe: String =
        call_id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect();
    format!("{safe}.wav")
}

pub(crate) async fn run(mut rx: mpsc::UnboundedReceiver<Recording>, ledger: LedgerHandle, data_dir: PathBuf) {
    let dir = data_dir.join("messages");
    while let Some(r) = rx.recv().await {
        let m = match r {
            Recording::Message(m) => m,
            Recording::Conversation(c) => {
                store_conversation(&data_dir.join("recordings"), c).await;
                continue;
            }
        };
        if let Err(e) = tokio::fs::create_dir_all(&dir).await {
            error!(dir = %dir.display(), error = %e, "cannot create the message directory; message not stored");
            continue;
        }
        let name = file_name(&m.call_id);
        let path = dir.join(&name);
        if let Err(e) = tokio::fs::write(&path, &m.wav).await {
            error!(path = %path.display(), error = %e, "cannot write a recorded message");
            continue;
        }
        let owner = match crate::api::parse_owner(&m.owner) {
            Ok(o) => o,
            Err(e) => {
                error!(owner = %m.owner, error = e, "recorded message for an unknown owner");
                continue;
            }
        };
        let new = Create {
            caller: m.caller.clone(),
            owner,
            source: Source::MessageRecorded,
            topic: Some(format!("besked {name} ({} s)", m.length.as_secs())),
            case_ref: None,
        };
        match ledger.create(new, "svar".into()).await {
            Ok((o, fresh)) => info!(obligation = o.id.0, new = fresh, file = %name, "message stored"),
            Err(e) => error!(error = %e, file = %name, "message stored but its obligation was not created"),
        }
    }
}

async fn store_conversation(dir: &std::path::Path, c: ConversationRecording) {
    if let Err(e) = tokio::fs::create_dir_all(dir).await {
        error!(dir = %dir.display(), error = %e, "cannot create the recordings directory; recording not stored");
        return;
    }
    let name = file_name(&c.call_id);
    let wav = dir.join(&name);
    let consent_at = jiff::Timestamp::from_millisecond(c.consent_ms).map(|t| t.to_string()).unwrap_or_default();
    let sidecar = serde_json::json!({
        "call_id": c.call_id,
        "caller": c.caller,
        "consent_at": consent_at,
        "consent": c.consent,
        "length_s": c.length.as_secs_f64(),
        "channels": "left: the caller, right: the employee",
    });
    // the consent first: a recording never exists without it
    let json = dir.join(name.replace(".wav", ".json"));
    if let Err(e) = tokio::fs::write(&json, sidecar.to_string()).await {
        error!(path = %json.display(), error = %e, "cannot write the consent record; recording not stored");
        return;
    }
    match tokio::fs::write(&wav, &c.wav).await {
        Ok(()) => info!(file = %name, length_s = c.length.as_secs(), "conversation recording stored with its consent"),
        Err(e) => error!(path = %wav.display(), error = %e, "cannot write a conversation recording"),
    }
}
