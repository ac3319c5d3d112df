//! `echo-tokio`: the same echo server as `echo-raw` on tokio's `current_thread` runtime, the
//! way tokio's own echo example is written: one task per connection, `read` into a 64 KiB
//! buffer, `write_all` of what was read. `--listen ADDR` (default 127.0.0.1:0); SIGTERM ends
//! it.
#![forbid(unsafe_code)]

use anyhow::{Context, Result};
use ioman_bench::server::{self, BUF_SIZE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn echo(mut stream: TcpStream) {
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

fn main() -> Result<()> {
    let fd = server::listen(server::listen_addr()?)?;
    server::announce(server::local_addr(&fd)?)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    rt.block_on(async {
        let listener = TcpListener::from_std(std::net::TcpListener::from(fd))
            .context("register the listener with tokio")?;
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    stream.set_nodelay(true)?;
                    tokio::spawn(echo(stream));
                }
                Err(e) => eprintln!("echo-tokio: accept: {e}"),
            }
        }
    })
}
