//! `svar`: the phone system for public service. This binary is glue: it reads the
//! configuration, opens the store, binds sockets and runs the engines from the library
//! crates until SIGTERM, then drains calls and flushes records.

mod api;
mod calendar_cmd;
mod chart;
mod config;
mod ephemeral;
mod fdtable;
mod http;
mod http_client;
mod ivr_config;
mod ledger_service;
mod media_config;
mod messages;
mod presence_service;
mod queues;
mod services_config;
mod simulate_cmd;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use net::{Control, SipSockets};
use pbx::Pbx;
use rand::RngCore;
use sip::digest::{AuthConfig, Authenticator};
use sip::registrar::Registrar;
use sip::{Endpoint, EndpointConfig, Transport};
use store::{OrganisationStore, Store};
use store_sqlite::SqliteStore;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::config::{Config, Overrides};

// mimalloc: the SIP path allocates per message; the system allocator spent a fifth of
// the SIP thread's time in malloc and free (BENCHMARKS.md). Without transparent huge
// pages (`no_thp`, and `disable_huge_pages` at start for systems set to THP "always"):
// mimalloc returns freed pages to the kernel and faults them in again, and with huge
// pages every such fault zeroed 2 MiB; that was 9 % of the SIP thread under 1,000
// calls/s and 15 % of the CPU per call (BENCHMARKS.md, Session 5).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "svar", version, about = "svar: a phone system that keeps a municipality's telephone promises")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run svar (SIP registrar and B2BUA, HTTP health and metrics).
    Serve {
        /// Configuration file (TOML). Default: the built-in demo municipality.
        #[arg(long)]
        config: Option<PathBuf>,
        /// SIP address (UDP and TCP), overrides the file.
        #[arg(long)]
        sip: Option<String>,
        /// HTTP address, overrides the file.
        #[arg(long)]
        http: Option<String>,
        /// Data directory (database), default ./data.
        #[arg(long)]
        data_dir: Option<String>,
    },
    /// Check a configuration file; list every problem and exit non-zero if any.
    CheckConfig {
        /// The file.
        file: PathBuf,
    },
    /// The municipality's calendar: holidays, deadlines, opening hours.
    Calendar {
        #[command(subcommand)]
        command: CalendarCommand,
    },
    /// Run the queue engine in virtual time.
    Simulate {
        #[command(subcommand)]
        command: SimulateCommand,
    },
    /// The fewest agents per interval that meet a service level (Erlang C), checked by
    /// simulation with callers who give up. Prints CSV.
    Staffing(simulate_cmd::StaffingRequest),
}

