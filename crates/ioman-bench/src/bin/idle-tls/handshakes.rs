//! The `handshakes` mode: new TLS connections per second, one full handshake and one
//! `Connection: close` request each, `conns` of them in flight on one thread (mio, edge
//! triggered). The client keeps no sessions, so no handshake resumes; every handshake's kind
//! is checked anyway and the resumed ones counted.

use super::http;
use anyhow::{Context, Result, bail, ensure};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rustls::{ClientConfig, ClientConnection, HandshakeKind};
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one run does.
pub struct Spec {
    /// The server.
    pub addr: SocketAddr,
    /// Connections in flight.
    pub conns: usize,
    /// How long to run, in seconds.
    pub secs: f64,
    /// Stop after this many completed connections even if time remains.
    pub max: u64,
    /// The request (with `Connection: close`).
    pub request: Vec<u8>,
    /// The expected body size.
    pub size: usize,
}

/// One connection in flight.
struct Slot {
    sock: TcpStream,
    tls: ClientConnection,
    sent: bool,
    got: Vec<u8>,
}

/// The most failed connections tolerated before the run is abandoned.
const MAX_ERRORS: u64 = 100;
/// The longest stretch without a completed connection.
const STALL: Duration = Duration::from_secs(10);

/// Runs; returns the JSON line.
pub fn run(spec: &Spec, config: Arc<ClientConfig>) -> Result<String> {
    ensure!(spec.conns > 0 && spec.secs > 0.0, "--conns and --secs must be positive");
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut slots: Vec<Option<Slot>> = Vec::with_capacity(spec.conns);
    for i in 0..spec.conns {
        slots.push(Some(open(&poll, Token(i), spec.addr, &config)?));
    }
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(spec.secs);
    let (mut done, mut resumed, mut errors) = (0u64, 0u64, 0u64);
    let mut last_done = start;
    let mut negotiated = None;
    let mut first_error = None;
    let mut buf = vec![0u8; 16 * 1024];
    let mut in_flight = spec.conns;
    let mut measured = None; // (completed, seconds) when the measured time ended
    // After the measured time, the connections in flight finish (uncounted, within `STALL`)
    // instead of being dropped mid-handshake, which the server would have to time out.
    while in_flight > 0 {
        let now = Instant::now();
        if measured.is_none() && (now >= end || done >= spec.max) {
            measured = Some((done, (now - start).as_secs_f64()));
        }
        if now.saturating_duration_since(end) > STALL || last_done.elapsed() > STALL {
            bail!("no connection completed for {STALL:?} ({done} so far, {in_flight} in flight)");
        }
        poll.poll(&mut events, Some(Duration::from_millis(50)))?;
        for ev in events.iter() {
            let i = ev.token().0;
            let Some(slot) = slots[i].as_mut() else { continue };
            let finished = match drive(slot, &spec.request, spec.size, &mut buf) {
                Ok(false) => continue,
                Ok(true) => {
                    done += 1;
                    last_done = Instant::now();
                    if slot.tls.handshake_kind() == Some(HandshakeKind::Resumed) {
                        resumed += 1;
                    }
                    negotiated.get_or_insert_with(|| super::negotiated(&slot.tls));
                    slot.tls.send_close_notify();
                    let _ = slot.tls.write_tls(&mut slot.sock);
                    slots[i].take()
                }
                Err(e) => {
                    errors += 1;
                    first_error.get_or_insert_with(|| format!("{e:#}"));
                    slots[i].take()
                }
            };
            if let Some(mut old) = finished {
                poll.registry().deregister(&mut old.sock)?;
            }
            if errors > MAX_ERRORS {
                bail!(
                    "{errors} failed connections; the first: {}",
                    first_error.unwrap_or_default()
                );
            }
            match measured {
                None => slots[i] = Some(open(&poll, Token(i), spec.addr, &config)?),
                Some(_) => in_flight -= 1,
            }
        }
    }
    let (done, secs) = measured.unwrap_or((done, start.elapsed().as_secs_f64()));
    ensure!(done > 0, "no connection completed");
    Ok(format!(
        "{{\"done\":{done},\"secs\":{secs:.3},\"per_sec\":{:.1},\"resumed\":{resumed},\
         \"errors\":{errors},\"first_error\":{},{}}}",
        done as f64 / secs,
        super::quote(&first_error.unwrap_or_default()),
        negotiated.unwrap_or_default()
    ))
}

/// A new non-blocking connection with its client session, registered under `token`.
fn open(poll: &Poll, token: Token, addr: SocketAddr, config: &Arc<ClientConfig>) -> Result<Slot> {
    let mut sock = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    sock.set_nodelay(true)?;
    poll.registry().register(&mut sock, token, Interest::READABLE | Interest::WRITABLE)?;
    let tls = super::session(config, "localhost")?;
    Ok(Slot { sock, tls, sent: false, got: Vec::with_capacity(1024) })
}

/// Moves one connection as far as it goes without blocking; `true` once the whole response
/// arrived.
fn drive(slot: &mut Slot, request: &[u8], size: usize, buf: &mut [u8]) -> Result<bool> {
    loop {
        let mut progress = false;
        while slot.tls.wants_write() {
            match slot.tls.write_tls(&mut slot.sock) {
                Ok(_) => progress = true,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => return Err(e).context("sending"),
            }
        }
        let mut eof = false;
        match slot.tls.read_tls(&mut slot.sock) {
            Ok(0) => eof = true,
            Ok(_) => progress = true,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(e).context("receiving"),
        }
        slot.tls.process_new_packets().context("TLS")?;
        if !slot.sent && !slot.tls.is_handshaking() {
            slot.tls.writer().write_all(request)?;
            slot.sent = true;
            progress = true;
        }
        loop {
            match slot.tls.reader().read(buf) {
                Ok(0) => break, // close_notify
                Ok(n) => slot.got.extend_from_slice(&buf[..n]),
                // Would block, or the end without close_notify: what arrived is checked below.
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::UnexpectedEof) => {
                    break;
                }
                Err(e) => return Err(e).context("reading plaintext"),
            }
        }
        if http::complete(&slot.got, size)?.is_some() {
            return Ok(true);
        }
        if eof {
            bail!("closed after {} bytes of the response", slot.got.len());
        }
        if !progress {
            return Ok(false);
        }
    }
}
