//! The validated call-control configuration. The server turns its TOML `RawConfig` into
//! this, refusing to start with every problem listed; nothing here can be invalid.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use sip::digest::Credentials;
use sip::{Transport, registrar::RegistrarConfig};

use crate::numbers::Pattern;

/// A phone user (an employee's extension).
#[derive(Debug, Clone)]
pub struct User {
    /// Extension, also the SIP user name (`sip:1001@domain`).
    pub extension: String,
    /// Display name.
    pub display: String,
    /// HA1 values computed once at load.
    pub credentials: Credentials,
    /// The number shown to outside callees (a DID), if any.
    pub caller_id: Option<String>,
}

/// How a trunk's requests are recognised.
#[derive(Debug, Clone)]
pub struct Trunk {
    /// Name in config and records.
    pub name: String,
    /// The provider's signalling address.
    pub proxy: SocketAddr,
    /// Transport to the provider.
    pub transport: Transport,
    /// Source addresses accepted as this trunk without digest (`ip` or `ip:port`).
    pub allowed_sources: Vec<SourceMatch>,
    /// Credentials for digest challenges from the provider and for outbound REGISTER.
    pub credentials: Option<TrunkCredentials>,
    /// Register to the provider.
    pub register: bool,
    /// The number shown as caller for calls without a user caller id.
    pub default_caller_id: String,
}

impl Trunk {
    /// The Request-URI for a number at this provider: `sip:<number>@<proxy address>`.
    ///
    /// # Errors
    /// The number cannot be a URI's user part.
    pub fn uri_for(&self, number: &str) -> Result<sip_msg::Uri, sip_msg::ParseError> {
        format!("sip:{number}@{}", sip_msg::Host::from(self.proxy.ip())).parse()
    }
}

/// A trusted source: an IP, optionally with a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceMatch {
    /// Address.
    pub ip: IpAddr,
    /// Port, when only one port of that address is the provider.
    pub port: Option<u16>,
}

impl SourceMatch {
    /// Does a request's source match?
    #[must_use]
    pub fn matches(&self, addr: SocketAddr) -> bool {
        self.ip == addr.ip() && self.port.is_none_or(|p| p == addr.port())
    }
}

/// Username and password a provider gave us.
#[derive(Debug, Clone)]
pub struct TrunkCredentials {
    /// Username.
    pub username: String,
    /// Password (kept: a provider's challenge needs it for each new nonce).
    pub password: String,
}

/// Where an inbound number goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DidTarget {
    /// A user's extension.
    User(String),
    /// The IVR (the main number's menus).
    Ivr,
}

/// An inbound number.
#[derive(Debug, Clone)]
pub struct Did {
    /// Normalised number as the provider sends it.
    pub number: String,
    /// Target.
    pub target: DidTarget,
}

/// An outbound route.
#[derive(Debug, Clone)]
pub struct OutboundRoute {
    /// Name.
    pub name: String,
    /// Numbers it takes.
    pub patterns: Vec<Pattern>,
    /// Trunk name.
    pub trunk: String,
    /// Digits to strip from the front before sending.
    pub strip: usize,
    /// Prefix to add after stripping.
    pub prepend: String,
    /// International numbers allowed on this route (default no: toll fraud).
    pub allow_international: bool,
    /// Premium-rate numbers allowed on this route (default no).
    pub allow_premium: bool,
}

/// The first route that takes `number` (normalised) under the toll-fraud rules, with the
/// number as that route sends it. International and premium-rate numbers need a route
/// that allows them. Errors carry the status for a caller and its reason phrase; the
/// config check uses the same function, so a menu cannot name a number no call could
/// reach.
///
/// # Errors
/// No route takes the number (404), or the only routes that do refuse its class (403).
pub fn pick_route<'r>(
    routes: &'r [OutboundRoute],
    number: &str,
) -> Result<(&'r OutboundRoute, String), (u16, &'static str)> {
    use crate::numbers::{NumberClass, classify};
    let class = classify(number);
    for route in routes {
        let allowed = match class {
            NumberClass::International => route.allow_international,
            NumberClass::Premium => route.allow_premium,
            _ => true,
        };
        if allowed && route.patterns.iter().any(|p| p.matches(number)) {
            let stripped = number.get(route.strip.min(number.len())..).unwrap_or_default();
            return Ok((route, format!("{}{stripped}", route.prepend)));
        }
    }
    // the class's refusal whether or not some route's pattern matched
    Err(match class {
        NumberClass::International => (403, "Forbidden (international calls not allowed)"),
        NumberClass::Premium => (403, "Forbidden (premium-rate numbers not allowed)"),
        _ => (404, "Not Found"),
    })
}

