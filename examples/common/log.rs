//! The example servers' logging: what ioman-net reports through `tracing` (accept pauses when
//! out of fds, evicted or failed connections, protocol panics) is written to stderr, from level
//! INFO. A library never prints by itself; an application chooses its subscriber, as here.

/// Installs the stderr subscriber (once; later calls do nothing).
pub fn init() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .try_init();
}
