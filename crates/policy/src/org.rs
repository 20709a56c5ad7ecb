//! The organisation as routing sees it: employees, teams and departments, each
//! employee's coverage chain (ring me, then colleagues, then the team, then the
//! switchboard), and presence.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// How a group of phones is rung.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RingMode {
    /// All at once.
    Parallel,
    /// One after another, each for the step's time.
    InTurn,
}

/// What happens when nobody in the chain answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LastResort {
    /// The switchboard (the policy's default: a person answers).
    Switchboard,
    /// Voicemail: only where explicitly configured; counted.
    Voicemail,
}

/// An employee's coverage chain (P2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// Seconds the employee's own phone rings.
    pub ring_me_s: u32,
    /// Colleagues who cover, in order.
    pub colleagues: Vec<String>,
    /// How colleagues are rung.
    pub colleague_mode: RingMode,
    /// Seconds per colleague step.
    pub colleague_s: u32,
    /// Seconds the rest of the team rings.
    pub team_s: u32,
    /// After everyone.
    pub last: LastResort,
}

impl Default for Coverage {
    fn default() -> Self {
        Self {
            ring_me_s: 15,
            colleagues: Vec::new(),
            colleague_mode: RingMode::Parallel,
            colleague_s: 15,
            team_s: 20,
            last: LastResort::Switchboard,
        }
    }
}

/// An employee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Employee {
    /// Extension (also the id).
    pub extension: String,
    /// Name.
    pub name: String,
    /// Team id.
    pub team: String,
    /// The colleague who takes over when this one is absent ("knows the case", P3).
    pub backup: Option<String>,
    /// Coverage chain.
    pub coverage: Coverage,
    /// Skills with levels 1–5.
    pub skills: Vec<(String, u8)>,
    /// Languages spoken.
    pub languages: Vec<String>,
    /// The employee's direct number, if they have one.
    pub direct_number: Option<String>,
}

/// A team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Department id.
    pub department: String,
    /// Team lead's extension.
    pub lead: Option<String>,
    /// How the team group rings.
    pub mode: RingMode,
}

/// Presence (issue 4 §3). A meeting is not an absence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// Free to answer.
    Available,
    /// On a call.
    OnCall,
    /// In a meeting: the phone still rings, coverage follows quickly.
    InMeeting,
    /// Away from the desk for a while.
    Away {
        /// Back at.
        until: Option<Timestamp>,
    },
    /// Ill.
    Ill {
        /// Expected back.
        until: Option<Timestamp>,
    },
    /// On holiday.
    Holiday {
        /// Back at.
        until: Option<Timestamp>,
    },
    /// Not working now.
    OffDuty,
}

impl Presence {
    /// Absent: the employee cannot take calls at all; their backup does.
    #[must_use]
    pub fn is_absent(&self) -> bool {
        matches!(self, Self::Away { .. } | Self::Ill { .. } | Self::Holiday { .. } | Self::OffDuty)
    }

    /// When the employee is back, if known.
    #[must_use]
    pub fn back_at(&self) -> Option<Timestamp> {
        match self {
            Self::Away { until } | Self::Ill { until } | Self::Holiday { until } => *until,
            _ => None,
        }
    }
}

/// The organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    /// Centres (the level between the municipality and its departments).
    pub centres: Vec<Centre>,
    /// Departments and the centre each belongs to.
    pub departments: Vec<OrgDepartment>,
    /// Employees.
    pub employees: Vec<Employee>,
    /// Teams.
    pub teams: Vec<Team>,
    /// The switchboard's department id.
    pub switchboard: String,
}

/// A centre: a group of departments under one director (e.g. "Borger og Arbejdsmarked").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Centre {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// A department's place in the organisation (its phone hours live in the calendar).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgDepartment {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The centre it belongs to.
    pub centre: Option<String>,
}

impl Organisation {
    /// The departments of a centre.
    pub fn departments_of<'a>(&'a self, centre: &'a str) -> impl Iterator<Item = &'a OrgDepartment> + 'a {
        self.departments.iter().filter(move |d| d.centre.as_deref() == Some(centre))
    }

    /// An employee by extension.
    #[must_use]
    pub fn employee(&self, ext: &str) -> Option<&Employee> {
        self.employees.iter().find(|e| e.extension == ext)
    }

    /// A team by id.
    #[must_use]
    pub fn team(&self, id: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.id == id)
    }

    /// A team's members.
    pub fn members<'a>(&'a self, team: &'a str) -> impl Iterator<Item = &'a Employee> + 'a {
        self.employees.iter().filter(move |e| e.team == team)
    }

    /// Teams of a department.
    pub fn teams_of<'a>(&'a self, department: &'a str) -> impl Iterator<Item = &'a Team> + 'a {
        self.teams.iter().filter(move |t| t.department == department)
    }
}
