//! What the engine is built from: queues and agents, by name, validated once into indices.

use std::collections::HashMap;
use std::time::Duration;

/// A queue, by its index in the configuration.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct QueueId(pub(crate) u16);

/// An agent, by its index in the configuration.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct AgentId(pub(crate) u32);

/// A skill, interned from its name.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct SkillId(pub(crate) u16);

impl QueueId {
    /// The index in the configuration's queue list.
    #[must_use]
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

impl AgentId {
    /// The index in the configuration's agent list.
    #[must_use]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// How a queue picks the agent for its next caller.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Strategy {
    /// The available agent who has been idle longest (fair to agents).
    LongestIdle,
    /// Offer to every available agent at once; the first to accept takes it (small teams).
    RingAll,
    /// The available agent with the highest level in the caller's skill, then longest idle.
    Skills,
}

/// Where a caller goes when they leave a queue without an agent. Never a hang-up.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ExitTarget {
    /// To the switchboard (omstillingen).
    Switchboard,
    /// To record a message, which becomes an obligation.
    Message,
    /// To another queue, by name.
    Queue(String),
}

/// After `after` in the queue, a skill requirement is satisfied by level `min_level`
/// (0: by any agent of the queue, with or without the skill).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Widening {
    /// Time waited.
    pub after: Duration,
    /// The lowest level accepted from then on.
    pub min_level: u8,
}

/// One queue.
#[derive(Clone, Debug)]
pub struct QueueConfig {
    /// Unique name.
    pub name: String,
    /// Agent selection.
    pub strategy: Strategy,
    /// Default priority of its callers (higher is served first, across queues).
    pub priority: u8,
    /// A live caller who waited this long leaves to `exit_max_wait`.
    pub max_wait: Option<Duration>,
    /// Live callers waiting at most; one more goes to `exit_full`.
    pub max_length: Option<usize>,
    /// Target after `max_wait`.
    pub exit_max_wait: ExitTarget,
    /// Target when no agent of the queue is logged in.
    pub exit_no_agents: ExitTarget,
    /// Target when the queue is full.
    pub exit_full: ExitTarget,
    /// An offer not accepted in this time is withdrawn and counts as missed.
    pub offer_timeout: Duration,
    /// Wrap-up after each call before the agent is offered the next.
    pub wrap_up: Duration,
    /// Consecutive missed offers after which an agent is made not ready.
    pub missed_offers_limit: u32,
    /// Period of position announcements (none: only the one on arrival).
    pub announce_every: Option<Duration>,
    /// Handle time assumed before calls have been measured; used for estimated waits.
    pub expected_handle_time: Duration,
    /// How skill requirements relax with waiting, in increasing `after`.
    pub skill_widening: Vec<Widening>,
    /// Service-level threshold (answered within this counts as within target).
    pub service_level_target: Duration,
    /// Abandons sooner than this are short abandons (DOMAIN.md §5: 5 s).
    pub short_abandon: Duration,
}

impl QueueConfig {
    /// A queue with the defaults a municipality starts from: longest idle, 20 s offers,
    /// 3 missed offers, no wrap-up, no limits, exits to the switchboard.
    #[must_use]
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            strategy: Strategy::LongestIdle,
            priority: 0,
            max_wait: None,
            max_length: None,
            exit_max_wait: ExitTarget::Switchboard,
            exit_no_agents: ExitTarget::Switchboard,
            exit_full: ExitTarget::Switchboard,
            offer_timeout: Duration::from_secs(20),
            wrap_up: Duration::ZERO,
            missed_offers_limit: 3,
            announce_every: None,
            expected_handle_time: Duration::from_secs(180),
            skill_widening: Vec::new(),
            service_level_target: Duration::from_secs(60),
            short_abandon: Duration::from_secs(5),
        }
    }
}

/// One agent.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// Unique name (the employee's id).
    pub name: String,
    /// Queues the agent serves, by name.
    pub queues: Vec<String>,
    /// Skills by name with levels 1–9.
    pub skills: Vec<(String, u8)>,
}

/// Queues and agents.
#[derive(Clone, Debug, Default)]
pub struct AcdConfig {
    /// The queues.
    pub queues: Vec<QueueConfig>,
    /// The agents.
    pub agents: Vec<AgentConfig>,
}

/// A configuration the engine refuses, with every problem found.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid queue configuration: {}", problems.join("; "))]
pub struct ConfigError {
    /// Each problem in words.
    pub problems: Vec<String>,
}

/// The validated configuration, with names resolved to ids.
#[derive(Debug)]
pub(crate) struct Resolved {
    pub(crate) queues: Vec<ResolvedQueue>,
    pub(crate) agents: Vec<ResolvedAgent>,
    pub(crate) queue_names: HashMap<String, QueueId>,
    pub(crate) agent_names: HashMap<String, AgentId>,
    pub(crate) skill_names: HashMap<String, SkillId>,
}

#[derive(Debug)]
pub(crate) struct ResolvedQueue {
    pub(crate) config: QueueConfig,
    pub(crate) exit_max_wait: Exit,
    pub(crate) exit_no_agents: Exit,
    pub(crate) exit_full: Exit,
    pub(crate) members: Vec<AgentId>,
}

