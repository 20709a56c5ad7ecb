//! `/api/obligations` and `/api/notifications`: the obligation ledger over HTTP, for the
//! switchboard's "take a message" and, later, the console. Every call carries the API
//! token and names the acting user (`X-Svar-User`), who goes into the audit trail; every
//! read of an obligation is audited. A create is answered only after it is committed.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use policy::notify::{Channel, Delivery, Notification};
use policy::{AuditEntry, Escalation, Obligation, ObligationId, Owner, Source, State as ObState};
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::ledger_service::{Action, Create, LedgerHandle, ServiceError};
use crate::presence_service::PresenceHandle;

/// What the API handlers share.
#[derive(Debug, Clone)]
pub(crate) struct ApiState {
    pub(crate) ledger: LedgerHandle,
    pub(crate) presence: PresenceHandle,
    /// The organisation in force and its stored version.
    pub(crate) organisation: Arc<(i64, policy::org::Organisation)>,
    /// Every user's extension, in configuration order.
    pub(crate) employees: Arc<Vec<String>>,
    pub(crate) token: Arc<str>,
    pub(crate) users: Arc<std::collections::HashSet<String>>,
}

/// The acting user, checked by the middleware.
#[derive(Debug, Clone)]
struct Actor(String);

pub(crate) fn router(state: ApiState) -> axum::Router {
    axum::Router::new()
        .route("/api/obligations", post(create).get(list))
        .route("/api/obligations/{id}", get(read))
        .route("/api/obligations/{id}/actions", post(act))
        .route("/api/notifications", get(notifications))
        .route("/api/organisation", get(organisation))
        .route("/api/presence", get(presence_all))
        .route("/api/presence/{ext}", get(presence_one).put(presence_set).delete(presence_clear))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorise))
        .with_state(state)
}

fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

async fn authorise(State(state): State<ApiState>, headers: HeaderMap, mut req: Request, next: Next) -> Response {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !bool::from(token.as_bytes().ct_eq(state.token.as_bytes())) {
        return problem(StatusCode::UNAUTHORIZED, "a valid API token is needed");
    }
    let Some(user) = headers.get("x-svar-user").and_then(|v| v.to_str().ok()) else {
        return problem(StatusCode::FORBIDDEN, "name the acting user in X-Svar-User");
    };
    if !state.users.contains(user) {
        return problem(StatusCode::FORBIDDEN, "X-Svar-User is not a user of this municipality");
    }
    req.extensions_mut().insert(Actor(user.to_owned()));
    next.run(req).await
}

pub(crate) fn parse_owner(s: &str) -> Result<Owner, &'static str> {
    match s.split_once(':') {
        Some(("employee", id)) if !id.is_empty() => Ok(Owner::Employee(id.to_owned())),
        Some(("team", id)) if !id.is_empty() => Ok(Owner::Team(id.to_owned())),
        Some(("department", id)) if !id.is_empty() => Ok(Owner::Department(id.to_owned())),
        _ => Err("owner is employee:ID, team:ID or department:ID"),
    }
}

fn unprocessable(message: &'static str) -> Response {
    problem(StatusCode::UNPROCESSABLE_ENTITY, message)
}

fn owner_text(o: &Owner) -> String {
    match o {
        Owner::Employee(e) => format!("employee:{e}"),
        Owner::Team(t) => format!("team:{t}"),
        Owner::Department(d) => format!("department:{d}"),
    }
}

fn parse_source(s: Option<&str>) -> Result<Source, &'static str> {
    Ok(match s.unwrap_or("switchboard_message") {
        "no_answer" => Source::NoAnswer,
        "busy" => Source::Busy,
        "abandoned" => Source::Abandoned,
        "after_hours" => Source::AfterHours,
        "message_recorded" => Source::MessageRecorded,
        "switchboard_message" => Source::SwitchboardMessage,
        "callback_requested" => Source::CallbackRequested,
        _ => return Err("unknown source"),
    })
}

fn obligation_json(o: &Obligation) -> Value {
    let (state, reason) = match &o.state {
        ObState::Open => ("open", None),
        ObState::InProgress => ("in_progress", None),
        ObState::Attempted(_) => ("attempted", None),
        ObState::Completed => ("completed", None),
        ObState::Cancelled(r) => ("cancelled", Some(r.clone())),
    };
    json!({
        "id": o.id.0,
        "caller": o.caller,
        "owner": owner_text(&o.owner),
        "source": format!("{:?}", o.source),
        "topic": o.topic,
        "case_ref": o.case_ref,
        "created": o.created.to_string(),
        "deadline": o.deadline.to_string(),
        "state": state,
        "cancel_reason": reason,
        "attempts": o.attempts,
        "repeat_calls": o.repeat_calls,
        "escalation": match o.escalation {
            Escalation::None => "none",
            Escalation::TeamLead => "team_lead",
            Escalation::Supervisor => "supervisor",
        },
    })
}

