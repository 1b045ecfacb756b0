//! The `blockade` binary: parse, run one command, exit with its status.

use clap::Parser;

// mimalloc instead of the system allocator: the pool allocates small, short-lived buffers
// for every request, and this cut the CPU per request measurably (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = blockade::cli::Cli::parse();
    let status = blockade::run(cli);
    std::process::exit(status.code());
}
