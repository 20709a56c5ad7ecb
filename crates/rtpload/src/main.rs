//! `rtpload`: the media benchmark's load generator. It streams G.711 both ways for a
//! number of calls through a relay and measures loss and the jitter the relay adds.
//!
//! - `rtpload svar --first-port P --calls N ...`: the calls were set up through svar
//!   (by SIPp, with SDP naming this tool's two ports); a fresh svar gives the k-th call
//!   the port pairs `P + 4k` (facing the caller) and `P + 4k + 2` (facing the callee).
//! - `rtpload rtpengine --ng ADDR --calls N ...`: the tool sets up each call itself over
//!   rtpengine's ng protocol and deletes them at the end.
//!
//! Every A side sends from one socket and every B side from another (the relays latch
//! per call, so the shared source is harmless); each packet carries its stream and send
//! time, so nothing else is needed to tell calls apart. One JSON line is printed.

mod ng;
mod streams;

use std::net::{SocketAddr, UdpSocket};

use clap::{Parser, Subcommand};
use socket2::{Domain, Socket, Type};

#[derive(Parser)]
#[command(name = "rtpload", about = "RTP load through svar or rtpengine")]
struct Cli {
    #[command(subcommand)]
    relay: Relay,
    /// Concurrent calls.
    #[arg(long, global = true, default_value_t = 100)]
    calls: usize,
    /// Seconds of audio.
    #[arg(long, global = true, default_value_t = 60)]
    seconds: u64,
    /// This tool's port for every call's A side.
    #[arg(long, global = true, default_value_t = 47_000)]
    a_port: u16,
    /// This tool's port for every call's B side.
    #[arg(long, global = true, default_value_t = 47_002)]
    b_port: u16,
}

#[derive(Subcommand)]
enum Relay {
    /// Calls already set up through svar.
    Svar {
        /// The first RTP port of svar's range.
        #[arg(long)]
        first_port: u16,
        /// svar's media address.
        #[arg(long, default_value = "127.0.0.1")]
        ip: std::net::IpAddr,
    },
    /// IVR sessions already set up through svar (SIPp calling the menus): send each
    /// caller's audio and measure how the prompts arrive.
    Ivr {
        /// The first RTP port of svar's range.
        #[arg(long)]
        first_port: u16,
        /// svar's media address.
        #[arg(long, default_value = "127.0.0.1")]
        ip: std::net::IpAddr,
    },
    /// Calls set up here through rtpengine's ng protocol.
    Rtpengine {
        /// rtpengine's ng address.
        #[arg(long, default_value = "127.0.0.1:2223")]
        ng: SocketAddr,
    },
}

fn socket(port: u16) -> std::io::Result<UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, None)?;
    // bursts of thousands of packets every 20 ms: big buffers, so the tool drops nothing
    s.set_recv_buffer_size(32 << 20)?;
    s.set_send_buffer_size(32 << 20)?;
    s.bind(&SocketAddr::from(([127, 0, 0, 1], port)).into())?;
    Ok(s.into())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(line) => {
            println!("{line}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rtpload: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<String, String> {
    let a = socket(cli.a_port).map_err(|e| format!("port {}: {e}", cli.a_port))?;
    if let Relay::Ivr { first_port, ip } = &cli.relay {
        let targets: Vec<SocketAddr> =
            (0..cli.calls).map(|k| SocketAddr::new(*ip, first_port + 4 * k as u16)).collect();
        let r = streams::ivr(&targets, a, cli.seconds).map_err(|e| e.to_string())?;
        let expected = (cli.calls as u64) * 50 * cli.seconds;
        return Ok(serde_json::json!({
            "sessions": cli.calls,
            "seconds": cli.seconds,
            "sessions_heard": r.sessions_heard,
            "received": r.received,
            "expected": expected,
            "pacing_p50_us": r.pacing_us.0,
            "pacing_p99_us": r.pacing_us.1,
            "pacing_max_us": r.pacing_us.2,
        })
        .to_string());
    }
    let b = socket(cli.b_port).map_err(|e| format!("port {}: {e}", cli.b_port))?;
    let mut ng = None;
    let targets: streams::Targets = match &cli.relay {
        Relay::Svar { first_port, ip } => (0..cli.calls)
            .map(|k| {
                let pa = first_port + 4 * k as u16;
                (SocketAddr::new(*ip, pa), SocketAddr::new(*ip, pa + 2))
            })
            .collect(),
        Relay::Ivr { .. } => return Err("IVR sessions are measured above".into()),
        Relay::Rtpengine { ng: addr } => {
            let mut client = ng::Ng::new(*addr).map_err(|e| e.to_string())?;
            let mut t = Vec::with_capacity(cli.calls);
            for k in 0..cli.calls {
                let (to_a, to_b) = client.call(k, cli.a_port, cli.b_port)?;
                t.push((SocketAddr::new(addr.ip(), to_a), SocketAddr::new(addr.ip(), to_b)));
            }
            ng = Some(client);
            t
        }
    };
    let r = streams::run(&targets, a, b, cli.seconds).map_err(|e| e.to_string())?;
    if let Some(client) = ng.as_mut() {
        for k in 0..cli.calls {
            let _ = client.delete(k);
        }
    }
    let loss = if r.sent == 0 { 100.0 } else { 100.0 * (r.sent.saturating_sub(r.received)) as f64 / r.sent as f64 };
    Ok(serde_json::json!({
        "calls": cli.calls,
        "seconds": cli.seconds,
        "sent": r.sent,
        "received": r.received,
        "loss_pct": loss,
        "misrouted": r.misrouted,
        "added_jitter_p50_us": r.jitter_us.0,
        "added_jitter_p99_us": r.jitter_us.1,
        "added_jitter_max_us": r.jitter_us.2,
    })
    .to_string())
}