fn audit_json(a: &AuditEntry) -> Value {
    json!({ "at": a.at.to_string(), "by": a.by, "action": a.action, "from": a.from, "to": a.to, "detail": a.detail })
}

fn notification_json(n: &Notification) -> Value {
    let (channel, to) = match &n.channel {
        Channel::Email { to } => ("email", to.clone()),
        Channel::Sms { to } => ("sms", to.clone()),
    };
    json!({
        "id": n.id.0,
        "obligation": n.obligation.0,
        "channel": channel,
        "to": to,
        "state": n.delivery.name(),
        "attempts": n.attempts,
        "last_error": n.last_error,
        "next_attempt": match n.delivery { Delivery::Pending => Some(n.next_attempt.to_string()), _ => None },
    })
}

fn service_error(e: &ServiceError) -> Response {
    use policy::LedgerError;
    let status = match e {
        ServiceError::Ledger(LedgerError::NotFound(_)) => StatusCode::NOT_FOUND,
        ServiceError::Ledger(_) => StatusCode::CONFLICT,
        ServiceError::UnknownOwner(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ServiceError::Store(_) | ServiceError::Stopped => StatusCode::SERVICE_UNAVAILABLE,
    };
    problem(status, e.to_string())
}

/// `POST /api/obligations`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    caller: String,
    owner: String,
    topic: Option<String>,
    case_ref: Option<String>,
    source: Option<String>,
}

async fn create(
    State(state): State<ApiState>,
    axum::Extension(actor): axum::Extension<Actor>,
    body: Option<Json<CreateBody>>,
) -> Response {
    let Some(Json(body)) = body else {
        return problem(StatusCode::UNPROCESSABLE_ENTITY, "a JSON body with caller and owner is needed");
    };
    let caller = pbx::numbers::normalise(&body.caller);
    let digits = caller.trim_start_matches('+');
    if digits.len() < 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return problem(StatusCode::UNPROCESSABLE_ENTITY, "caller is not a phone number");
    }
    // A Danish 8-digit number is stored in international form, so repeat calls fold.
    let caller = if digits.len() == 8 && !caller.starts_with('+') { format!("+45{digits}") } else { caller };
    let owner = match parse_owner(&body.owner) {
        Ok(o) => o,
        Err(m) => return unprocessable(m),
    };
    let source = match parse_source(body.source.as_deref()) {
        Ok(s) => s,
        Err(m) => return unprocessable(m),
    };
    let new = Create { caller, owner, source, topic: body.topic, case_ref: body.case_ref };
    match state.ledger.create(new, actor.0).await {
        Ok((o, is_new)) => {
            let mut v = obligation_json(&o);
            v["new"] = json!(is_new);
            let status = if is_new { StatusCode::CREATED } else { StatusCode::OK };
            (status, Json(v)).into_response()
        }
        Err(e) => service_error(&e),
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    owner: String,
}

async fn list(
    State(state): State<ApiState>,
    axum::Extension(actor): axum::Extension<Actor>,
    Query(q): Query<ListQuery>,
) -> Response {
    let owner = match parse_owner(&q.owner) {
        Ok(o) => o,
        Err(m) => return unprocessable(m),
    };
    match state.ledger.open_for(owner, actor.0).await {
        Ok(list) => Json(Value::Array(list.iter().map(obligation_json).collect())).into_response(),
        Err(e) => service_error(&e),
    }
}

async fn read(
    State(state): State<ApiState>,
    axum::Extension(actor): axum::Extension<Actor>,
    Path(id): Path<u64>,
) -> Response {
    match state.ledger.read(ObligationId(id), actor.0).await {
        Ok((o, trail)) => {
            let mut v = obligation_json(&o);
            v["audit"] = Value::Array(trail.iter().map(audit_json).collect());
            Json(v).into_response()
        }
        Err(e) => service_error(&e),
    }
}

/// `POST /api/obligations/{id}/actions`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActBody {
    action: String,
    reached: Option<bool>,
    reason: Option<String>,
    to: Option<String>,
}

