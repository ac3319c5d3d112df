//! INFO [section ...]: a minimal INFO in Redis's format — `# Section` headers, `field:value`
//! lines ending in CRLF, a blank line between sections — with the server, clients, memory and
//! keyspace sections. `default`, `all` and `everything` name all four; an unknown section
//! gives an empty reply, as in Redis. The values are kv's own (`redis_version` is the Redis
//! version its replies follow).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use ioman::net::Outbox;

use super::admin::REDIS_VERSION;
use super::commands::{CONNECTED, Client};
use super::resp::{Args, write_bulk};
use super::store::Store;

/// The sections, in the order INFO lists them.
const SECTIONS: [&str; 4] = ["server", "clients", "memory", "keyspace"];

/// INFO [section ...]
pub(super) fn info(_client: &Client, store: &Store, args: Args<'_>, out: &mut Outbox) {
    let asked = |section: &str| {
        args.len() == 1
            || args.iter_from(1).any(|arg| {
                arg.eq_ignore_ascii_case(section.as_bytes())
                    || [&b"default"[..], b"all", b"everything"]
                        .iter()
                        .any(|all| arg.eq_ignore_ascii_case(all))
            })
    };
    let mut text = String::new();
    for section in SECTIONS.into_iter().filter(|section| asked(section)) {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        section_text(section, store, &mut text);
    }
    write_bulk(out, text.as_bytes());
}

/// Appends one section.
fn section_text(section: &str, store: &Store, text: &mut String) {
    let mut title = section.to_owned();
    title[..1].make_ascii_uppercase();
    let _ = write!(text, "# {title}\r\n");
    let mut line = |field: &str, value: &dyn std::fmt::Display| {
        let _ = write!(text, "{field}:{value}\r\n");
    };
    match section {
        "server" => {
            line("redis_version", &REDIS_VERSION);
            line("kv_version", &env!("CARGO_PKG_VERSION"));
            line("redis_mode", &"standalone");
            line("os", &std::env::consts::OS);
            line("arch_bits", &(usize::BITS));
            line("multiplexing_api", &"epoll");
            line("process_id", &std::process::id());
        }
        "clients" => {
            line("connected_clients", &CONNECTED.load(Ordering::Relaxed));
        }
        "memory" => {
            line("used_memory", &store.bytes());
            line("maxmemory", &0);
            line("maxmemory_policy", &"noeviction");
            line("lazyfree_pending_objects", &usize::from(store.has_garbage()));
        }
        _ => {
            if !store.is_empty() {
                let value =
                    format!("keys={},expires={},avg_ttl=0", store.len(), store.volatile_len());
                line("db0", &value);
            }
        }
    }
}
