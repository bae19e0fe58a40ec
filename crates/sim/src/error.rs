//! Errors a user can cause. Every message is one line that names the key,
//! file or row at fault.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum SimError {
    /// A scenario that cannot be read or does not validate.
    #[error("{0}")]
    Scenario(String),
    /// A flow-size distribution file that is malformed.
    #[error("{0}")]
    Cdf(String),
    /// A flow-trace row that is invalid.
    #[error("{0}")]
    Trace(String),
    /// The run was interrupted (e.g. Ctrl-C from the Python front end).
    #[error("interrupted")]
    Interrupted,
}

pub type Result<T> = std::result::Result<T, SimError>;