async fn act(
    State(state): State<ApiState>,
    axum::Extension(actor): axum::Extension<Actor>,
    Path(id): Path<u64>,
    body: Option<Json<ActBody>>,
) -> Response {
    let Some(Json(body)) = body else {
        return problem(StatusCode::UNPROCESSABLE_ENTITY, "a JSON body with an action is needed");
    };
    let action = match body.action.as_str() {
        "start" => Action::Start,
        "attempt" => Action::Attempt { reached: body.reached.unwrap_or(false) },
        "complete" => Action::Complete,
        "cancel" => match body.reason {
            Some(reason) if !reason.trim().is_empty() => Action::Cancel { reason },
            _ => return problem(StatusCode::UNPROCESSABLE_ENTITY, "a cancellation needs a reason"),
        },
        "reassign" => match body.to.as_deref().map(parse_owner) {
            Some(Ok(to)) => Action::Reassign { to },
            Some(Err(m)) => return unprocessable(m),
            None => return problem(StatusCode::UNPROCESSABLE_ENTITY, "reassign needs to"),
        },
        _ => {
            return problem(StatusCode::UNPROCESSABLE_ENTITY, "action is start, attempt, complete, cancel or reassign");
        }
    };
    match state.ledger.act(ObligationId(id), action, actor.0).await {
        Ok(o) => Json(obligation_json(&o)).into_response(),
        Err(e) => service_error(&e),
    }
}

#[derive(Debug, Deserialize)]
struct NotificationQuery {
    state: Option<String>,
}

async fn notifications(State(state): State<ApiState>, Query(q): Query<NotificationQuery>) -> Response {
    let only_failed = match q.state.as_deref() {
        None | Some("all") => false,
        Some("failed") => true,
        Some(_) => return problem(StatusCode::UNPROCESSABLE_ENTITY, "state is failed or all"),
    };
    match state.ledger.notifications(only_failed).await {
        Ok(list) => Json(Value::Array(list.iter().map(notification_json).collect())).into_response(),
        Err(e) => service_error(&e),
    }
}

fn status_json(employee: &str, s: &policy::presence::Status, back_text: Option<String>) -> Value {
    use policy::presence::PresenceSource;
    json!({
        "employee": employee,
        "presence": store::presence::presence_name(&s.presence),
        "absent": s.presence.is_absent(),
        "reason": s.reason,
        "back_at": s.back_at.map(|t| t.to_string()),
        "back": back_text,
        "source": match s.source {
            PresenceSource::Manual => "manual",
            PresenceSource::Calendar => "calendar",
            PresenceSource::Schedule => "schedule",
            PresenceSource::Default => "default",
        },
    })
}

async fn presence_all(State(state): State<ApiState>) -> Response {
    let all = state.presence.all(&state.employees).await;
    Json(Value::Array(all.into_iter().map(|(e, s, t)| status_json(&e, &s, t)).collect())).into_response()
}

async fn presence_one(State(state): State<ApiState>, Path(ext): Path<String>) -> Response {
    if !state.users.contains(&ext) {
        return problem(StatusCode::NOT_FOUND, "no such user");
    }
    let (s, t) = state.presence.status(&ext).await;
    Json(status_json(&ext, &s, t)).into_response()
}

/// `PUT /api/presence/{ext}`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PresenceBody {
    presence: String,
    reason: Option<String>,
    until: Option<String>,
}

async fn presence_set(
    State(state): State<ApiState>,
    axum::Extension(actor): axum::Extension<Actor>,
    Path(ext): Path<String>,
    body: Option<Json<PresenceBody>>,
) -> Response {
    if !state.users.contains(&ext) {
        return problem(StatusCode::NOT_FOUND, "no such user");
    }
    let Some(Json(body)) = body else {
        return unprocessable("a JSON body with presence is needed");
    };
    let until = match body.until.as_deref().map(str::parse::<jiff::Timestamp>) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(_)) => return unprocessable("until is an RFC 3339 time like 2025-03-10T12:00:00+01:00"),
    };
    let now = jiff::Timestamp::now();
    if until.is_some_and(|u| u <= now) {
        return unprocessable("until lies in the past");
    }
    let Some(presence) = store::presence::presence_from(&body.presence, until) else {
        return unprocessable("presence is available, in_meeting, away, ill, holiday or off_duty");
    };
    if presence == policy::org::Presence::OnCall {
        return unprocessable("on_call comes from the phone, not by hand");
    }
    let entry = policy::presence::ManualPresence {
        employee: ext.clone(),
        presence,
        reason: body.reason.filter(|r| !r.trim().is_empty()),
        until,
        set_by: actor.0,
        set_at: now,
    };
    if let Err(e) = state.presence.set(entry).await {
        return problem(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
    }
    let (s, t) = state.presence.status(&ext).await;
    Json(status_json(&ext, &s, t)).into_response()
}

async fn presence_clear(State(state): State<ApiState>, Path(ext): Path<String>) -> Response {
    if !state.users.contains(&ext) {
        return problem(StatusCode::NOT_FOUND, "no such user");
    }
    if let Err(e) = state.presence.clear(&ext).await {
        return problem(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
    }
    let (s, t) = state.presence.status(&ext).await;
    Json(status_json(&ext, &s, t)).into_response()
}

async fn organisation(State(state): State<ApiState>) -> Response {
    let (version, org) = &*state.organisation;
    match serde_json::to_value(org) {
        Ok(v) => Json(json!({ "version": version, "organisation": v })).into_response(),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
