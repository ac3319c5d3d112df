//! The introspection commands of the `kv` server — COMMAND, CONFIG, CLIENT — and the reply to
//! an unknown command: just enough of them for `redis-cli` and `redis-benchmark` to start,
//! with Redis's wording. Kept apart from `commands.rs`, which runs the data commands.

use ioman::net::Outbox;

use super::commands::{COMMANDS, is_any, wrong_arity};
use super::resp::{
    Args, write_array_len, write_bulk, write_error, write_integer, write_null, write_simple,
};

/// COMMAND [COUNT|DOCS|INFO|LIST]: enough for redis-cli's start-up.
pub(super) fn command_command(args: Args<'_>, out: &mut Outbox) {
    let sub = args.get(1);
    if args.len() == 1 || is_any(sub, &["docs", "info", "list"]) {
        write_array_len(out, 0);
    } else if sub.eq_ignore_ascii_case(b"count") {
        write_integer(out, COMMANDS.len() as i64);
    } else {
        unknown_subcommand(sub, "COMMAND", out);
    }
}

/// CONFIG GET param [param ...]: answers the parameters redis-benchmark asks for.
pub(super) fn config(args: Args<'_>, out: &mut Outbox) {
    const PARAMS: &[(&str, &str)] = &[("save", ""), ("appendonly", "no")];
    let sub = args.get(1);
    if !sub.eq_ignore_ascii_case(b"get") {
        return unknown_subcommand(sub, "CONFIG", out);
    }
    if args.len() < 3 {
        return wrong_arity("config|get", out);
    }
    let lookup =
        |param: &[u8]| PARAMS.iter().find(|(name, _)| name.as_bytes().eq_ignore_ascii_case(param));
    let found = args.iter_from(2).filter_map(lookup);
    write_array_len(out, 2 * found.clone().count());
    for (name, value) in found {
        write_bulk(out, name.as_bytes());
        write_bulk(out, value.as_bytes());
    }
}

/// CLIENT SETNAME name | GETNAME | SETINFO attr value
pub(super) fn client_command(name: &mut Option<Vec<u8>>, args: Args<'_>, out: &mut Outbox) {
    let sub = args.get(1);
    if sub.eq_ignore_ascii_case(b"setname") {
        if args.len() != 3 {
            return wrong_arity("client|setname", out);
        }
        let new_name = args.get(2);
        if !new_name.iter().all(|b| (b'!'..=b'~').contains(b)) {
            return write_error(
                out,
                "ERR Client names cannot contain spaces, newlines or special characters.",
            );
        }
        let stored = name.get_or_insert_with(Vec::new);
        stored.clear();
        stored.extend_from_slice(new_name);
        write_simple(out, "OK");
    } else if sub.eq_ignore_ascii_case(b"getname") {
        match name.as_deref().filter(|name| !name.is_empty()) {
            Some(name) => write_bulk(out, name),
            None => write_null(out),
        }
    } else if sub.eq_ignore_ascii_case(b"setinfo") {
        if args.len() != 4 {
            return wrong_arity("client|setinfo", out);
        }
        write_simple(out, "OK");
    } else {
        unknown_subcommand(sub, "CLIENT", out);
    }
}

/// `-ERR unknown subcommand 'foo'. Try CONFIG HELP.`
fn unknown_subcommand(sub: &[u8], command: &str, out: &mut Outbox) {
    let out = out.vec();
    out.extend_from_slice(b"-ERR unknown subcommand '");
    push_sanitized(out, sub.get(..128).unwrap_or(sub));
    out.extend_from_slice(b"'. Try ");
    out.extend_from_slice(command.as_bytes());
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
