//! Child processes for the benchmarks: servers that are always stopped (SIGTERM, then
//! SIGKILL) when their guard drops, clients that are killed if they overrun their time
//! bound, CPU pinning with `taskset`, free loopback ports and per-process CPU time.

use anyhow::{Context, Result, bail};
use std::fs::File;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Where servers run and where clients run: different CPUs.
pub const SERVER_CPU: &str = "0";
/// The CPU the load generators are pinned to.
pub const CLIENT_CPU: &str = "1";

/// A command, pinned to `cpus` with `taskset -c` when `pin` is true.
pub fn command(pin: bool, cpus: &str, program: &Path) -> Command {
    if pin {
        let mut c = Command::new("taskset");
        c.arg("-c").arg(cpus).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// A loopback port that was free a moment ago (bind port 0, read it, close).
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("bind 127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// A running server; dropping it stops it and reaps it, on every path.
pub struct Server {
    /// Human name, for messages.
    pub name: String,
    /// Where it listens (always 127.0.0.1).
    pub addr: SocketAddr,
    child: Child,
}

impl Server {
    /// Starts `cmd` with stdout and stderr appended to `log`, and waits until `port` accepts
    /// a connection (at most 15 s), failing early if the process exits.
    pub fn start(name: &str, cmd: Command, port: u16, log: &Path) -> Result<Server> {
        let accepts = |port: u16| {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        };
        Server::start_with(name, cmd, port, log, accepts)
    }

    /// As [`start`](Self::start), waiting until `ready(port)` holds instead (a UDP server
    /// answers a probe datagram, for example).
    pub fn start_with(
        name: &str,
        mut cmd: Command,
        port: u16,
        log: &Path,
        ready: impl Fn(u16) -> bool,
    ) -> Result<Server> {
        let out = File::create(log).with_context(|| format!("create {}", log.display()))?;
        let err = out.try_clone()?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("start {name}: {cmd:?}"))?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mut server = Server { name: name.to_owned(), addr, child };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = server.child.try_wait()? {
                let tail = std::fs::read_to_string(log).unwrap_or_default();
                let tail: String = tail.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
                bail!("{name} exited at startup ({status}); log {}: {tail}", log.display());
            }
            if ready(port) {
                return Ok(server);
            }
            if Instant::now() > deadline {
                bail!("{name} was not ready on {addr} within 15 s");
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The process id (that of the server itself: `taskset` execs it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time the server's threads have used so far (from `/proc/PID/task/*/schedstat`).
    pub fn cpu(&self) -> Option<Duration> {
        let dir = std::fs::read_dir(format!("/proc/{}/task", self.pid())).ok()?;
        let mut ns = 0u64;
        for task in dir.flatten() {
            let s = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
            ns += s.split_whitespace().next()?.parse::<u64>().ok()?;
        }
        Some(Duration::from_nanos(ns))
    }
}

impl Server {
    /// Stops the server with SIGTERM and waits (at most `limit`) for it to exit: for a server
    /// whose exit writes something (callgrind's counts). Killed if it outlives `limit`.
    pub fn stop(mut self, limit: Duration) -> Result<()> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(50));
        }
        bail!("{} did not exit within {limit:?} of SIGTERM", self.name) // Drop kills it
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        // SIGTERM first, so a master process (nginx) takes its workers down with it.
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a client to completion, capturing its output; kills it if it runs past `limit`.
pub fn run_bounded(mut cmd: Command, limit: Duration) -> Result<Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("start {cmd:?}"))?;
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out_t = thread::spawn(move || drain(&mut out));
    let err_t = thread::spawn(move || drain(&mut err));
    let deadline = Instant::now() + limit;
    let status: ExitStatus = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{cmd:?} ran past its {limit:?} bound and was killed");
        }
        thread::sleep(Duration::from_millis(20));
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    Ok(Output { status, stdout, stderr })
}

fn drain(r: &mut impl Read) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = r.read_to_end(&mut v);
    v
}
