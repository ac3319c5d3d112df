//! `loadgen-epoll`: the first echo load generator (plain rustix epoll), kept as the
//! reference the ioman-based `loadgen` is compared with. Same flags, same output lines,
//! same exit status as `loadgen`.
#![forbid(unsafe_code)]

fn main() -> anyhow::Result<()> {
    let args = std::env::args().skip(1);
    ioman_bench::loadgen::command_line("loadgen-epoll", args, ioman_bench::loadgen_epoll::run)
}
