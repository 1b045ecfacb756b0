//! The "Next:" commands a summary prints: commands that work as printed, naming the
//! program as it was started and the target flags of the run (never the key).

use std::path::Path;

use crate::cli::ConnectionArgs;
use crate::ledger::{Op, Resend};
use crate::ui::summary::NextCommands;
use crate::values::ValueType;

/// The target flags of a run, as a later command needs them to reach the same target:
/// never the key, only where it comes from.
pub fn target_flags(args: &ConnectionArgs) -> Vec<String> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let mut flags = Vec::new();
    if args.sandbox {
        flags.push("--sandbox".to_owned());
    } else if let Some(account) = args.account.clone().or_else(|| {
        args.base_url
            .is_none()
            .then(|| env("ACQUIRE_ACCOUNT"))
            .flatten()
    }) {
        flags.extend(["--account".to_owned(), account]);
    } else if let Some(url) = args.base_url.clone().or_else(|| env("ACQUIRE_BASE_URL")) {
        flags.extend(["--base-url".to_owned(), url]);
    }
    if let Some(file) = &args.api_key_file {
        flags.extend(["--api-key-file".to_owned(), file.display().to_string()]);
    }
    flags
}

/// The "Next:" commands of a sending run: `retry` of its ledger for this run's type
/// against the same target (`--type` always: the ledger may hold failures of another
/// type too, and `retry` then asks for it), and this very command line again, with
/// `--resume` where the command has one (for what was not sent). A failed unblock is sent
/// again by the same unblock with `--resume`: `retry` re-sends blocks, never unblocks;
/// but a failed block again of a deleted record's other values is a block, for `retry`.
pub fn next_commands(
    op: Op,
    value_type: ValueType,
    args: &ConnectionArgs,
    ledger: &Path,
) -> NextCommands {
    let mut again: Vec<String> = std::iter::once(crate::ui::program_name())
        .chain(std::env::args().skip(1))
        .collect();
    if op.resumes() && !again.iter().any(|arg| arg == "--resume") {
        again.push("--resume".to_owned());
    }
    let again = quote(again);
    let mut retry = vec![
        crate::ui::program_name(),
        "retry".to_owned(),
        ledger.display().to_string(),
        "--type".to_owned(),
        value_type.as_str().to_owned(),
    ];
    retry.extend(target_flags(args));
    let block_again = quote(retry);
    let retry = if op.resend() == Resend::RetryCommand {
        block_again.clone()
    } else {
        again.clone()
    };
    NextCommands {
        retry,
        block_again,
        resume: again,
    }
}

/// A command line as a shell reads it back.
fn quote(words: Vec<String>) -> String {
    words
        .iter()
        .map(|word| {
            shlex::try_quote(word).map_or_else(|_| word.clone(), |quoted| quoted.into_owned())
        })
        .collect::<Vec<_>>()
        .join(" ")
}