/// Everything call control needs. Build it with [`PbxConfig::index`] done (the server's
/// config loader does): lookups by extension use a hash index, not a scan.
#[derive(Debug, Clone)]
pub struct PbxConfig {
    /// SIP domain and digest realm.
    pub domain: String,
    /// Users.
    pub users: Vec<User>,
    /// Trunks.
    pub trunks: Vec<Trunk>,
    /// Inbound numbers.
    pub dids: Vec<Did>,
    /// Outbound routes in order of preference.
    pub routes: Vec<OutboundRoute>,
    /// How long a callee rings before the caller hears "no answer".
    pub ring_timeout: Duration,
    /// Registrar limits.
    pub registrar: RegistrarConfig,
    /// Our address per transport, for Contact headers.
    pub contact_addrs: Vec<(Transport, SocketAddr)>,
    /// Retry-After seconds in 503 while draining.
    pub drain_retry_after: u32,
    /// The main number's IVR (needs anchored media).
    pub ivr: Option<crate::ivr_setup::IvrSetup>,
    /// Numbers users dial internally to reach the IVR (a DID with target IVR reaches it
    /// from trunks).
    pub ivr_numbers: Vec<String>,
    /// Record conversations of callers who consent in the IVR (off by default).
    pub record_conversations: bool,
    /// Anchored media (`None`: SDP passes untouched and RTP flows phone to phone).
    pub media: Option<crate::media::MediaSettings>,
    /// Extension → position in `users`, built once by [`PbxConfig::index`].
    pub user_index: sip::fastmap::FastMap<String, usize>,
}

impl PbxConfig {
    /// Build the lookup index; call after changing `users`.
    #[must_use]
    pub fn index(mut self) -> Self {
        self.user_index = self.users.iter().enumerate().map(|(i, u)| (u.extension.clone(), i)).collect();
        self
    }

    /// Find a user by extension.
    #[must_use]
    pub fn user(&self, ext: &str) -> Option<&User> {
        self.user_index.get(ext).and_then(|&i| self.users.get(i))
    }

    /// Find a trunk by a request's source address.
    #[must_use]
    pub fn trunk_by_source(&self, addr: SocketAddr) -> Option<&Trunk> {
        self.trunks.iter().find(|t| t.allowed_sources.iter().any(|m| m.matches(addr)))
    }

    /// Find a trunk by name.
    #[must_use]
    pub fn trunk(&self, name: &str) -> Option<&Trunk> {
        self.trunks.iter().find(|t| t.name == name)
    }

    /// Our Contact for every transport, printed once.
    #[must_use]
    pub fn contacts(&self) -> Contacts {
        Contacts(
            [Transport::Udp, Transport::Tcp, Transport::Tls, Transport::Ws, Transport::Wss].map(|t| self.contact(t)),
        )
    }

    /// Our Contact for a transport.
    fn contact(&self, t: Transport) -> String {
        let addr = self
            .contact_addrs
            .iter()
            .find(|(k, _)| *k == t)
            .or_else(|| self.contact_addrs.first())
            .map_or_else(|| SocketAddr::from(([127, 0, 0, 1], 5060)), |(_, a)| *a);
        let host = sip_msg::Host::from(addr.ip());
        match t {
            Transport::Udp => format!("<sip:svar@{host}:{}>", addr.port()),
            other => format!("<sip:svar@{host}:{};transport={}>", addr.port(), other.via_token().to_ascii_lowercase()),
        }
    }
}

/// Our Contact header value per transport, in the order of [`Transport`]'s variants.
#[derive(Debug, Clone)]
pub struct Contacts([String; 5]);

impl Contacts {
    /// The value for `t`.
    #[must_use]
    pub fn get(&self, t: Transport) -> String {
        self.0[t as usize].clone()
    }
}
