//! What the operator sees: the progress bar or lines, the logs, the end-of-run summary.

pub(crate) mod logging;
pub(crate) mod progress;
pub(crate) mod summary;
