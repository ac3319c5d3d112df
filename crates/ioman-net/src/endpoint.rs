//! [`Endpoint`]: where to listen or connect (TCP v4/v6, or a Unix stream socket path), and the
//! socket-creating calls every server repeats: [`listen`] (non-blocking, `CLOEXEC`,
//! `SO_REUSEADDR`, optional `SO_REUSEPORT`), [`connect`] (non-blocking, in progress) and
//! [`local_endpoint`] (which port did `:0` get?).

use crate::NetError;
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{self, AddressFamily, SocketAddrAny, SocketAddrUnix, SocketFlags, SocketType};
use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::str::FromStr;

/// A stream-socket address: TCP (IPv4 or IPv6), a host name and port still to be resolved,
/// or a Unix socket path.
///
/// Parsed from `127.0.0.1:7000`, `[::1]:7000`, `localhost:7000` (a [`Host`](Endpoint::Host):
/// parsing never asks the resolver, so it never blocks), `unix:/run/app.sock`, or any text
/// starting with `/` or `./` (a Unix path).
///
/// A name is resolved where it is used: [`Connector`](crate::Connector) looks it up on a
/// [`WorkPool`](ioman_core::WorkPool) thread, off the loop ([`Connector::resolve_with`](crate::Connector::resolve_with)); [`listen`] and
/// [`Endpoint::resolve_now`] (startup code) ask the system resolver and wait for it;
/// [`connect`] refuses a name, since it runs on the loop.
///
/// ```
/// use ioman::net::Endpoint;
/// let tcp: Endpoint = "127.0.0.1:7000".parse()?;
/// assert_eq!(tcp.to_string(), "127.0.0.1:7000");
/// let unix: Endpoint = "unix:/tmp/x.sock".parse()?;
/// assert_eq!(unix, Endpoint::Unix("/tmp/x.sock".into()));
/// let name: Endpoint = "db.example.invalid:5432".parse()?; // no lookup happens here
/// assert_eq!(name, Endpoint::Host { host: "db.example.invalid".into(), port: 5432 });
/// assert!("no-port".parse::<Endpoint>().is_err());
/// # Ok::<(), ioman::net::NetError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A host name and a TCP port, not resolved yet.
    Host {
        /// The name (without brackets or port).
        host: String,
        /// The port.
        port: u16,
    },
    /// A Unix stream socket at this path.
    Unix(PathBuf),
}

impl Endpoint {
    /// The addresses this endpoint stands for, asking the system resolver (`getaddrinfo`) for
    /// a [`Host`](Endpoint::Host) and waiting for its answer: for startup code, never for a
    /// handler (a slow DNS server would stall the loop; see [`resolve`](crate::resolve)).
    /// Addresses come interleaved by family ([`interleave`](crate::interleave)).
    pub fn resolve_now(&self) -> Result<Vec<Endpoint>, NetError> {
        let Endpoint::Host { host, port } = self else { return Ok(vec![self.clone()]) };
        let bad = |reason| NetError::BadAddress { input: self.to_string(), reason };
        let addrs: Vec<SocketAddr> = (host.as_str(), *port)
            .to_socket_addrs()
            .map_err(|_| bad("cannot resolve host"))?
            .collect();
        if addrs.is_empty() {
            return Err(bad("host resolves to no address"));
        }
        Ok(crate::interleave(addrs).into_iter().map(Endpoint::Tcp).collect())
    }
}

impl FromStr for Endpoint {
    type Err = NetError;

