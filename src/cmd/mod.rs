//! One module per subcommand, each the same shape: a doc block saying what the command
//! does, and `run(args) -> Result<ExitStatus>` that dispatches on the kind of value once,
//! at its top. No command imports another: what they share lives in `job/`.

pub mod block;
pub mod blocked;
pub mod mock;
pub mod report;
pub mod retry;
pub mod sync;
pub mod unblock;
pub mod verify;
