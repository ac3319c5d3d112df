//! A blocking RESP2 client for `kv-diff`: sends one command (as a RESP array, or as an inline
//! line) and reads back one whole reply, as raw bytes and as a parsed tree for normalising.

use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A parsed RESP2 reply.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reply {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

/// One connection.
pub struct Client {
    stream: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: &str) -> Result<Client> {
        let stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_nodelay(true)?;
        Ok(Client { stream: BufReader::new(stream) })
    }

    /// Sends `args` and reads the reply: the raw bytes and the parsed tree.
    pub fn call(&mut self, args: &[Vec<u8>], inline: bool) -> Result<(Vec<u8>, Reply)> {
        let mut request = Vec::new();
        if inline {
            for (i, arg) in args.iter().enumerate() {
                if i > 0 {
                    request.push(b' ');
                }
                request.extend(arg);
            }
            request.extend(b"\r\n");
        } else {
            request.extend(format!("*{}\r\n", args.len()).bytes());
            for arg in args {
                request.extend(format!("${}\r\n", arg.len()).bytes());
                request.extend(arg);
                request.extend(b"\r\n");
            }
        }
        self.stream.get_mut().write_all(&request)?;
        let mut raw = Vec::new();
        let reply = self.read(&mut raw)?;
        Ok((raw, reply))
    }

    fn line(&mut self, raw: &mut Vec<u8>) -> Result<Vec<u8>> {
        let mut line = Vec::new();
        self.stream.read_until(b'\n', &mut line)?;
        raw.extend(&line);
        if !line.ends_with(b"\r\n") {
            bail!("connection closed or bad line {:?}", String::from_utf8_lossy(&line));
        }
        line.truncate(line.len() - 2);
        Ok(line)
    }

    fn read(&mut self, raw: &mut Vec<u8>) -> Result<Reply> {
        let line = self.line(raw)?;
        let (kind, rest) = line.split_first().context("empty reply line")?;
        let number = || -> Result<i64> { Ok(std::str::from_utf8(rest)?.parse()?) };
        Ok(match kind {
            b'+' => Reply::Simple(rest.to_vec()),
            b'-' => Reply::Error(rest.to_vec()),
            b':' => Reply::Integer(number()?),
            b'$' => match usize::try_from(number()?) {
                Err(_) => Reply::Bulk(None),
                Ok(len) => {
                    let mut body = vec![0; len + 2];
                    self.stream.read_exact(&mut body)?;
                    raw.extend(&body);
                    body.truncate(len);
                    Reply::Bulk(Some(body))
                }
            },
            b'*' => match usize::try_from(number()?) {
                Err(_) => Reply::Array(None),
                Ok(len) => {
                    let mut items = Vec::with_capacity(len.min(4096));
                    for _ in 0..len {
                        items.push(self.read(raw)?);
                    }
                    Reply::Array(Some(items))
                }
            },
            other => bail!("unexpected reply type {:?}", *other as char),
        })
    }
}
