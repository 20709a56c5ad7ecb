//! The contact-centre engine (ACD): queues of callers waiting for agents.
//!
//! What it does: queues with priorities; agent selection by longest idle, ring-all or
//! skills (requirements widen with waiting); agent states logged out, available,
//! offered (with an offer timeout), on a call, wrap-up, paused with a reason; agents who
//! miss N offers in a row are made not ready; exits for maximum wait, no agents and a
//! full queue, each to a configured target; position announcements; callback in queue
//! that keeps the caller's place; a preferred agent with a timed fallback. It also holds
//! the Erlang C formulas ([`erlang`]) and a simulator that drives this very engine in
//! virtual time ([`sim`]).
//!
//! What it does not do: ring phones, play prompts or store anything. It is sans-IO and
//! pure: time comes in with each input, randomness only in the simulator from a seed.
//!
//! The drive loop (the live driver and the simulator both do this):
//!
//! ```
//! use acd::{Acd, AcdConfig, AgentConfig, Arrival, ContactId, Event, Input, QueueConfig, Time};
//! let config = AcdConfig {
//!     queues: vec![QueueConfig::new("borgerservice")],
//!     agents: vec![AgentConfig { name: "1001".into(), queues: vec!["borgerservice".into()], skills: vec![] }],
//! };
//! let mut acd = Acd::new(&config).expect("valid");
//! let (queue, agent) = (acd.queue_id("borgerservice").unwrap(), acd.agent_id("1001").unwrap());
//! acd.handle_input(Time::ZERO, Input::Login(agent)).unwrap();
//! acd.handle_input(Time::ZERO, Input::Arrive(Arrival::new(ContactId(1), queue))).unwrap();
//! let mut offered = false;
//! while let Some(event) = acd.poll_event() {
//!     // ring the agent, announce the position, create obligations, ...
//!     offered |= matches!(event, Event::Offer { contact: ContactId(1), .. });
//! }
//! assert!(offered);
//! // and at acd.poll_timeout(): acd.handle_input(at, Input::Timeout)
//! ```

mod config;
mod engine;
pub mod erlang;
pub mod sim;
mod time;
mod types;

pub use config::{
    AcdConfig, AgentConfig, AgentId, ConfigError, Exit, ExitTarget, QueueConfig, QueueId, SkillId, Strategy, Widening,
};
pub use engine::Acd;
pub use time::Time;
pub use types::{
    AcdError, AgentStatus, Arrival, ContactId, Event, ExitReason, Input, PauseReason, Preferred, QueueStats, SkillNeed,
    WithdrawReason,
};
