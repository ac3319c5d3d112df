//! The chat room: every line a client sends is broadcast to the other clients, prefixed with
//! the sender's nickname. Shows connections cooperating through loop-wide state: the room
//! (`Net<Room>`) knows who is in it, and a line reaches the others by key, through their
//! mailboxes ([`Peer`]).
//!
//! Commands: `/nick NAME` (1 to 32 printable characters, no spaces), `/quit`. New clients are
//! called `guest-N`.
//!
//! Slow consumers: a client that does not read while more than [`MAX_BACKLOG`] bytes are
//! waiting for it is **disconnected** (the others are told). Dropping lines silently would keep
//! the memory bound too, but would make the conversation lie; a disconnect is visible.
//! A line longer than [`MAX_LINE`] bytes also disconnects its sender.
//!
//! This file is shared by `main.rs` and the tests (`#[path]`), so it holds no `main`.

use ioman::net::{CloseReason, ConnConfig, Connection, Listener, Net, NetError, Outbox, Peer};
use ioman::net::{ProtoContext, Protocol};
use ioman::{Context, Key, Manager, Timeout};
use rustix::fd::OwnedFd;
use std::collections::BTreeMap;
use std::time::Duration;

/// Output allowed to wait for one client before it is disconnected as a slow consumer.
pub const MAX_BACKLOG: usize = 64 * 1024;
/// The longest line accepted (without its newline).
pub const MAX_LINE: usize = 4096;
/// The longest nickname.
pub const MAX_NICK: usize = 32;

/// The loop-wide state: who is in the room.
#[derive(Default)]
pub struct Room {
    members: BTreeMap<Key, String>,
    guests: u64,
}

/// The connection settings the chat uses: 10 min idle, slow consumers cut at [`MAX_BACKLOG`].
pub fn config() -> ConnConfig {
    ConnConfig::default()
        .idle(Timeout::Idle(Duration::from_secs(600)))
        .watermarks(MAX_BACKLOG / 4, MAX_BACKLOG / 2)
        .max_output(MAX_BACKLOG)
        .max_input(MAX_LINE + 2)
}

/// Registers the chat listener for `socket` with `manager`.
pub fn build(
    manager: &mut Manager<Net<Room>>,
    socket: OwnedFd,
    config: ConnConfig,
) -> Result<Key, NetError> {
    let config = std::sync::Arc::new(config);
    Listener::new(move |socket, cx: &mut Context<'_, Net<Room>>| {
        let room = cx.state().app_mut();
        room.guests += 1;
        let nick = format!("guest-{}", room.guests);
        let hello = format!("* welcome {nick}; /nick NAME to rename, /quit to leave\n");
        let conn = Connection::new(Member, config.clone()).with_output(hello.as_bytes());
        if let Ok(key) = conn.register(cx, socket) {
            broadcast(cx, key, format!("* {nick} joined\n").as_bytes());
            cx.state().app_mut().members.insert(key, nick);
        }
    })
    .register(manager, socket)
}

/// One client. Its nickname lives in the room, where the others can see it.
pub struct Member;

impl Protocol<Room> for Member {
    fn on_data(
        &mut self,
        input: &[u8],
        out: &mut Outbox,
        cx: &mut ProtoContext<'_, '_, Room>,
    ) -> usize {
        let mut used = 0;
        while let Some(end) = input[used..].iter().position(|&b| b == b'\n') {
            let line = &input[used..used + end];
            used += end + 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if !self.line(line, out, cx) {
                break;
            }
        }
        used
    }

    fn on_close(&mut self, reason: &CloseReason, cx: &mut ProtoContext<'_, '_, Room>) {
        let me = cx.key();
        let Some(nick) = cx.state().members.remove(&me) else { return };
        let why = match reason {
            CloseReason::OutputOverflow => " (too slow to read)",
            CloseReason::InputTooLarge => " (line too long)",
            _ => "",
        };
        broadcast(cx.context(), me, format!("* {nick} left{why}\n").as_bytes());
    }
}

impl Member {
    /// Handles one line; `false` once the client has left.
    fn line(&mut self, line: &[u8], out: &mut Outbox, cx: &mut ProtoContext<'_, '_, Room>) -> bool {
        let me = cx.key();
        let nick = cx.state().members.get(&me).cloned().unwrap_or_default();
        if line == b"/quit" {
            out.extend_from_slice(b"* bye\n");
            cx.close_after_flush();
            return false;
        }
        if let Some(name) = line.strip_prefix(b"/nick ") {
            match valid_nick(name, cx.state()) {
                Ok(new) => {
                    broadcast(cx.context(), me, format!("* {nick} is now {new}\n").as_bytes());
                    out.extend_from_slice(format!("* you are now {new}\n").as_bytes());
                    cx.state().members.insert(me, new);
                }
                Err(why) => out.extend_from_slice(format!("* {why}\n").as_bytes()),
            }
            return true;
        }
        if line.starts_with(b"/") {
            out.extend_from_slice(b"* commands: /nick NAME, /quit\n");
            return true;
        }
        let mut message = Vec::with_capacity(nick.len() + line.len() + 4);
        message.extend_from_slice(b"<");
        message.extend_from_slice(nick.as_bytes());
        message.extend_from_slice(b"> ");
        message.extend_from_slice(line);
        message.push(b'\n');
        broadcast(cx.context(), me, &message);
        true
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
    if room.members.values().any(|n| n == name) {
        return Err("that nickname is taken");
    }
    Ok(name.to_owned())
}

/// Sends `line` to every member but `from`. A member that is gone is forgotten; one whose
/// backlog passes the cap disconnects itself when it receives this (see the module docs).
fn broadcast(cx: &mut Context<'_, Net<Room>>, from: Key, line: &[u8]) {
    let others: Vec<Key> =
        cx.state().app().members.keys().copied().filter(|&k| k != from).collect();
    for key in others {
        if let Err(NetError::Gone(_)) = Peer::new(cx, key).send(line) {
            cx.state().app_mut().members.remove(&key);
        }
    }
}
