//! `loadgen`: the echo load generator's command line. Runs [`ioman_bench::loadgen::run`]
//! (ioman's own `Connector` and `Protocol`), prints one human line and one JSON line, and
//! exits non-zero if any echoed byte was wrong or any connection failed.
#![forbid(unsafe_code)]

fn main() -> anyhow::Result<()> {
    let args = std::env::args().skip(1);
    ioman_bench::loadgen::command_line("loadgen", args, ioman_bench::loadgen::run)
}
