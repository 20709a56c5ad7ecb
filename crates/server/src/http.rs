//! HTTP: `/healthz` and Prometheus `/metrics`. Numbers come from the SIP loop as a
//! snapshot over a channel, so scraping never locks the SIP path.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use net::{Control, Snapshot};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::oneshot;

/// Shared state of the HTTP handlers.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    /// Channel to the SIP loop.
    pub(crate) control: net::ControlSender,
    /// Counters of the obligation service.
    pub(crate) obligations: Option<std::sync::Arc<crate::ledger_service::NotifyMetrics>>,
}

/// The router.
pub(crate) fn router(state: AppState) -> Router {
    Router::new().route("/healthz", get(healthz)).route("/metrics", get(metrics)).with_state(state)
}

async fn snapshot(state: &AppState) -> Option<Snapshot> {
    let (tx, rx) = oneshot::channel();
    state.control.send(Control::Snapshot(tx)).await.ok()?;
    rx.await.ok()
}

async fn healthz(State(state): State<AppState>) -> Response {
    match snapshot(&state).await {
        Some(s) if !s.draining => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            format!(r#"{{"status":"ok","registrations":{},"active_calls":{}}}"#, s.registrations, s.active_calls),
        )
            .into_response(),
        Some(s) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            format!(r#"{{"status":"draining","active_calls":{}}}"#, s.active_calls),
        )
            .into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "SIP engine not running").into_response(),
    }
}

type Labels = Vec<(String, String)>;

fn counter_family(reg: &mut Registry, name: &str, help: &str, label: &str, values: &[(String, u64)]) {
    let fam = Family::<Labels, Counter>::default();
    for (k, v) in values {
        fam.get_or_create(&vec![(label.to_owned(), k.clone())]).inc_by(*v);
    }
    reg.register(name, help, fam);
}

fn gauge(reg: &mut Registry, name: &str, help: &str, v: usize) {
    let g: Gauge = Gauge::default();
    g.set(i64::try_from(v).unwrap_or(i64::MAX));
    reg.register(name, help, g);
}

fn counter(reg: &mut Registry, name: &str, help: &str, v: u64) {
    let c: Counter = Counter::default();
    c.inc_by(v);
    reg.register(name, help, c);
}

/// Render a snapshot in the Prometheus text format.
#[must_use]
pub(crate) fn render(s: &Snapshot, obligations: Option<&crate::ledger_service::NotifyMetrics>) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let mut reg = Registry::with_prefix("svar");
    if let Some(m) = obligations {
        gauge(
            &mut reg,
            "obligations_open",
            "Obligations not yet completed or cancelled",
            m.obligations_open.load(Relaxed) as usize,
        );
        gauge(
            &mut reg,
            "notifications_pending",
            "Notifications waiting to be delivered",
            m.pending.load(Relaxed) as usize,
        );
        counter(&mut reg, "notifications_sent", "Notifications delivered", m.sent.load(Relaxed));
        counter(
            &mut reg,
            "notification_attempts_failed",
            "Failed notification attempts",
            m.failed_attempts.load(Relaxed),
        );
        counter(
            &mut reg,
            "notifications_failed",
            "Notifications given up after their last attempt",
            m.given_up.load(Relaxed),
        );
        counter(
            &mut reg,
            "calendar_feed_failures",
            "Calendar feeds that could not be read",
            m.feed_failures.load(Relaxed),
        );
    }
    gauge(&mut reg, "registrations", "Live registrar bindings", s.registrations);
    gauge(&mut reg, "active_calls", "Calls ringing or answered", s.active_calls);
    gauge(&mut reg, "tcp_connections", "Open SIP TCP connections", s.tcp_connections);
    gauge(&mut reg, "trunks_registered", "Trunks registered with their provider", s.trunks_registered);
    counter_family(&mut reg, "calls", "Calls ended, by outcome", "outcome", &s.calls_by_outcome);
    counter_family(&mut reg, "sip_requests_received", "SIP requests received, by method", "method", &s.requests_in);
    counter_family(&mut reg, "sip_requests_sent", "SIP requests sent, by method", "method", &s.requests_out);
    let st = |v: &[(u16, u64)]| v.iter().map(|(k, n)| (k.to_string(), *n)).collect::<Vec<_>>();
    counter_family(&mut reg, "sip_responses_sent", "SIP responses sent, by status", "status", &st(&s.responses_out));
    counter_family(
        &mut reg,
        "sip_responses_received",
        "SIP responses received, by status",
        "status",
        &st(&s.responses_in),
    );
    counter_family(
        &mut reg,
        "sip_parse_errors",
        "Malformed or refused SIP messages, by reason",
        "reason",
        &s.parse_errors,
    );
    counter(&mut reg, "auth_failures", "Failed digest authentications", s.auth_failures);
    counter(&mut reg, "auth_blocked", "Requests refused because the source was blocked", s.auth_blocked);
    counter(&mut reg, "sip_retransmissions", "SIP retransmissions sent", s.retransmissions);
    let mut out = String::new();
    if encode(&mut out, &reg).is_err() {
        return String::from("# encoding failed\n");
    }
    out
}

async fn metrics(State(state): State<AppState>) -> Response {
    match snapshot(&state).await {
        Some(s) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
            render(&s, state.obligations.as_deref()),
        )
            .into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "SIP engine not running").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    fn fake_loop(snap: Snapshot) -> net::ControlSender {
        let (tx, mut rx) =
            net::wake::control_channel(&net::Doorbell::new("127.0.0.1:9".parse().expect("addr")).expect("bell"), 4);
        tokio::spawn(async move {
            while let Some(c) = rx.recv().await {
                if let Control::Snapshot(r) = c {
                    let _ = r.send(snap.clone());
                }
            }
        });
        tx
    }

    #[tokio::test]
    async fn metrics_expose_counters_with_labels() {
        let snap = Snapshot {
            registrations: 3,
            active_calls: 1,
            calls_by_outcome: vec![("answered".into(), 5), ("busy".into(), 2)],
            requests_in: vec![("INVITE".into(), 7)],
            responses_out: vec![(486, 2)],
            auth_failures: 4,
            ..Snapshot::default()
        };
        let app = router(AppState { control: fake_loop(snap), obligations: None });
        let resp =
            app.oneshot(axum::http::Request::get("/metrics").body(Body::empty()).expect("req")).await.expect("resp");
        assert_eq!(resp.status(), StatusCode::OK);
        let body =
            String::from_utf8(resp.into_body().collect().await.expect("body").to_bytes().to_vec()).expect("utf8");
        for line in [
            "svar_registrations 3",
            "svar_active_calls 1",
            "svar_calls_total{outcome=\"busy\"} 2",
            "svar_sip_requests_received_total{method=\"INVITE\"} 7",
            "svar_sip_responses_sent_total{status=\"486\"} 2",
            "svar_auth_failures_total 4",
        ] {
            assert!(body.contains(line), "missing {line} in\n{body}");
        }
    }

    #[tokio::test]
    async fn healthz_reports_draining_as_503() {
        let app = router(AppState {
            control: fake_loop(Snapshot { draining: true, ..Snapshot::default() }),
            obligations: None,
        });
        let resp =
            app.oneshot(axum::http::Request::get("/healthz").body(Body::empty()).expect("req")).await.expect("resp");
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        let app = router(AppState { control: fake_loop(Snapshot::default()), obligations: None });
        let resp =
            app.oneshot(axum::http::Request::get("/healthz").body(Body::empty()).expect("req")).await.expect("resp");
        assert_eq!(resp.status(), StatusCode::OK);
    }
}
