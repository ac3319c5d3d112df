//! The connection and introspection commands of the `kv` server — SELECT, HELLO, CLIENT,
//! COMMAND, CONFIG GET — and the reply to an unknown command, with Redis 7.0's wording; INFO is
//! in `info.rs`. Kept apart from the data commands.
//!
//! Only RESP2 and database 0 exist: `HELLO 3` is refused as Redis refuses a protocol version it
//! does not know (clients then stay on RESP2), and SELECT, COPY ... DB of another valid index
//! get Redis's out-of-range error. CONFIG GET knows a handful of parameters (glob patterns
//! match among them as in Redis); COMMAND DOCS gives each command's group only.

use ioman::net::Outbox;

use super::commands::{COMMANDS, Client, is_any, wrong_arity};
pub(super) use super::info::info;
use super::keyspace::parse_int;
use super::resp::{
    Args, parse_i64, write_array_len, write_bulk, write_error, write_integer, write_null,
    write_simple,
};

/// The Redis version kv's replies follow (HELLO, INFO).
pub(super) const REDIS_VERSION: &str = "7.0.0";

/// SELECT index: only 0 exists.
pub(super) fn select(index: &[u8], out: &mut Outbox) {
    match parse_int(index) {
        Ok(0) => write_simple(out, "OK"),
        Ok(_) => write_error(out, "ERR DB index is out of range"),
        Err(error) => write_error(out, error),
    }
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]], as Redis 7.0's
/// `helloCommand`, for protocol 2 only. AUTH accepts the `default` user with any password (kv
/// has no users, as Redis's default `nopass` user).
pub(super) fn hello(client: &mut Client, args: Args<'_>, out: &mut Outbox) {
    if args.len() >= 2 {
        match parse_i64(args.get(1)) {
            None => {
                return write_error(out, "ERR Protocol version is not an integer or out of range");
            }
            Some(2) => {}
            Some(_) => return write_error(out, "NOPROTO unsupported protocol version"),
        }
    }
    let mut i = 2;
    while i < args.len() {
        let option = args.get(i);
        let more = args.len() - 1 - i;
        if option.eq_ignore_ascii_case(b"auth") && more >= 2 {
            if args.get(i + 1) != b"default" {
                return write_error(
                    out,
                    "WRONGPASS invalid username-password pair or user is disabled.",
                );
            }
            i += 2;
        } else if option.eq_ignore_ascii_case(b"setname") && more >= 1 {
            if !valid_name(args.get(i + 1)) {
                return write_error(out, BAD_NAME);
            }
            // Set at once, as Redis does, even if a later option is refused.
            client.name = Some(args.get(i + 1).to_vec());
            i += 1;
        } else {
            let text = String::from_utf8_lossy(option).replace(['\r', '\n'], " ");
            return write_error(out, &format!("ERR Syntax error in HELLO option '{text}'"));
        }
        i += 1;
    }
    write_array_len(out, 14);
    for (field, value) in [("server", "kv"), ("version", REDIS_VERSION)] {
        write_bulk(out, field.as_bytes());
        write_bulk(out, value.as_bytes());
    }
    write_bulk(out, b"proto");
    write_integer(out, 2);
    write_bulk(out, b"id");
    write_integer(out, client.id);
    for (field, value) in [("mode", "standalone"), ("role", "master")] {
        write_bulk(out, field.as_bytes());
        write_bulk(out, value.as_bytes());
    }
    write_bulk(out, b"modules");
    write_array_len(out, 0);
}

/// COMMAND [COUNT|DOCS [name ...]|INFO|LIST]: COUNT and DOCS as Redis (DOCS with each
/// command's group only); the bare command, INFO and LIST answer an empty list.
pub(super) fn command_command(args: Args<'_>, out: &mut Outbox) {
    let sub = args.get(1);
    if args.len() == 1 || is_any(sub, &["info", "list"]) {
        write_array_len(out, 0);
    } else if sub.eq_ignore_ascii_case(b"count") {
        if args.len() != 2 {
            return wrong_arity("command|count", out);
        }
        write_integer(out, COMMANDS.len() as i64);
    } else if sub.eq_ignore_ascii_case(b"docs") {
        let asked = |name: &str| {
            args.len() == 2
                || args.iter_from(2).any(|arg| arg.eq_ignore_ascii_case(name.as_bytes()))
        };
        let docs: Vec<_> = COMMANDS.iter().filter(|(name, ..)| asked(name)).collect();
        write_array_len(out, 2 * docs.len());
        for (name, _, group) in docs {
            write_bulk(out, name.as_bytes());
            write_array_len(out, 2);
            write_bulk(out, b"group");
            write_bulk(out, group.as_bytes());
        }
    } else {
        unknown_subcommand(sub, args.get(0), out);
    }
}

