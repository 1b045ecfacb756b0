//! The `blockade` binary: parse, run one command, exit with its status.

use clap::Parser;

// mimalloc instead of the system allocator: the pool allocates small, short-lived buffers
// for every request, and this cut the CPU per request measurably (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = match blockade::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if error.use_stderr() => {
            // A value clap refuses (e.g. `--block-till garbage`) is an exit 2 like any
            // other: monitoring still gets its --summary-json, and JSON logs a JSON line.
            blockade::usage_error(&error);
            std::process::exit(error.exit_code());
        }
        Err(help_or_version) => help_or_version.exit(),
    };
    let status = blockade::run(cli);
    std::process::exit(status.code());
}
