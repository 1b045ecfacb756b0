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
}

impl Op {
    /// The command's name (the run line's `command`, the summary's first word).
    pub fn command(self) -> &'static str {
        match self {
            Op::Block => "block",
            Op::Retry => "retry",
            Op::Unblock => "unblock",
        }
    }

    /// A run line's `command` read back (`None` for a command this version does not know).
    pub fn from_command(text: &str) -> Option<Op> {
        [Op::Block, Op::Retry, Op::Unblock]
            .into_iter()
            .find(|op| op.command() == text)
    }

    /// The `op` of its outcome lines; a block's (and a retry's) lines have none.
    pub fn ledger_op(self) -> Option<&'static str> {
        match self {
            Op::Block | Op::Retry => None,
            Op::Unblock => Some("unblock"),
        }
    }

    /// A line's `op` read back.
    pub fn from_ledger(text: &str) -> Option<Op> {
        match text {
            "unblock" => Some(Op::Unblock),
            _ => None,
        }
    }

    /// Whether the op's lines block (and so say until when).
    pub fn blocks(self) -> bool {
        match self {
            Op::Block | Op::Retry => true,
            Op::Unblock => false,
        }
    }

    /// Whether the command takes `--resume` (the same command line again picks up what
    /// was not sent). `retry` is simply run again.
    pub fn resumes(self) -> bool {
        match self {
            Op::Block | Op::Unblock => true,
            Op::Retry => false,
        }
    }

    /// How its failures are sent again: blocks by `blockade retry LEDGER`; a retry by
    /// running it again; an unblock by itself with `--resume` (`retry` re-sends blocks,
    /// never unblocks).
    pub fn resend(self) -> Resend {
        match self {
            Op::Block => Resend::RetryCommand,
            Op::Retry | Op::Unblock => Resend::RunAgain,
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
        for op in [Op::Block, Op::Retry, Op::Unblock] {
            assert_eq!(Op::from_command(op.command()), Some(op));
            if let Some(word) = op.ledger_op() {
                assert_eq!(Op::from_ledger(word), Some(op));
            }
        }
        assert_eq!(Op::from_ledger("block"), None);
    }
}