/// CONFIG GET parameter [parameter ...]: each a name or a glob pattern (case-insensitive),
/// among the few parameters kv has; each parameter is listed once, named as first matched (an
/// exact name as the client spelt it, as Redis does).
pub(super) fn config(client: &Client, args: Args<'_>, out: &mut Outbox) {
    let sub = args.get(1);
    if !sub.eq_ignore_ascii_case(b"get") {
        return unknown_subcommand(sub, args.get(0), out);
    }
    if args.len() < 3 {
        return wrong_arity("config|get", out);
    }
    let max_bulk = client.max_value.to_string();
    let params: [(&str, &str); 8] = [
        ("save", ""),
        ("appendonly", "no"),
        ("databases", "1"),
        ("maxmemory", "0"),
        ("maxmemory-policy", "noeviction"),
        ("timeout", "0"),
        ("lazyfree-lazy-user-flush", "yes"),
        ("proto-max-bulk-len", &max_bulk),
    ];
    let mut found: [Option<&[u8]>; 8] = [None; 8];
    for pattern in args.iter_from(2) {
        let glob = pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'['));
        for (seen, (name, _)) in found.iter_mut().zip(&params) {
            if seen.is_some() {
                continue;
            }
            if glob && super::glob::matches(pattern, name.as_bytes(), true) {
                *seen = Some(name.as_bytes());
            } else if !glob && pattern.eq_ignore_ascii_case(name.as_bytes()) {
                *seen = Some(pattern);
            }
        }
    }
    write_array_len(out, 2 * found.iter().flatten().count());
    for (seen, (_, value)) in found.iter().zip(&params) {
        if let Some(name) = seen {
            write_bulk(out, name);
            write_bulk(out, value.as_bytes());
        }
    }
}

const BAD_NAME: &str = "ERR Client names cannot contain spaces, newlines or special characters.";

/// Whether `name` is a valid client name: printable ASCII without spaces.
fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|b| (b'!'..=b'~').contains(b))
}

/// CLIENT ID | SETNAME name | GETNAME | SETINFO attr value (a Redis 7.2 subcommand that new
/// clients send; accepted and ignored).
pub(super) fn client_command(client: &mut Client, args: Args<'_>, out: &mut Outbox) {
    let sub = args.get(1);
    let arity = [("id", 2), ("setname", 3), ("getname", 2), ("setinfo", 4)]
        .into_iter()
        .find(|(name, _)| sub.eq_ignore_ascii_case(name.as_bytes()));
    let Some((name, arity)) = arity else {
        return unknown_subcommand(sub, args.get(0), out);
    };
    if args.len() != arity {
        return wrong_arity(&format!("client|{name}"), out);
    }
    match name {
        "id" => write_integer(out, client.id),
        "setname" if !valid_name(args.get(2)) => write_error(out, BAD_NAME),
        "setname" => {
            client.name = Some(args.get(2).to_vec());
            write_simple(out, "OK");
        }
        "getname" => match client.name.as_deref().filter(|name| !name.is_empty()) {
            Some(name) => write_bulk(out, name),
            None => write_null(out),
        },
        _ => write_simple(out, "OK"),
    }
}

/// `-ERR unknown subcommand 'foo'. Try CONFIG HELP.` (the command as the client spelt it,
/// upper-cased).
fn unknown_subcommand(sub: &[u8], command: &[u8], out: &mut Outbox) {
    let out = out.vec();
    out.extend_from_slice(b"-ERR unknown subcommand '");
    push_sanitized(out, sub.get(..128).unwrap_or(sub));
    out.extend_from_slice(b"'. Try ");
    out.extend(command.iter().map(u8::to_ascii_uppercase));
    out.extend_from_slice(b" HELP.\r\n");
}

/// `-ERR unknown command 'foo', with args beginning with: 'a' 'b' `, built like Redis does:
/// the name cut at 128 bytes, then quoted arguments while the list is under 128 bytes.
pub(super) fn unknown_command(args: Args<'_>, out: &mut Outbox) {
    let out = out.vec();
    let name = args.get(0);
    out.extend_from_slice(b"-ERR unknown command '");
    push_sanitized(out, name.get(..128).unwrap_or(name));
    out.extend_from_slice(b"', with args beginning with: ");
    let mut listed = 0;
    for arg in args.iter_from(1) {
        if listed >= 128 {
            break;
        }
        let shown = arg.get(..128 - listed).unwrap_or(arg);
        out.push(b'\'');
        push_sanitized(out, shown);
        out.extend_from_slice(b"' ");
        listed += shown.len() + 3;
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends client-supplied bytes to an error line, turning CR and LF into spaces as Redis does.
fn push_sanitized(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend(bytes.iter().map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
}
