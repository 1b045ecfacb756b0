//! The `blockade` binary: parse, run one command, exit with its status.

use clap::Parser;

fn main() {
    let cli = blockade::cli::Cli::parse();
    let status = blockade::run(cli);
    std::process::exit(status.code());
}
