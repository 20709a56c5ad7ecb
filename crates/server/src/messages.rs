//! Messages callers leave in the IVR: the recording is written under the data directory
//! first (so an obligation never points at nothing), then the message becomes an
//! obligation for its owner (P1: called back within two working days), whose topic names
//! the file and its length.

use std::path::PathBuf;

use pbx::RecordedMessage;
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

pub(crate) async fn run(mut rx: mpsc::UnboundedReceiver<RecordedMessage>, ledger: LedgerHandle, dir: PathBuf) {
    while let Some(m) = rx.recv().await {
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