    fn from_str(s: &str) -> Result<Endpoint, NetError> {
        let bad = |reason| NetError::BadAddress { input: s.to_owned(), reason };
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(bad("empty Unix socket path"));
            }
            return Ok(Endpoint::Unix(path.into()));
        }
        if s.starts_with('/') || s.starts_with("./") {
            return Ok(Endpoint::Unix(s.into()));
        }
        if let Ok(addr) = s.parse::<SocketAddr>() {
            return Ok(Endpoint::Tcp(addr));
        }
        let Some((host, port)) = s.rsplit_once(':') else {
            return Err(bad("expected HOST:PORT, [V6]:PORT or unix:PATH"));
        };
        let port = port.parse::<u16>().map_err(|_| bad("the port is not a number in 0..=65535"))?;
        let name_ok = !host.is_empty()
            && host.len() <= 253
            && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if !name_ok {
            return Err(bad("not an IP address, and not a host name"));
        }
        Ok(Endpoint::Host { host: host.to_owned(), port })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(addr) => addr.fmt(f),
            Endpoint::Host { host, port } => write!(f, "{host}:{port}"),
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

impl From<SocketAddr> for Endpoint {
    fn from(addr: SocketAddr) -> Endpoint {
        Endpoint::Tcp(addr)
    }
}

/// Options for [`listen`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindOptions {
    reuse_port: bool,
    backlog: i32,
}

impl Default for BindOptions {
    fn default() -> BindOptions {
        BindOptions { reuse_port: false, backlog: 1024 }
    }
}

impl BindOptions {
    /// Sets `SO_REUSEPORT` (TCP only), so several sockets, typically one per loop thread, can
    /// listen on one address and the kernel spreads connections among them. Default off.
    pub fn reuse_port(mut self, on: bool) -> BindOptions {
        self.reuse_port = on;
        self
    }

    /// The `listen(2)` backlog (default 1024; the kernel caps it at `somaxconn`).
    pub fn backlog(mut self, backlog: i32) -> BindOptions {
        self.backlog = backlog.max(1);
        self
    }
}

/// `socket` + `setsockopt` + `bind` + `listen`: a non-blocking, close-on-exec listening socket.
///
/// TCP sockets get `SO_REUSEADDR` (so a restarted server can bind while old connections sit in
/// `TIME_WAIT`) and, if asked, `SO_REUSEPORT`. A Unix socket path left behind by a server that
/// is gone (a connect to it is refused) is removed and bound again, so a server can restart on
/// its path; a path where something still listens, or that is not a socket, is an error.
/// A [`Host`](Endpoint::Host) is resolved first ([`Endpoint::resolve_now`], which waits for
/// the resolver: listening is startup work) and the first address is bound.
///
/// ```
/// use ioman::net::{BindOptions, Endpoint, listen, local_endpoint};
/// let fd = listen(&"127.0.0.1:0".parse()?, BindOptions::default())?;
/// let Endpoint::Tcp(addr) = local_endpoint(&fd)? else { unreachable!() };
/// assert_ne!(addr.port(), 0);
/// # Ok::<(), ioman::net::NetError>(())
/// ```
pub fn listen(endpoint: &Endpoint, options: BindOptions) -> Result<OwnedFd, NetError> {
    if let Endpoint::Host { .. } = endpoint {
        let first = endpoint.resolve_now()?.swap_remove(0);
        return listen(&first, options);
    }
    let fd = stream_socket(endpoint)?;
    match endpoint {
        Endpoint::Tcp(addr) => {
            net::sockopt::set_socket_reuseaddr(&fd, true).map_err(NetError::os("SO_REUSEADDR"))?;
            if options.reuse_port {
                net::sockopt::set_socket_reuseport(&fd, true)
                    .map_err(NetError::os("SO_REUSEPORT"))?;
            }
            net::bind(&fd, addr).map_err(NetError::os("bind"))?;
        }
        Endpoint::Host { .. } => unreachable!("resolved above"),
        Endpoint::Unix(path) => {
            let addr = unix_addr(path)?;
            match net::bind(&fd, &addr) {
                Err(rustix::io::Errno::ADDRINUSE) if is_stale_socket(path) => {
                    std::fs::remove_file(path)
                        .map_err(|source| NetError::Os { call: "unlink stale socket", source })?;
                    net::bind(&fd, &addr).map_err(NetError::os("bind"))?;
                }
                other => other.map_err(NetError::os("bind"))?,
            }
        }
    }
    net::listen(&fd, options.backlog).map_err(NetError::os("listen"))?;
    Ok(fd)
}