#[derive(Debug)]
pub(crate) struct ResolvedAgent {
    pub(crate) name: String,
    pub(crate) queues: Vec<QueueId>,
    pub(crate) skills: Vec<(SkillId, u8)>,
}

/// An exit target with the queue resolved.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Exit {
    /// To the switchboard.
    Switchboard,
    /// To record a message.
    Message,
    /// To another queue.
    Queue(QueueId),
}

impl AcdConfig {
    pub(crate) fn resolve(&self) -> Result<Resolved, ConfigError> {
        let mut problems = Vec::new();
        let mut queue_names = HashMap::new();
        if self.queues.len() > usize::from(u16::MAX) {
            problems.push(format!("{} queues, at most {}", self.queues.len(), u16::MAX));
        }
        for (i, q) in self.queues.iter().enumerate() {
            if q.name.trim().is_empty() {
                problems.push(format!("queue #{} has no name", i + 1));
            }
            if queue_names.contains_key(&q.name) {
                problems.push(format!("queue {:?} is defined twice", q.name));
            } else {
                queue_names.insert(q.name.clone(), QueueId(i as u16));
            }
            if q.offer_timeout.is_zero() {
                problems.push(format!("queue {:?}: offer_timeout must be above zero", q.name));
            }
            if q.missed_offers_limit == 0 {
                problems.push(format!("queue {:?}: missed_offers_limit must be at least 1", q.name));
            }
            if q.max_length == Some(0) {
                problems.push(format!("queue {:?}: max_length 0 would turn every caller away", q.name));
            }
            if q.announce_every.is_some_and(|d| d.is_zero()) {
                problems.push(format!("queue {:?}: announce_every must be above zero", q.name));
            }
            if q.skill_widening.windows(2).any(|w| w[0].after >= w[1].after) {
                problems.push(format!("queue {:?}: skill_widening steps must be in increasing time", q.name));
            }
        }
        let mut skill_names: HashMap<String, SkillId> = HashMap::new();
        let mut agent_names = HashMap::new();
        let mut agents = Vec::with_capacity(self.agents.len());
        let mut members = vec![Vec::new(); self.queues.len()];
        for (i, a) in self.agents.iter().enumerate() {
            let id = AgentId(i as u32);
            if agent_names.contains_key(&a.name) {
                problems.push(format!("agent {:?} is defined twice", a.name));
            } else {
                agent_names.insert(a.name.clone(), id);
            }
            let mut queues = Vec::new();
            for qn in &a.queues {
                match queue_names.get(qn) {
                    Some(&q) if !queues.contains(&q) => {
                        queues.push(q);
                        members[q.index()].push(id);
                    }
                    Some(_) => {}
                    None => problems.push(format!("agent {:?} serves unknown queue {qn:?}", a.name)),
                }
            }
            let mut skills = Vec::new();
            for (sn, level) in &a.skills {
                if !(1..=9).contains(level) {
                    problems.push(format!("agent {:?}: skill {sn:?} level {level} is not 1-9", a.name));
                }
                let next = SkillId(skill_names.len() as u16);
                let sid = *skill_names.entry(sn.clone()).or_insert(next);
                skills.push((sid, *level));
            }
            agents.push(ResolvedAgent { name: a.name.clone(), queues, skills });
        }
        let exit = |q: &QueueConfig, t: &ExitTarget, what: &str, problems: &mut Vec<String>| match t {
            ExitTarget::Switchboard => Exit::Switchboard,
            ExitTarget::Message => Exit::Message,
            ExitTarget::Queue(n) => match queue_names.get(n) {
                Some(&id) if *n != q.name => Exit::Queue(id),
                Some(_) => {
                    problems.push(format!("queue {:?}: {what} exit goes back to the same queue", q.name));
                    Exit::Switchboard
                }
                None => {
                    problems.push(format!("queue {:?}: {what} exit names unknown queue {n:?}", q.name));
                    Exit::Switchboard
                }
            },
        };
        let mut queues = Vec::with_capacity(self.queues.len());
        for (q, members) in self.queues.iter().zip(members) {
            queues.push(ResolvedQueue {
                exit_max_wait: exit(q, &q.exit_max_wait, "max-wait", &mut problems),
                exit_no_agents: exit(q, &q.exit_no_agents, "no-agents", &mut problems),
                exit_full: exit(q, &q.exit_full, "queue-full", &mut problems),
                config: q.clone(),
                members,
            });
        }
        // A caller sent on by "no agents" must reach a person or a message in the end:
        // the chain of no-agents exits may not loop.
        for start in 0..queues.len() {
            let mut seen = vec![false; queues.len()];
            let mut at = start;
            while let Exit::Queue(next) = queues[at].exit_no_agents {
                if seen[next.index()] {
                    problems.push(format!(
                        "queue {:?}: the no-agents exits form a loop; end it at the switchboard or a message",
                        queues[start].config.name
                    ));
                    break;
                }
                seen[next.index()] = true;
                at = next.index();
            }
        }
        if problems.is_empty() {
            Ok(Resolved { queues, agents, queue_names, agent_names, skill_names })
        } else {
            Err(ConfigError { problems })
        }
    }
}