#[derive(Debug, Subcommand)]
enum SimulateCommand {
    /// An M/M/c queue, simulated beside Erlang C. Prints one JSON object.
    Erlang {
        /// Arrivals per hour.
        #[arg(long)]
        arrivals_per_hour: f64,
        /// Average handle time in seconds (exponential).
        #[arg(long)]
        aht_seconds: f64,
        /// Agents.
        #[arg(long)]
        agents: u32,
        /// Service-level threshold in seconds.
        #[arg(long)]
        target_seconds: f64,
        /// Calls to simulate.
        #[arg(long, default_value_t = 100_000)]
        calls: u64,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// A working day of the configured municipality's queues: KPIs per queue and hour as
    /// JSON, and an SVG chart of service level and queue length next to it.
    Day {
        /// Configuration file (default: the demo municipality).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where to write the JSON; the chart goes next to it with `.svg`.
        #[arg(long, default_value = "simulate-day.json")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum CalendarCommand {
    /// Public holidays and closing days of a year as CSV: date,name_da,kind.
    Holidays {
        /// The year.
        year: i16,
        /// Configuration file (default: the demo municipality).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// The callback deadline for a message received at TIMESTAMP (RFC 3339).
    Deadline {
        /// When the message arrived.
        timestamp: String,
        /// Department whose hours decide day 0 (default: the switchboard).
        #[arg(long)]
        department: Option<String>,
        /// Configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Is DEPARTMENT open at TIMESTAMP? Prints `open` or `closed until <RFC 3339>`.
    Open {
        /// Department id.
        department: String,
        /// The moment (RFC 3339).
        timestamp: String,
        /// Configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn run_calendar(cmd: CalendarCommand) -> ExitCode {
    let config = match &cmd {
        CalendarCommand::Holidays { config, .. }
        | CalendarCommand::Deadline { config, .. }
        | CalendarCommand::Open { config, .. } => config.clone(),
    };
    let out = read_config(config.as_ref(), &Overrides::default()).and_then(|c| match &cmd {
        CalendarCommand::Holidays { year, .. } => calendar_cmd::holidays(&c, *year),
        CalendarCommand::Deadline { timestamp, department, .. } => {
            calendar_cmd::deadline(&c, timestamp, department.as_deref())
        }
        CalendarCommand::Open { department, timestamp, .. } => calendar_cmd::open(&c, department, timestamp),
    });
    print_or_fail("svar calendar", out)
}

fn run_simulate(cmd: SimulateCommand) -> Result<String> {
    match cmd {
        SimulateCommand::Erlang { arrivals_per_hour, aht_seconds, agents, target_seconds, calls, seed } => {
            simulate_cmd::erlang(acd::sim::erlang_check::ErlangRun {
                arrivals_per_hour,
                aht_seconds,
                agents,
                target_seconds,
                calls,
                seed,
            })
        }
        SimulateCommand::Day { config, seed, out } => {
            let c = read_config(config.as_ref(), &Overrides::default())?;
            simulate_cmd::day(&c, seed, &out)
        }
    }
}

fn print_or_fail(what: &str, out: Result<String>) -> ExitCode {
    match out {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{what}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Descriptors kept for the SIP, HTTP and store sockets and files, besides the RTP sockets.
const OPEN_FILES_RESERVE: usize = 256;

/// Anchored calls hold four sockets each (RTP and RTCP per leg): raise the soft limit
/// on open files to the hard limit (a common default soft limit of 1,024 would stop
/// svar at about 250 calls), and say so when even that is below what the RTP port range
/// could use. Returns how many RTP and RTCP sockets svar may hold open.
fn raise_open_files_limit(cfg: &Config) -> usize {
    const RESERVE: u64 = OPEN_FILES_RESERVE as u64;
    let Some(m) = cfg.pbx.media.as_ref() else { return 0 };
    // every port of the range may be open at once
    let range = u64::from(m.last_port - m.first_port) + 1;
    let want = range + RESERVE;
    let got = match rlimit::increase_nofile_limit(want) {
        Ok(got) if got < want => {
            warn!(
                open_files = got,
                needed = want,
                calls = got.saturating_sub(RESERVE) / 4,
                "the open-files limit caps anchored calls; raise the hard limit (ulimit -Hn) to use the whole RTP range"
            );
            got
        }
        Ok(got) => {
            info!(open_files = got, "open-files limit");
            got
        }
        Err(e) => {
            warn!(error = %e, "cannot read or raise the open-files limit");
            1024
        }
    };
    usize::try_from(got.saturating_sub(RESERVE).min(range)).unwrap_or(usize::MAX)
}

/// The media threads: each owns its calls' sockets, timers and bridges alone (no work
/// stealing, no cross-thread wakeups per packet; a busy thread takes many packets per
/// `epoll_wait`). Half the cores, at least one.
fn media_threads(
    bell: &net::Doorbell,
) -> Result<(net::media_loop::MediaThreads, mpsc::UnboundedReceiver<pbx::MediaEvent>)> {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get().div_ceil(2));
    net::media_loop::MediaThreads::start(n, bell).map_err(|e| anyhow::anyhow!("cannot start the media threads: {e}"))
}

/// What the configuration names on disk: the IVR's prompts (relative to where svar runs).
fn check_files(c: Config) -> Result<Config> {
    if let Some(ivr) = &c.ivr {
        let problems = ivr_config::check_prompts(ivr, std::path::Path::new("."));
        if !problems.is_empty() {
            anyhow::bail!("{} problem(s):\n  {}", problems.len(), problems.join("\n  "));
        }
    }
    Ok(c)
}

/// For `serve`: a prompt directory that is not there at all (the built-in demo started
/// away from the repository) turns the IVR off with a warning, so `svar serve` runs
/// anywhere; a directory with prompts missing is a configuration error.
fn check_files_for_serve(mut c: Config) -> Result<Config> {
    if let Some(ivr) = &c.ivr
        && !std::path::Path::new(".").join(&ivr.prompts_dir).is_dir()
    {
        warn!(prompts_dir = %ivr.prompts_dir.display(), "IVR prompts not found here; the IVR is off");
        c.ivr = None;
    }
    check_files(c)
}

fn read_config(path: Option<&PathBuf>, ov: &Overrides) -> Result<Config> {
    let text = match path {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        None => config::DEMO.to_owned(),
    };
    Ok(config::load(&text, ov)?)
}

/// Turn transparent huge pages off for this process (see the allocator note above).
fn disable_huge_pages() {
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        warn!(error = %e, "cannot turn transparent huge pages off; the allocator may zero 2 MiB per page fault");
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    disable_huge_pages();
    match cli.command {
        Command::CheckConfig { file } => match read_config(Some(&file), &Overrides::default()).and_then(check_files) {
            Ok(c) => {
                println!(
                    "{}: ok ({} users, {} teams with {} covered employees, {} departments, {} trunks, {} inbound numbers, {} outbound routes, {} queues, {} IVR menus)",
                    file.display(),
                    c.pbx.users.len(),
                    c.organisation.teams.len(),
                    c.organisation.employees.len(),
                    c.departments.len(),
                    c.pbx.trunks.len(),
                    c.pbx.dids.len(),
                    c.pbx.routes.len(),
                    c.queues.acd.queues.len(),
                    c.ivr.as_ref().map_or(0, |i| i.menus.menus.len())
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}: {e:#}", file.display());
                ExitCode::FAILURE
            }
        },
        Command::Calendar { command } => run_calendar(command),
        Command::Simulate { command } => print_or_fail("svar simulate", run_simulate(command)),
        Command::Staffing(request) => print_or_fail("svar staffing", simulate_cmd::staffing(&request)),
        Command::Serve { config, sip, http, data_dir } => {
            let ov = Overrides { sip, http, data_dir };
            let cfg = match read_config(config.as_ref(), &ov).and_then(check_files_for_serve) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("svar will not start: {e:#}");
                    return ExitCode::FAILURE;
                }
            };
            let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(serve(cfg)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    error!("{e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn serve(cfg: Config) -> Result<()> {
    let store = SqliteStore::open_dir(&cfg.data_dir)
        .await
        .with_context(|| format!("cannot open the store in {}", cfg.data_dir.display()))?;
    let now_unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let mut registrar = Registrar::new(cfg.pbx.registrar.clone());
    let saved = store.load_bindings().await?;
    registrar.restore(now_unix, saved);
    let restored = registrar.binding_count();

    let udp = UdpSocket::bind(cfg.sip).await.with_context(|| format!("cannot bind SIP UDP {}", cfg.sip))?;
    let tcp = TcpListener::bind(cfg.sip).await.with_context(|| format!("cannot bind SIP TCP {}", cfg.sip))?;
    let http_listener = TcpListener::bind(cfg.http).await.with_context(|| format!("cannot bind HTTP {}", cfg.http))?;
    let sip_addr = udp.local_addr()?;
    let contact = SocketAddr::new(cfg.advertise, sip_addr.port());

    let mut rng = rand::rng();
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    let mut ep_cfg = EndpointConfig::new(vec![(Transport::Udp, contact), (Transport::Tcp, contact)], rng.next_u64());
    ep_cfg.timers = cfg.timers;
    ep_cfg.user_agent = format!("svar/{}", env!("CARGO_PKG_VERSION"));
    ep_cfg.auto_trying = false;
    let endpoint = Endpoint::new(ep_cfg);
    let mut auth_cfg = AuthConfig::new(&cfg.pbx.domain);
    auth_cfg.max_failures = cfg.max_auth_failures;
    auth_cfg.algorithms = cfg.digest_algorithms.clone();
    let auth = Authenticator::new(auth_cfg, secret, Instant::now());
    let max_sockets = raise_open_files_limit(&cfg);
    if max_sockets > 0 {
        // every RTP socket and the rest of the process's descriptors, sized now rather than
        // by doublings that each stall the SIP thread (fdtable.rs)
        if let Err(e) = fdtable::reserve(max_sockets + OPEN_FILES_RESERVE) {
            warn!(error = %e, "cannot size the descriptor table at start; the first calls may wait on its growth");
        }
    }
    if let Some(m) = cfg.pbx.media.as_ref()
        && let Some(advice) = ephemeral::check(m.first_port..=m.last_port)
    {
        warn!("{advice}");
    }
    let mut pbx_cfg = cfg.pbx.clone();
    if let (Some(m), Some(settings)) = (&cfg.media, pbx_cfg.media.as_mut()) {
        settings.music_on_hold = media_config::load_music_on_hold(m).map_err(|e| anyhow::anyhow!(e))?;
        info!(music_on_hold = settings.music_on_hold.is_some(), "media anchored");
    }
    if let Some(ivr) = &cfg.ivr {
        match ivr_config::load_setup(&cfg, ivr, std::path::Path::new(".")) {
            Ok(setup) => {
                info!(prompts = setup.prompts.len(), numbers = ?ivr.numbers, "IVR prompts loaded");
                pbx_cfg.ivr = Some(setup);
            }
            Err(problems) => anyhow::bail!("IVR prompts: {}", problems.join("; ")),
        }
    }
    pbx_cfg.contact_addrs = vec![(Transport::Udp, contact), (Transport::Tcp, contact)];
    let pbx = Pbx::new(endpoint, pbx_cfg, auth, registrar);

    let (persist_tx, persist_rx) = std::sync::mpsc::channel();
    let record_writer = store_sqlite::RecordWriter::open_dir(&cfg.data_dir)
        .with_context(|| format!("cannot open the store in {}", cfg.data_dir.display()))?;
    let (writer_done_tx, writer_done_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new().name("svar-writer".into()).spawn(move || {
        net::writer::run(record_writer, persist_rx);
        let _ = writer_done_tx.send(());
    })?;
    // Every channel to the SIP loop rings its doorbell, a datagram to the SIP socket: the
    // loop sleeps in its blocking recvfrom, not in an async runtime.
    let doorbell = net::Doorbell::new(udp.local_addr()?)?;
    let (control_tx, control_rx) = net::wake::control_channel(&doorbell, 64);
    // The SIP engine gets a thread of its own, blocking in recvfrom: every datagram is
    // handled where it was read, with no work-stealing hop (Kamailio's worker model). The
    // UDP socket is handed over as a std socket; TCP connections stay on this runtime
    // and hand their messages over a channel.
    let udp_std = udp.into_std()?;
    let (sip_done_tx, sip_done_rx) = tokio::sync::oneshot::channel();
    // Calls' media run on threads of their own, not on the SIP thread.
    let (messages_tx, messages_rx) = mpsc::unbounded_channel();
    let media_setup = match (cfg.media_bind, cfg.pbx.media.as_ref()) {
        (Some(ip), Some(m)) => {
            let (threads, events) = media_threads(&doorbell)?;
            Some(net::sip_loop::MediaSetup {
                ip,
                timeout: m.timeout,
                threads,
                events,
                messages: messages_tx,
                max_sockets,
            })
        }
        _ => None,
    };
    let wiring =
        net::Wiring { persist: persist_tx, control: control_rx, doorbell, runtime: tokio::runtime::Handle::current() };
    let sockets = SipSockets { udp: udp_std, tcp: Some(tcp) };
    std::thread::Builder::new().name("svar-sip".into()).spawn(move || {
        match net::sip_loop::run(pbx, sockets, wiring, media_setup) {
            Ok(pbx) => {
                let _ = sip_done_tx.send(pbx.active_calls());
            }
            Err(e) => error!(error = %e, "the SIP loop failed"),
        }
    })?;

    // The organisation is stored as a version whenever the configuration changes it.
    let org_version = match store.latest_organisation().await? {
        Some(v) if v.organisation == cfg.organisation => v.version,
        _ => store.save_organisation(&cfg.organisation, "config", jiff::Timestamp::now()).await?,
    };
    info!(organisation_version = org_version, "organisation stored");
    let shared = std::sync::Arc::new(cfg.clone());
    let (ledger, ledger_task) = ledger_service::start(store.clone(), shared.clone()).await?;
    let presence = presence_service::start(store.clone(), shared, ledger.clone()).await?;
    let messages_task = tokio::spawn(messages::run(messages_rx, ledger.clone(), cfg.data_dir.clone()));
    // Retention of conversation recordings: at start, then every hour.
    let recordings_dir = cfg.data_dir.join("recordings");
    let keep = cfg.recording_keep;
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            messages::prune_recordings(&recordings_dir, jiff::Timestamp::now(), keep).await;
        }
    });
    let mut app =
        http::router(http::AppState { control: control_tx.clone(), obligations: Some(ledger.metrics.clone()) });
    if let Some(token) = &cfg.api_token {
        app = app.merge(api::router(api::ApiState {
            ledger: ledger.clone(),
            presence: presence.clone(),
            organisation: std::sync::Arc::new((org_version, cfg.organisation.clone())),
            employees: std::sync::Arc::new(cfg.pbx.users.iter().map(|u| u.extension.clone()).collect()),
            token: token.as_str().into(),
            users: std::sync::Arc::new(cfg.pbx.users.iter().map(|u| u.extension.clone()).collect()),
        }));
    }
    let (http_stop_tx, http_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let http_task = tokio::spawn(async move {
        let _ = axum::serve(http_listener, app)
            .with_graceful_shutdown(async {
                let _ = http_stop_rx.await;
            })
            .await;
    });

    info!(
        municipality = %cfg.municipality,
        sip = %sip_addr,
        http = %cfg.http,
        users = cfg.pbx.users.len(),
        restored_registrations = restored,
        "svar is ready"
    );

    shutdown_signal().await;
    info!(grace_s = cfg.drain_grace.as_secs(), "shutting down: new calls get 503, established calls may finish");
    let _ = control_tx.send(Control::Drain { grace: cfg.drain_grace }).await;
    drop(control_tx);
    if sip_done_rx.await.is_err() {
        warn!("SIP loop ended abnormally");
    }
    // the SIP loop dropped its sender: the writer flushes what is left and ends
    if let Err(e) = writer_done_rx.await {
        warn!(error = %e, "store writer ended abnormally");
    }
    let _ = http_stop_tx.send(());
    let _ = http_task.await;
    // Nothing to flush for the ledger: every acknowledged change was committed, and a
    // notification in flight is stored as such and sent again after a restart.
    drop((ledger, presence, ledger_task, messages_task));
    info!("svar stopped; all records written");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
