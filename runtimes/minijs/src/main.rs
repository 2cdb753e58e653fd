//! `minijs [--gc-report] [--trace-gc] [--max-old-space-size=MB] [--stop-the-world] [--heap-snapshot=FILE] FILE [ARGS]`

use std::process::ExitCode;

fn main() -> ExitCode {
    minijs::cli::main(std::env::args().skip(1).collect())
}
