//! The chat room: every line a client sends is broadcast to the other clients, prefixed with
//! the sender's nickname. Shows connections cooperating through loop-wide state: the room
//! (`Net<Room>`) knows who is in it, and a line reaches the others by key, through their
//! mailboxes ([`Peer`]), as one shared buffer (`send_shared`: the line is never copied per
//! reader).
//!
//! Commands: `/nick NAME` (1 to 32 printable characters, no spaces), `/quit`. New clients are
//! called `guest-N`.
//!
//! Flow control, all of it ioman-net's:
//! - **A fast sender is slowed to its readers' pace.** When a line leaves a reader with
//!   [`HIGH_WATER`] bytes or more waiting, the sender stops reading
//!   ([`ProtoContext::wait_for`]) until that reader drained; its unread lines wait in its
//!   socket and are handled afterwards. Well-behaved readers are never disconnected for
//!   being slower than a burst.
//! - **A reader that takes nothing is disconnected** by the send timeout ([`SEND_TIMEOUT`]):
//!   the others are told it was "too slow to read", and whoever waited for it goes on.
//! - **Memory stays bounded**: a reader holds at most [`MAX_BACKLOG`] bytes (past it, sends
//!   to it are refused and it is disconnected the same way), a line is at most [`MAX_LINE`].
//! - **Joins and departures cost O(room) per turn, not per event**: they are collected and
//!   announced once per loop turn (by a wake-only registration), as one shared line; past
//!   [`MAX_NAMED`] events in one turn the announcement is a count. Nicknames are unique through
//!   an index, not a scan.
//!
//! This file is shared by `main.rs` and the tests (`#[path]`), so it holds no `main`.

use ioman::net::framing::{Frames, Lines};
use ioman::net::{CloseReason, ConnConfig, Listener, Net, NetError, Outbox, Peer};
use ioman::net::{ProtoContext, Protocol};
use ioman::{Context, Handler, Key, Manager, Timeout, Timer};
use rustix::fd::{BorrowedFd, OwnedFd};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

/// Bytes waiting for one reader at which a sender waits for it.
pub const HIGH_WATER: usize = 64 * 1024;
/// Output allowed to wait for one client before it is disconnected as a slow consumer.
pub const MAX_BACKLOG: usize = 1024 * 1024;
/// How long a reader may take nothing while lines wait for it.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest line accepted (without its newline).
pub const MAX_LINE: usize = 4096;
/// The longest nickname.
pub const MAX_NICK: usize = 32;
/// The most joins and departures named in one announcement; more are counted.
pub const MAX_NAMED: usize = 8;

/// The loop-wide state: who is in the room.
#[derive(Default)]
pub struct Room {
    members: BTreeMap<Key, String>,
    nicks: HashMap<String, Key>,
    guests: u64,
    /// Joins and departures of this turn, announced together by the announcer.
    presence: Vec<Presence>,
    /// The wake-only registration that announces `presence`.
    announcer: Option<Key>,
}

/// One join or departure, waiting to be announced.
enum Presence {
    Joined(String),
    Left(String, &'static str),
}

impl Room {
    fn rename(&mut self, key: Key, new: String) -> Option<String> {
        let old = self.members.insert(key, new.clone());
        if let Some(old) = &old {
            self.nicks.remove(old);
        }
        self.nicks.insert(new, key);
        old
    }

    fn remove(&mut self, key: Key) -> Option<String> {
        let nick = self.members.remove(&key)?;
        self.nicks.remove(&nick);
        Some(nick)
    }
}

/// The connection settings the chat uses: 10 min idle, readers waited for at [`HIGH_WATER`],
/// disconnected after [`SEND_TIMEOUT`] without reading or past [`MAX_BACKLOG`].
pub fn config() -> ConnConfig {
    ConnConfig::default()
        .idle(Timeout::Idle(Duration::from_secs(600)))
        .send_timeout(Some(SEND_TIMEOUT))
        .watermarks(HIGH_WATER / 4, HIGH_WATER)
        .max_output(MAX_BACKLOG)
        .max_input(MAX_LINE + 2)
}

/// Registers the chat listener for `socket` with `manager`, and the room's announcer.
pub fn build(
    manager: &mut Manager<Net<Room>>,
    socket: OwnedFd,
    config: ConnConfig,
) -> Result<Key, NetError> {
    open_room(manager)?;
    Listener::serve(config, || Member).register(manager, socket)
}

/// Registers the room's announcer (see [`Announcer`]); `build` does it for a server, a test
/// driving members without sockets does it itself.
pub fn open_room(manager: &mut Manager<Net<Room>>) -> Result<(), NetError> {
    let announcer = manager.add_timer(Timer::once(Duration::from_secs(1)), Announcer)?;
    manager.set_timeout(announcer, Timeout::Never)?;
    manager.state_mut().app_mut().announcer = Some(announcer);
    Ok(())
}

/// One client. Its nickname lives in the room, where the others can see it.
pub struct Member;

impl Protocol<Room> for Member {
    /// A new client: named `guest-N`, greeted, and announced to the room.
    fn on_open(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_, Room>) {
        let room = cx.state();
        room.guests += 1;
        let nick = format!("guest-{}", room.guests);
        let hello = format!("* welcome {nick}; /nick NAME to rename, /quit to leave\n");
        out.extend_from_slice(hello.as_bytes());
        let me = cx.key();
        cx.state().rename(me, nick.clone());
        announce(cx.context(), Presence::Joined(nick));
    }

