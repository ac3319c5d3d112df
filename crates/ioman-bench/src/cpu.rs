//! The CPU time this process has used, user and system, read from `/proc/self/stat`: load
//! generators report it per message, so that two generators can be compared by what each
//! costs its own CPU, a steadier figure than the throughput it lets the server reach.

use std::time::Duration;

/// Clock ticks per second of `/proc`'s times (`USER_HZ`, 100 on every Linux architecture
/// this project builds for).
const TICKS_PER_SEC: u64 = 100;

/// CPU time used so far, all threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTimes {
    /// In user mode.
    pub user: Duration,
    /// In the kernel, on the process's behalf (its system calls).
    pub system: Duration,
}

impl CpuTimes {
    /// This process's times now; `None` if `/proc/self/stat` cannot be read or parsed.
    pub fn own() -> Option<CpuTimes> {
        parse(&std::fs::read_to_string("/proc/self/stat").ok()?)
    }
}

/// `utime` and `stime` (fields 14 and 15) of a `/proc/PID/stat` line. The command name
/// (field 2) may hold spaces and parentheses, so fields are counted after its last `)`.
fn parse(stat: &str) -> Option<CpuTimes> {
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace().skip(11); // field 3 (state) is the first here
    let ticks = |t: u64| Duration::from_millis(t * 1000 / TICKS_PER_SEC);
    let user = ticks(fields.next()?.parse().ok()?);
    let system = ticks(fields.next()?.parse().ok()?);
    Some(CpuTimes { user, system })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_counted_after_the_command_name() {
        let line = "4242 (a (b) c) R 1 2 3 4 5 6 7 8 9 10 250 31 0 0 20 0 1 0 5 6 7";
        let times = parse(line).unwrap();
        assert_eq!(times.user, Duration::from_millis(2500));
        assert_eq!(times.system, Duration::from_millis(310));
        assert_eq!(parse("4242 (x) R 1 2"), None);
        assert!(CpuTimes::own().is_some());
    }
}
