//! Per-stage wall times; progress, cancellation and intermediates go through
//! [`ultrares_core::observer`] (re-exported here).

use std::time::Duration;

use crate::Stage;

/// Wall time of one stage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StageTiming {
    /// The stage.
    pub stage: Stage,
    /// Its wall time (device work included: the stage ends with a host read-back).
    pub elapsed: Duration,
}
