//! Which external tools the comparisons need, finding them on `PATH` (and the sbin
//! directories, where Debian puts nginx), and the one apt-get line that installs them all.

use super::Ctx;
use std::path::PathBuf;

/// The Debian packages that provide every peer and tool.
pub const APT_FIX: &str = "apt-get install -y wrk nginx-light redis-server redis-tools valgrind";

/// Each tool the benchmark may use.
pub const TOOLS: &[&str] =
    &["taskset", "wrk", "nginx", "redis-server", "redis-benchmark", "valgrind"];

/// The full path of `name`, if it is installed.
pub fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Notes every missing tool once, up front, and decides whether to pin with `taskset`.
pub fn check(ctx: &mut Ctx) {
    let missing: Vec<&str> = TOOLS.iter().copied().filter(|t| find(t).is_none()).collect();
    ctx.pin = find("taskset").is_some();
    if !missing.is_empty() {
        ctx.skip(format!(
            "not installed: {}; comparisons needing them are skipped. Fix: `{APT_FIX}`",
            missing.join(", ")
        ));
    }
    if !ctx.pin {
        ctx.skip("taskset missing: servers and clients run unpinned (figures are noisier)");
    }
}

/// The tool's path, or a note that the comparison `what` is skipped without it.
pub fn need(ctx: &mut Ctx, name: &str, what: &str) -> Option<PathBuf> {
    let found = find(name);
    if found.is_none() {
        ctx.skip(format!("{what}: {name} not installed (`{APT_FIX}`)"));
    }
    found
}
