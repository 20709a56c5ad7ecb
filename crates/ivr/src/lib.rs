//! IVR as data (issue 3 §6–7): menus are configuration, not code. A [`Runner`] walks one
//! caller through them: it says what to play, waits for keys with timeouts, repeats
//! after an invalid key or silence, and after the last retry sends the caller to a
//! person (the switchboard), never to a hang-up. Every step lands in the call-flow
//! trace. [`speech`] composes Danish prompt sequences ("du er nummer 3 i køen").
//!
//! Pure: time and the departments' openness come in as inputs; playing audio and
//! routing the call are the driver's business.

mod menu;
mod runner;
pub mod speech;

pub use menu::{
    Action, IvrConfig, Menu, MenuError, MenuId, Prompt, RawAction, RawMenu, RawOpen, Target, TimeCondition,
};
pub use runner::{Facts, Input, Output, Runner, Step, TraceStep};
