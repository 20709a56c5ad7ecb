//! The request checks a UAS core makes before a transaction user sees a request
//! (RFC 3261 §8.2.1–§8.2.3, in that order), each answered with its status.

use sip_msg::{HeaderName, Method, Request, Response, Uri};

use crate::endpoint::EndpointConfig;

/// Why a request was refused before reaching the TU. The status is decided here, once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 501: method unknown to svar.
    NotImplemented,
    /// 405: known method svar does not accept.
    MethodNotAllowed,
    /// 416: Request-URI scheme is not sip, sips or tel.
    UnsupportedScheme,
    /// 400: headers inside the Request-URI (RFC 3261 §19.1.5 forbids them there).
    UriHeaders,
    /// 483: Max-Forwards reached zero.
    TooManyHops,
    /// 482: a merged request or a Via loop (§8.2.2.2).
    LoopDetected,
    /// 420: Require/Proxy-Require names extensions we lack.
    BadExtension(Vec<String>),
    /// 415: body type or encoding we cannot handle.
    UnsupportedMediaType,
    /// 406: Accept excludes every type we could answer with.
    NotAcceptable,
    /// 400: a header svar acts on is malformed.
    BadHeader(&'static str),
}

impl Refusal {
    /// Status code for the response.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::NotImplemented => 501,
            Self::MethodNotAllowed => 405,
            Self::UnsupportedScheme => 416,
            Self::UriHeaders | Self::BadHeader(_) => 400,
            Self::TooManyHops => 483,
            Self::LoopDetected => 482,
            Self::BadExtension(_) => 420,
            Self::UnsupportedMediaType => 415,
            Self::NotAcceptable => 406,
        }
    }

    /// Stable code for metrics and logs.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotImplemented => "not_implemented",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::UnsupportedScheme => "unsupported_scheme",
            Self::UriHeaders => "uri_headers",
            Self::TooManyHops => "too_many_hops",
            Self::LoopDetected => "loop_detected",
            Self::BadExtension(_) => "bad_extension",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::NotAcceptable => "not_acceptable",
            Self::BadHeader(_) => "bad_header",
        }
    }

    /// The response to send, with the headers each status requires.
    #[must_use]
    pub fn response(&self, req: &Request, cfg: &EndpointConfig) -> Response {
        let mut resp = Response::to_request(req, self.status());
        match self {
            Self::NotImplemented | Self::MethodNotAllowed => {
                resp.headers.push(HeaderName::Allow, cfg.allow_header());
            }
            Self::BadExtension(tags) => resp.headers.push(HeaderName::Unsupported, tags.join(", ")),
            Self::UnsupportedMediaType => {
                resp.headers.push(HeaderName::Accept, "application/sdp");
                resp.headers.push(HeaderName::Other("Accept-Encoding".into()), "identity");
            }
            Self::BadHeader(h) => resp.reason = format!("Bad Request ({h})").into(),
            _ => {}
        }
        resp
    }
}

fn is_known_method(m: &Method) -> bool {
    !matches!(m, Method::Extension(_))
}

/// Run the checks in RFC order. ACK and CANCEL are never refused for extensions or bodies
/// (§8.2.2.3, §8.2.3).
pub(crate) fn check_request(req: &Request, cfg: &EndpointConfig) -> Result<(), Refusal> {
    let m = &req.method;
    if !cfg.allow.contains(m) {
        return Err(if is_known_method(m) { Refusal::MethodNotAllowed } else { Refusal::NotImplemented });
    }
    match &req.uri {
        Uri::Sip(u) if u.headers.is_some() => return Err(Refusal::UriHeaders),
        Uri::Sip(_) | Uri::Tel(_) => {}
        Uri::Other { .. } => return Err(Refusal::UnsupportedScheme),
    }
    match req.headers.max_forwards() {
        Ok(Some(0)) if !matches!(m, Method::Ack | Method::Register | Method::Options) => {
            return Err(Refusal::TooManyHops);
        }
        Ok(_) => {}
        Err(_) => return Err(Refusal::BadHeader("Max-Forwards")),
    }
    if matches!(m, Method::Ack | Method::Cancel) {
        return Ok(());
    }
    let mut unsupported: Vec<String> = req
        .headers
        .option_tags(&HeaderName::Require)
        .into_iter()
        .chain(req.headers.option_tags(&HeaderName::ProxyRequire))
        .filter(|t| !cfg.supported.iter().any(|s| s.eq_ignore_ascii_case(t)))
        .collect();
    unsupported.dedup();
    if !unsupported.is_empty() {
        return Err(Refusal::BadExtension(unsupported));
    }
    if !req.body.is_empty() {
        let ct = req.headers.get(&HeaderName::ContentType).map(media_type).unwrap_or_default();
        let accepted = match m {
            Method::Invite | Method::Update | Method::Prack => ct == "application/sdp",
            Method::Info => ct == "application/dtmf-relay" || ct == "application/dtmf",
            // REGISTER/OPTIONS/BYE/MESSAGE bodies are carried, not interpreted.
            _ => true,
        };
        let encoding_ok =
            req.headers.get(&HeaderName::ContentEncoding).is_none_or(|e| e.trim().eq_ignore_ascii_case("identity"));
        if !accepted || !encoding_ok {
            return Err(Refusal::UnsupportedMediaType);
        }
    }
    if *m == Method::Invite
        && let Some(accept) = req.headers.get(&HeaderName::Accept)
    {
        let ok = req.headers.values(&HeaderName::Accept).iter().any(|a| {
            let t = media_type(a);
            t == "application/sdp" || t == "application/*" || t == "*/*"
        });
        if !ok && !accept.trim().is_empty() {
            return Err(Refusal::NotAcceptable);
        }
    }
    Ok(())
}

/// `type/subtype` lower-cased, without parameters.
fn media_type(v: &str) -> String {
    v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}
