//! The `echo` example, served in-process: exact bytes back for 200 concurrent connections and
//! for 1 MiB messages, and a client's half-close answered after the echo is flushed; the same
//! over TLS (certificates made at test time), and the shared `--tls-cert`/`--tls-key`
//! arguments: both or neither, and a bad PEM file is an error that names it.

#[path = "support/net.rs"]
mod net;

#[path = "support/tls.rs"]
mod tls;

#[path = "../examples/echo.rs"]
#[allow(dead_code)] // its `main` and argument parsing are not used here
mod echo;

use clap::Parser;
use echo::args;
use ioman::Manager;
use ioman::net::{ConnConfig, Net};
use net::*;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};

fn server() -> (SocketAddr, ioman::net::Loops) {
    spawn_server(|socket| {
        let mut manager: Manager<Net<()>> = Manager::new()?;
        echo::build(&mut manager, socket, ConnConfig::default(), None)?;
        Ok(manager)
    })
}

/// The echo server over TLS with `certs` (no ALPN, as `main.rs` configures it).
fn tls_server(certs: &tls::Certs) -> (SocketAddr, ioman::net::Loops) {
    let config = tls::server_config(certs, &[]);
    spawn_server(move |socket| {
        let mut manager: Manager<Net<()>> = Manager::new()?;
        echo::build(&mut manager, socket, ConnConfig::default(), Some(config.clone()))?;
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

#[test]
fn echoes_over_tls_then_closes_cleanly() {
    let certs = tls::certs(&["localhost"]);
    let (addr, loops) = tls_server(&certs);
    let mut client = tls::client(addr, &tls::client_config(&certs, &[]), "localhost");
    send(&mut client, b"hello over TLS\n");
    assert_eq!(read_line(&mut client), "hello over TLS\n");
    assert_eq!(client.conn.alpn_protocol(), None, "echo offers no ALPN");
    // 1 MiB in 16 KiB pieces, each read back before the next (one thread: no deadlock).
    let data = pattern(1024 * 1024, 4);
    for piece in data.chunks(16 * 1024) {
        send(&mut client, piece);
        assert!(read_n(&mut client, piece.len()) == piece, "echoed bytes differ");
    }
    // close_notify and FIN: the server closes its side cleanly (close_notify, not truncation).
    client.conn.send_close_notify();
    client.flush().unwrap();
    client.sock.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).expect("a clean close");
    assert!(rest.is_empty());
    stop(loops);
}

#[test]
fn many_tls_clients_each_get_their_own_bytes_back() {
    let certs = tls::certs(&["localhost", "127.0.0.1"]);
    let (addr, loops) = tls_server(&certs);
    let config = tls::client_config(&certs, &[]);
    let mut clients: Vec<_> = (0..20).map(|_| tls::client(addr, &config, "127.0.0.1")).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        send(client, format!("hello from TLS client {i:02}\n").as_bytes());
    }
    for (i, client) in clients.iter_mut().enumerate() {
        assert_eq!(read_line(client), format!("hello from TLS client {i:02}\n"));
    }
    drop(clients);
    stop(loops);
}

#[test]
fn a_plaintext_client_of_the_tls_server_gets_no_echo() {
    let certs = tls::certs(&["localhost"]);
    let (addr, loops) = tls_server(&certs);
    let mut client = connect(addr);
    send(&mut client, b"GET / HTTP/1.0\r\n\r\n"); // not a TLS record: the handshake fails
    let answer = tls::read_until_closed(&mut client);
    assert!(!answer.windows(3).any(|w| w == b"GET"), "plaintext was echoed: {answer:?}");
    stop(loops);
}

/// The examples' TLS arguments, as each server flattens them into its command line.
#[derive(Parser, Debug)]
struct TlsCli {
    #[command(flatten)]
    tls: args::TlsArgs,
}

#[test]
fn tls_arguments_come_in_pairs() {
    let none = TlsCli::try_parse_from(["echo"]).unwrap();
    assert!(none.tls.server_config(&[]).unwrap().is_none(), "no TLS without --tls-cert");
    for half in [["echo", "--tls-cert", "c.pem"], ["echo", "--tls-key", "k.pem"]] {
        let err = TlsCli::try_parse_from(half).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument, "{err}");
    }
    let certs = tls::certs(&["localhost"]);
    let (cert, key) = (certs.cert.to_str().unwrap(), certs.key.to_str().unwrap());
    let both = TlsCli::try_parse_from(["echo", "--tls-cert", cert, "--tls-key", key]).unwrap();
    let config = both.tls.server_config(&[b"http/1.1"]).unwrap().expect("a TLS configuration");
    assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
}

#[test]
fn a_bad_pem_file_is_an_error_that_names_it() {
    let certs = tls::certs(&["localhost"]);
    let missing = certs.dir.join("missing.pem");
    let garbage = certs.dir.join("garbage.pem");
    std::fs::write(&garbage, "not PEM at all\n").unwrap();
    let other = tls::certs(&["localhost"]);
    // (cert, key, what the cause says, the file it names)
    let cases = [
        (&missing, &certs.key, "cannot read", Some(&missing)),
        (&garbage, &certs.key, "holds no certificate", Some(&garbage)),
        (&certs.cert, &certs.cert, "holds no private key", Some(&certs.cert)),
        (&certs.cert, &other.key, "rustls refused", None), // a key of another certificate
    ];
    for (cert, key, why, named) in cases {
        let tls = args::TlsArgs { tls_cert: Some(cert.clone()), tls_key: Some(key.clone()) };
        let err = tls.server_config(&[]).expect_err("a bad certificate or key");
        let context = err.to_string();
        assert!(context.contains("--tls-cert") && context.contains("--tls-key"), "{context}");
        let cause = err.chain().nth(1).expect("the cause").to_string();
        assert!(cause.contains(why), "{why}: {cause}");
        if let Some(file) = named {
            assert!(cause.contains(&*file.to_string_lossy()), "{cause}");
        }
    }
}
