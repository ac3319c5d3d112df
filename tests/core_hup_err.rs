//! Hang-ups and errors go to `on_error` and end the registration; they never turn into a read
//! that returns nothing forever (redis #518, tokio #4549). Data that arrived before a hang-up is
//! still read first.

mod support;

use ioman::{Interest, Timeout};
use support::*;

#[test]
fn hangup_without_read_interest_goes_to_on_error_once() {
    let (mut m, _clock) = manual();
    let (fd, peer) = socketpair();
    let k = m.add(fd, None, Timeout::Never, Probe::new("p")).unwrap();
    drop(peer);
    poll(&mut m);
    assert_eq!(m.state().calls("p"), [Call::Hangup]);
    assert!(!m.contains(k), "hang-up is terminal");
    assert_eq!(poll(&mut m), 0, "nothing left to report: no spin");
}

#[test]
fn data_before_a_pipe_hangup_is_read_first() {
    let (mut m, _clock) = manual();
    let (r, w) = pipe();
    send(&w, b"last words");
    drop(w);
    let k = m.add(r, Interest::READ, Timeout::Never, Probe::new("p")).unwrap();
    poll(&mut m); // IN|HUP: on_read drains the data
    assert_eq!(m.state().read["p"], 10);
    poll(&mut m); // HUP alone
    assert_eq!(m.state().calls("p"), [Call::Read, Call::Hangup]);
    assert!(!m.contains(k));
}

#[test]
fn a_pipe_whose_reader_left_reports_an_error() {
    let (mut m, _clock) = manual();
    let (r, w) = pipe();
    drop(r);
    let k = m.add(w, Interest::WRITE, Timeout::Never, Probe::new("p")).unwrap();
    poll(&mut m);
    assert_eq!(m.state().calls("p"), [Call::Error]);
    assert!(!m.contains(k));
}

#[test]
fn a_tcp_reset_reports_the_socket_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    server.set_nonblocking(true).unwrap();
    let (mut m, _clock) = manual();
    let k =
        m.add(server, Interest::READ, Timeout::Never, Probe::new("p").on_error(|_| {})).unwrap();
    // SO_LINGER 0 makes close send RST instead of FIN.
    rustix::net::sockopt::set_socket_linger(&client, Some(std::time::Duration::ZERO)).unwrap();
    drop(client);
    poll(&mut m);
    assert_eq!(m.state().calls("p"), [Call::Error]);
    assert!(!m.contains(k));
}