    fn on_data(
        &mut self,
        input: &[u8],
        out: &mut Outbox,
        cx: &mut ProtoContext<'_, Room>,
    ) -> usize {
        let mut lines = Frames::new(Lines::new(MAX_LINE), input);
        // One line at a time, while the readers keep up (see the module docs). A line over
        // MAX_LINE is left unconsumed: the connection closes it with `InputTooLarge` once
        // `max_input` bytes are kept.
        while !cx.is_waiting() && !cx.is_closing() {
            let Some(Ok(line)) = lines.next() else { break };
            self.line(line, out, cx);
        }
        lines.consumed()
    }

    fn on_close(&mut self, reason: &CloseReason, cx: &mut ProtoContext<'_, Room>) {
        let me = cx.key();
        let Some(nick) = cx.state().remove(me) else { return };
        let why = match reason {
            CloseReason::OutputOverflow | CloseReason::SendTimeout => " (too slow to read)",
            CloseReason::InputTooLarge => " (line too long)",
            _ => "",
        };
        announce(cx.context(), Presence::Left(nick, why));
    }
}

impl Member {
    /// Handles one line.
    fn line(&mut self, line: &[u8], out: &mut Outbox, cx: &mut ProtoContext<'_, Room>) {
        let me = cx.key();
        if line == b"/quit" {
            out.extend_from_slice(b"* bye\n");
            return cx.close_after_flush();
        }
        let nick = cx.state().members.get(&me).cloned().unwrap_or_default();
        if let Some(name) = line.strip_prefix(b"/nick ") {
            match valid_nick(name, cx.state()) {
                Ok(new) => {
                    out.extend_from_slice(format!("* you are now {new}\n").as_bytes());
                    cx.state().rename(me, new.clone());
                    let notice = format!("* {nick} is now {new}\n");
                    send_all(cx, me, notice.as_bytes());
                }
                Err(why) => out.extend_from_slice(format!("* {why}\n").as_bytes()),
            }
            return;
        }
        if line.starts_with(b"/") {
            return out.extend_from_slice(b"* commands: /nick NAME, /quit\n");
        }
        let mut message = Vec::with_capacity(nick.len() + line.len() + 4);
        message.extend_from_slice(b"<");
        message.extend_from_slice(nick.as_bytes());
        message.extend_from_slice(b"> ");
        message.extend_from_slice(line);
        message.push(b'\n');
        send_all(cx, me, &message);
    }
}

/// Broadcasts `line` from member `me` and waits for every reader it backed up.
fn send_all(cx: &mut ProtoContext<'_, Room>, me: Key, line: &[u8]) {
    for reader in broadcast(cx.context(), Some(me), Arc::from(line)) {
        let _ = cx.wait_for(reader);
    }
}

/// Checks a requested nickname.
fn valid_nick(name: &[u8], room: &Room) -> Result<String, &'static str> {
    let name = std::str::from_utf8(name).map_err(|_| "nicknames must be UTF-8")?;
    if name.is_empty() || name.chars().count() > MAX_NICK {
        return Err("nicknames have 1 to 32 characters");
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("nicknames have no spaces or control characters");
    }
    if room.nicks.contains_key(name) {
        return Err("that nickname is taken");
    }
    Ok(name.to_owned())
}

/// Sends `line` (one shared buffer) to every member but `from`. A member that is gone is
/// forgotten. Returns the members left at or above [`HIGH_WATER`]: the sender waits for them.
fn broadcast(cx: &mut Context<'_, Net<Room>>, from: Option<Key>, line: Arc<[u8]>) -> Vec<Key> {
    let mut backed_up = Vec::new();
    let mut next = cx.state().app().members.keys().next().copied();
    // Walk the members in key order without copying the list (Peer needs the context).
    while let Some(key) = next {
        if Some(key) != from {
            match Peer::new(cx, key).send_shared(line.clone()) {
                Ok(pending) if pending >= HIGH_WATER => backed_up.push(key),
                Ok(_) => {}
                Err(_) => {
                    cx.state().app_mut().remove(key);
                }
            }
        }
        let after = (Bound::Excluded(key), Bound::Unbounded);
        next = cx.state().app().members.range(after).next().map(|(&k, _)| k);
    }
    backed_up
}

/// Queues a join or departure for this turn's announcement.
fn announce(cx: &mut Context<'_, Net<Room>>, event: Presence) {
    let room = cx.state().app_mut();
    room.presence.push(event);
    if let Some(announcer) = room.announcer {
        let _ = cx.wake(announcer);
    }
}

/// Announces the turn's joins and departures in one shared line to everyone: woken by
/// [`announce`], it runs after the turn's I/O, once however many events there were.
struct Announcer;

impl Handler<Net<Room>> for Announcer {
    fn on_wake(&mut self, _fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, Net<Room>>) {
        let events = std::mem::take(&mut cx.state().app_mut().presence);
        if events.is_empty() {
            return;
        }
        let mut text = String::new();
        if events.len() <= MAX_NAMED {
            for event in &events {
                let _ = match event {
                    Presence::Joined(nick) => writeln!(text, "* {nick} joined"),
                    Presence::Left(nick, why) => writeln!(text, "* {nick} left{why}"),
                };
            }
        } else {
            let joined = events.iter().filter(|e| matches!(e, Presence::Joined(_))).count();
            let left = events.len() - joined;
            let _ = writeln!(text, "* {joined} joined and {left} left");
        }
        broadcast(cx, None, Arc::from(text.as_bytes()));
    }

    fn on_timeout(&mut self, _fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, Net<Room>>) {
        cx.set_timeout(Timeout::Never); // a wake-only registration: never closes by time
    }
}
