//! The `blockade` binary: parse, run one command, exit with its status.

use clap::Parser;

// mimalloc instead of the system allocator: the pool allocates small, short-lived buffers
// for every request, and this cut the CPU per request measurably (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = match blockade::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // A value clap refuses (e.g. `--block-till garbage`) is an exit 2 like any
            // other: monitoring still gets its --summary-json.
            if error.use_stderr() {
                write_usage_summary(&error);
            }
            error.exit()
        }
    };
    let status = blockade::run(cli);
    std::process::exit(status.code());
}

/// The `--summary-json` of a command line clap refused, found by a plain scan (nothing
/// else of it can be trusted): `--summary-json PATH` or `--summary-json=PATH`.
fn write_usage_summary(error: &clap::Error) {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let path = args.iter().enumerate().find_map(|(i, arg)| {
        let text = arg.to_str()?;
        if text == "--summary-json" {
            args.get(i + 1).map(std::path::PathBuf::from)
        } else {
            text.strip_prefix("--summary-json=")
                .map(std::path::PathBuf::from)
        }
    });
    let Some(path) = path else { return };
    let command = args
        .iter()
        .filter_map(|arg| arg.to_str())
        .find_map(blockade::Op::from_command)
        .map_or("blockade", blockade::Op::command);
    // The message is the first paragraph (then come Usage and the --help hint).
    let text = error.to_string();
    let reason = text
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    let reason = reason.trim_start_matches("error: ");
    blockade::write_error_summary(Some(&path), command, &anyhow::anyhow!("{reason}"));
}
