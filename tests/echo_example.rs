//! The `echo` example, served in-process: exact bytes back for 200 concurrent connections and
//! for 1 MiB messages, and a client's half-close answered after the echo is flushed.

#[path = "support/net.rs"]
mod net;

#[path = "../examples/echo.rs"]
#[allow(dead_code)] // its `main` and argument parsing are not used here
mod echo;

use ioman::Manager;
use ioman::net::{ConnConfig, Net};
use net::*;
use std::io::Write;
use std::net::{Shutdown, SocketAddr};

fn server() -> (SocketAddr, ioman::net::Loops) {
    spawn_server(|socket| {
        let mut manager: Manager<Net<()>> = Manager::new()?;
        echo::build(&mut manager, socket, ConnConfig::default())?;
        Ok(manager)
    })
}

#[test]
fn two_hundred_connections_each_get_their_own_bytes_back() {
    let (addr, loops) = server();
    let mut clients: Vec<_> = (0..200).map(|_| connect(addr)).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        send(client, format!("hello from client {i:03}\n").as_bytes());
    }
    for (i, client) in clients.iter_mut().enumerate() {
        assert_eq!(read_line(client), format!("hello from client {i:03}\n"));
    }
    drop(clients);
    stop(loops);
}

#[test]
fn one_mebibyte_messages_come_back_exactly() {
    let (addr, loops) = server();
    let writers: Vec<_> = (0..4u8)
        .map(|seed| {
            let mut client = connect(addr);
            let mut writer = client.try_clone().unwrap();
            let message = pattern(1024 * 1024, seed);
            let expected = message.clone();
            let thread = std::thread::spawn(move || {
                writer.write_all(&message).unwrap();
                writer.shutdown(Shutdown::Write).unwrap();
            });
            (client_read_all(&mut client), expected, thread)
        })
        .collect();
    for (got, expected, thread) in writers {
        let got = got.join().unwrap();
        thread.join().unwrap();
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "echoed bytes differ");
    }
    stop(loops);
}

/// Reads everything a client receives, until end of stream, on its own thread.
fn client_read_all(client: &mut std::net::TcpStream) -> std::thread::JoinHandle<Vec<u8>> {
    let mut reader = client.try_clone().unwrap();
    std::thread::spawn(move || read_to_end(&mut reader))
}

#[test]
fn half_close_gets_the_rest_of_the_echo_then_end_of_stream() {
    let (addr, loops) = server();
    let mut client = connect(addr);
    send(&mut client, b"last line\n");
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut client), b"last line\n");
    stop(loops);
}
