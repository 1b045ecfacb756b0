//! The commands that send, as one enum instead of strings: what each is called, what its
//! ledger lines say, and what its "done" means. A new sending command is a variant here,
//! and the compiler then points at every place that must handle it.

/// A command that sends requests and writes ledger lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `blockade block`: block every value of the inputs.
    Block,
    /// `blockade retry`: block again what a ledger's latest outcome says failed. Its
    /// lines are block lines.
    Retry,
    /// `blockade unblock`: delete the block records of values.
    Unblock,
    /// `blockade sync`: make the account hold a lasting block on every value listed. Its
    /// lines block (`blocked`, `renewed`: they say until when) or unblock (`unblocked`:
    /// a prune, or the delete of a record whose values are blocked again at once).
    Sync,
}

/// Every sending command.
const ALL: [Op; 4] = [Op::Block, Op::Retry, Op::Unblock, Op::Sync];

/// Fails to compile when a variant is added until it is handled here: add it to [`ALL`]
/// too, which reads run lines and ledger lines back.
const _EVERY_OP_IS_IN_ALL: () = {
    const fn listed(op: Op) {
        match op {
            Op::Block | Op::Retry | Op::Unblock | Op::Sync => {}
        }
    }
    listed(Op::Block)
};

impl Op {
    /// The command's name (the run line's `command`, the summary's first word).
    pub fn command(self) -> &'static str {
        match self {
            Op::Block => "block",
            Op::Retry => "retry",
            Op::Unblock => "unblock",
            Op::Sync => "sync",
        }
    }

    /// A run line's `command` read back (`None` for a command this version does not know).
    pub fn from_command(text: &str) -> Option<Op> {
        ALL.into_iter().find(|op| op.command() == text)
    }

    /// The `op` of its outcome lines; a block's (and a retry's) lines have none.
    pub fn ledger_op(self) -> Option<&'static str> {
        match self {
            Op::Block | Op::Retry => None,
            Op::Unblock => Some("unblock"),
            Op::Sync => Some("sync"),
        }
    }

    /// A line's `op` read back.
    pub fn from_ledger(text: &str) -> Option<Op> {
        ALL.into_iter().find(|op| op.ledger_op() == Some(text))
    }

    /// Whether the command blocks (its summary counts blocks). A sync's lines may also
    /// unblock: ask a line itself (`OutcomeRecord::blocks`).
    pub fn blocks(self) -> bool {
        match self {
            Op::Block | Op::Retry | Op::Sync => true,
            Op::Unblock => false,
        }
    }

    /// Whether a line of this command blocks, given whether it says until when: a
    /// block's and a retry's always; a sync's or an unblock's only with a `block_till`
    /// (their deletes have none).
    pub fn line_blocks(self, has_block_till: bool) -> bool {
        match self {
            Op::Block | Op::Retry => true,
            Op::Sync | Op::Unblock => has_block_till,
        }
    }

    /// Whether the command takes `--resume` (the same command line again picks up what
    /// was not sent). `retry` is simply run again, and so is `sync`: it plans from the
    /// account each time, so a second run does what the first left undone.
    pub fn resumes(self) -> bool {
        match self {
            Op::Block | Op::Unblock => true,
            Op::Retry | Op::Sync => false,
        }
    }

    /// How its failures are sent again: blocks by `blockade retry LEDGER`; a retry or a
    /// sync by running it again; an unblock by itself with `--resume` (`retry` re-sends
    /// blocks, never unblocks).
    pub fn resend(self) -> Resend {
        match self {
            Op::Block => Resend::RetryCommand,
            Op::Retry | Op::Unblock | Op::Sync => Resend::RunAgain,
        }
    }
}

/// How a command's failures are sent again (see [`Op::resend`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resend {
    RetryCommand,
    RunAgain,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for op in ALL {
            assert_eq!(Op::from_command(op.command()), Some(op));
            if let Some(word) = op.ledger_op() {
                assert_eq!(Op::from_ledger(word), Some(op));
            }
        }
        assert_eq!(Op::from_ledger("block"), None);
    }
}
