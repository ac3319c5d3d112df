//! One loop per core: two threads, each with its own manager and `SO_REUSEPORT` listener on
//! one port, serve every client; shutdown reaches both and both threads return.

#[path = "support/net.rs"]
mod net;

use ioman::Manager;
use ioman::net::{ConnConfig, Listener, Loops, Net};
use net::*;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[test]
fn two_loops_serve_one_port_and_stop_together() {
    let accepted: Arc<[AtomicUsize; 2]> = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let setups = Arc::new(AtomicUsize::new(0));
    let (counts, started) = (accepted.clone(), setups.clone());
    let loops = Loops::spawn(2, &"127.0.0.1:0".parse().unwrap(), move |i, socket| {
        started.fetch_add(1, Ordering::SeqCst);
        let mut m: Manager<Net<Log>> = Manager::with_state(Net::new(Log::default()))?;
        let counts = counts.clone();
        let listener = Listener::new(move |socket, cx| {
            counts[i].fetch_add(1, Ordering::SeqCst);
            let conn = ioman::net::Connection::new(Script::echo(), ConnConfig::default());
            let _ = conn.register(cx, socket);
        });
        listener.register(&mut m, socket)?;
        Ok(m)
    })
    .unwrap();
    assert_eq!(loops.len(), 2);
    assert_eq!(setups.load(Ordering::SeqCst), 2);
    let ioman::net::Endpoint::Tcp(addr) = loops.local_addr().clone() else { panic!("not TCP") };
    let mut clients: Vec<_> = (0..40).map(|_| connect(addr)).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        client.write_all(format!("client {i:02}\n").as_bytes()).unwrap();
    }
    for (i, client) in clients.iter_mut().enumerate() {
        assert_eq!(read_line(client), format!("client {i:02}\n"));
    }
    let per_loop: Vec<usize> = accepted.iter().map(|a| a.load(Ordering::SeqCst)).collect();
    assert_eq!(per_loop.iter().sum::<usize>(), 40, "per loop: {per_loop:?}");
    eprintln!("connections per loop: {per_loop:?}");
    loops.shutdown(std::time::Duration::from_secs(5));
    for client in &mut clients {
        assert_eof(client); // drained: each loop closed its idle connections
    }
    loops.join().unwrap();
}

#[test]
fn a_failing_setup_stops_the_other_loops() {
    let result = Loops::spawn(3, &"127.0.0.1:0".parse().unwrap(), |i, socket| {
        if i == 1 {
            return Err(ioman::net::NetError::BadAddress { input: "x".into(), reason: "test" });
        }
        let mut m: Manager<Net<()>> = Manager::new()?;
        Listener::serve(ConnConfig::default(), || EchoUnit).register(&mut m, socket)?;
        Ok(m)
    });
    assert!(matches!(result, Err(ioman::net::NetError::BadAddress { .. })));
}

struct EchoUnit;

impl ioman::net::Protocol for EchoUnit {
    fn on_data(
        &mut self,
        input: &[u8],
        out: &mut ioman::net::Outbox,
        _: &mut ioman::net::ProtoContext<'_>,
    ) -> usize {
        out.extend_from_slice(input);
        input.len()
    }
}
