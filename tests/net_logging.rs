//! ioman-net logs through `tracing`, never to stderr by itself: each connection that ends
//! abnormally is logged once, with its key, at a level that says how unusual it is (an
//! eviction at INFO, a protocol panic at ERROR); clean closes are not logged.

#[path = "support/net.rs"]
mod net;

use ioman::net::{ConnConfig, Connection, Net};
use ioman::{Config, Manager, ManualClock, Timeout};
use net::*;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing_subscriber::util::SubscriberInitExt;

/// Everything the subscriber wrote.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[test]
fn evictions_and_panics_are_logged_once_with_their_key_and_clean_closes_are_not() {
    let captured = Captured::default();
    let writer = captured.clone();
    let _guard = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing_subscriber::filter::LevelFilter::DEBUG)
        .finish()
        .set_default();

    let clock = ManualClock::new();
    let config = Config::default().clock(clock.clone());
    let mut m = Manager::with_config(Net::new(Log::default()), config).unwrap();
    let idle = ConnConfig::default().idle(Timeout::Idle(Duration::from_secs(10)));
    // A peer that never reads a 4 MiB reply: evicted by the send timeout.
    let (slow, mut slow_client) = unix_pair();
    tiny_send_buffer(&slow);
    let flood = Script::new(|input, out, _| {
        out.push_vec(pattern(4 << 20, 1));
        input.len()
    });
    let evicted = Connection::new(flood, idle.clone()).register_with(&mut m, slow).unwrap();
    // A protocol that panics.
    let (boom, mut boom_client) = unix_pair();
    let panics = Script::new(|_, _, _| panic!("the protocol panics"));
    let panicked = Connection::new(panics, idle.clone()).register_with(&mut m, boom).unwrap();
    // A clean close.
    let (clean, mut clean_client) = unix_pair();
    Connection::new(Script::echo(), idle).register_with(&mut m, clean).unwrap();

    send(&mut slow_client, b"GET");
    send(&mut boom_client, b"x");
    send(&mut clean_client, b"bye");
    clean_client.shutdown(std::net::Shutdown::Write).unwrap();
    for _ in 0..5 {
        m.turn(Some(Duration::ZERO)).unwrap();
    }
    clock.advance(Duration::from_secs(10));
    turn_until(&mut m, 20, |m| m.state().connections() == 0);

    let text = captured.text();
    let lines: Vec<&str> = text.lines().collect();
    let evictions: Vec<&&str> = lines.iter().filter(|l| l.contains("connection evicted")).collect();
    assert_eq!(evictions.len(), 1, "{text}");
    assert!(
        evictions[0].contains("INFO") && evictions[0].contains(&format!("{evicted:?}")),
        "{text}"
    );
    assert!(evictions[0].contains("SendTimeout"), "{text}");
    assert!(evictions[0].contains("peer=Some(Unix("), "the peer address is missing: {text}");
    let panics: Vec<&&str> = lines.iter().filter(|l| l.contains("protocol panicked")).collect();
    assert_eq!(panics.len(), 1, "{text}");
    assert!(panics[0].contains("ERROR") && panics[0].contains(&format!("{panicked:?}")), "{text}");
    assert_eq!(lines.len(), 2, "a clean close was logged: {text}");
}
