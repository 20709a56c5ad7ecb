//! What svar records, stored under the data directory. Messages callers leave in the IVR:
//! the recording is written first (so an obligation never points at nothing), then the
//! message becomes an obligation for its owner (P1: called back within two working days),
//! whose topic names the file and its length. Conversations recorded with the caller's
//! consent: `recordings/<call>.wav` with `recordings/<call>.json` holding the consent
//! event (DOMAIN.md: the consent is stored with the recording).

use std::path::PathBuf;

use pbx::ivr_setup::{ConsentWithdrawn, ConversationRecording, Recording};
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
            Recording::Withdrawn(w) => {
                store_withdrawal(&data_dir.join("recordings"), w).await;
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
    let consent_at = timestamp(c.consent_ms);
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

/// Unix ms as an RFC 3339 timestamp (empty when out of range).
fn timestamp(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}

/// The caller withdrew consent: no audio is kept, only what happened (the same JSON a
/// recording has, saying it was discarded), so the municipality can show it honoured it.
async fn store_withdrawal(dir: &std::path::Path, w: ConsentWithdrawn) {
    if let Err(e) = tokio::fs::create_dir_all(dir).await {
        error!(dir = %dir.display(), error = %e, "cannot create the recordings directory; withdrawal not stored");
        return;
    }
    let name = file_name(&w.call_id).replace(".wav", ".json");
    let record = serde_json::json!({
        "call_id": w.call_id,
        "caller": w.caller,
        "consent_at": timestamp(w.consent_ms),
        "consent": "key press in the IVR",
        "withdrawn_at": timestamp(w.withdrawn_ms),
        "recording": "discarded: the caller withdrew consent during the call",
    });
    let path = dir.join(&name);
    match tokio::fs::write(&path, record.to_string()).await {
        Ok(()) => info!(file = %name, "consent withdrawn: no recording kept"),
        Err(e) => error!(path = %path.display(), error = %e, "cannot write a consent withdrawal"),
    }
}

/// Retention (DOMAIN.md: svar's copy is deleted by retention, automatically, and the
/// deletion is logged): every recording whose consent is older than `keep` goes, its
/// audio and its consent record together. Returns the call files removed.
pub(crate) async fn prune_recordings(dir: &std::path::Path, now: jiff::Timestamp, keep: std::time::Duration) -> usize {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else { return 0 };
    let Ok(keep) = jiff::SignedDuration::try_from(keep) else { return 0 };
    let mut removed = 0;
    while let Ok(Some(entry)) = entries.next_entry().await {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let Ok(text) = tokio::fs::read_to_string(&path).await else { continue };
        let consent_at = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("consent_at").and_then(|c| c.as_str()).and_then(|c| c.parse::<jiff::Timestamp>().ok()));
        let Some(consent_at) = consent_at else {
            tracing::warn!(path = %path.display(), "recording record without a readable consent time; kept");
            continue;
        };
        if now.duration_since(consent_at) <= keep {
            continue;
        }
        let wav = path.with_extension("wav");
        match tokio::fs::remove_file(&wav).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                error!(path = %wav.display(), error = %e, "retention could not delete a recording; kept with its consent");
                continue;
            }
        }
        if let Err(e) = tokio::fs::remove_file(&path).await {
            error!(path = %path.display(), error = %e, "retention could not delete a consent record");
            continue;
        }
        removed += 1;
        info!(file = %path.file_stem().and_then(|s| s.to_str()).unwrap_or_default(), %consent_at, "recording deleted by retention");
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn retention_deletes_old_recordings_with_their_consent_and_keeps_the_rest() {
        let dir = std::env::temp_dir().join(format!("svar-retention-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let now: jiff::Timestamp = "2026-11-29T12:00:00Z".parse().expect("ts");
        let write = |name: &str, consent_at: &str, wav: bool| {
            let json = serde_json::json!({ "call_id": name, "consent_at": consent_at });
            std::fs::write(dir.join(format!("{name}.json")), json.to_string()).expect("json");
            if wav {
                std::fs::write(dir.join(format!("{name}.wav")), b"RIFF").expect("wav");
            }
        };
        write("old", "2026-10-01T09:00:00Z", true);
        write("withdrawn-old", "2026-10-02T09:00:00Z", false);
        write("recent", "2026-11-20T09:00:00Z", true);
        std::fs::write(dir.join("broken.json"), "{").expect("broken");
        let removed = prune_recordings(&dir, now, std::time::Duration::from_secs(30 * 86_400)).await;
        assert_eq!(removed, 2);
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .expect("read")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf8"))
            .collect();
        left.sort();
        assert_eq!(left, vec!["broken.json", "recent.json", "recent.wav"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
