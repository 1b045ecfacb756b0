//! What the commands share, below `cmd/` (no command imports another): reaching the
//! target, reading inputs into batches, reading what a ledger says, listing the block
//! list, working out an unblock's deletes, the ledger line of each outcome, and sending
//! with a summary at the end.

pub mod apply;
pub mod history;
pub mod listing;
pub mod next;
pub mod output;
pub mod plan;
pub mod preflight;
pub mod read;
pub mod record;
pub mod send;
pub mod signals;
pub mod sync;
pub mod target;
pub mod unblock;
pub mod verify;
