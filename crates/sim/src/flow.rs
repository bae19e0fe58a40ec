//! Flows: what the workload asks for, and what happened to it.

use crate::ids::HostId;
use crate::units::Picos;

/// One flow of the workload.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowSpec {
    pub src: HostId,
    pub dst: HostId,
    /// Payload bytes (application data, headers excluded).
    pub size: u64,
    /// Arrival time at the source.
    pub start: Picos,
    pub tenant: u32,
    /// Deadline relative to `start`, if the flow has one.
    pub deadline: Option<Picos>,
    /// A user-given priority class (0 is the most urgent); transports may use it.
    pub priority: u32,
}

/// The outcome of a flow, filled in as the run goes.
#[derive(Clone, Debug, Default)]
pub struct FlowOutcome {
    pub finish: Option<Picos>,
    pub retransmits: u32,
    pub drops: u32,
}