/// Whether `path` is a Unix socket nobody listens on any more (a blocking connect is refused).
fn is_stale_socket(path: &std::path::Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    let is_socket = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket());
    is_socket
        && std::os::unix::net::UnixStream::connect(path)
            .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
}

/// Starts a non-blocking `connect`: returns as soon as the attempt is under way. Register the
/// socket with [`Connection::connecting`](crate::Connection::connecting), which learns the
/// outcome from write readiness and `SO_ERROR`.
///
/// A [`Host`](Endpoint::Host) is refused ([`NetError::BadAddress`]): this runs on the loop,
/// where waiting for a resolver would stall every connection. Resolve it off the loop
/// ([`Connector::resolve_with`](crate::Connector::resolve_with), [`resolve`](crate::resolve)) or at startup
/// ([`Endpoint::resolve_now`]).
pub fn connect(endpoint: &Endpoint) -> Result<OwnedFd, NetError> {
    let fd = stream_socket(endpoint)?;
    let started = match endpoint {
        Endpoint::Tcp(addr) => net::connect(&fd, addr),
        Endpoint::Host { .. } => unreachable!("stream_socket refuses names"),
        Endpoint::Unix(path) => net::connect(&fd, &unix_addr(path)?),
    };
    match started {
        Ok(()) | Err(Errno::INPROGRESS) | Err(Errno::AGAIN) => Ok(fd),
        Err(e) => Err(NetError::os("connect")(e)),
    }
}

/// The address a socket is bound to (`getsockname`): which port `:0` picked, for example.
pub fn local_endpoint(fd: impl AsFd) -> Result<Endpoint, NetError> {
    let any: SocketAddrAny = net::getsockname(fd).map_err(NetError::os("getsockname"))?;
    endpoint_of(any, "getsockname")
}

/// The address of a connected socket's peer (`getpeername`), as an [`Endpoint`]: a TCP
/// address, or a Unix socket's path (empty when the peer's socket has no name, as a client's
/// usually does).
pub fn peer_endpoint(fd: impl AsFd) -> Result<Endpoint, NetError> {
    let any = net::getpeername(fd).map_err(NetError::os("getpeername"))?.ok_or_else(|| {
        NetError::Os { call: "getpeername", source: std::io::ErrorKind::NotConnected.into() }
    })?;
    endpoint_of(any, "getpeername")
}

pub(crate) fn endpoint_of(any: SocketAddrAny, call: &'static str) -> Result<Endpoint, NetError> {
    if let Ok(addr) = SocketAddr::try_from(any.clone()) {
        return Ok(Endpoint::Tcp(addr));
    }
    let unix = SocketAddrUnix::try_from(any).map_err(NetError::os(call))?;
    let path = unix.path_bytes().unwrap_or_default();
    Ok(Endpoint::Unix(std::ffi::OsStr::from_bytes(path).into()))
}

fn stream_socket(endpoint: &Endpoint) -> Result<OwnedFd, NetError> {
    let family = match endpoint {
        Endpoint::Tcp(SocketAddr::V4(_)) => AddressFamily::INET,
        Endpoint::Tcp(SocketAddr::V6(_)) => AddressFamily::INET6,
        Endpoint::Unix(_) => AddressFamily::UNIX,
        Endpoint::Host { .. } => {
            let input = endpoint.to_string();
            return Err(NetError::BadAddress { input, reason: "a host name: resolve it first" });
        }
    };
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    net::socket_with(family, SocketType::STREAM, flags, None).map_err(NetError::os("socket"))
}

fn unix_addr(path: &std::path::Path) -> Result<SocketAddrUnix, NetError> {
    SocketAddrUnix::new(path).map_err(|_| NetError::BadAddress {
        input: path.display().to_string(),
        reason: "Unix socket path too long or contains NUL",
    })
}
