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

/// A stream-socket address: TCP (IPv4 or IPv6) or a Unix socket path.
///
/// Parsed from `127.0.0.1:7000`, `[::1]:7000`, `localhost:7000` (first resolved address),
/// `unix:/run/app.sock`, or any text starting with `/` or `./` (a Unix path).
///
/// ```
/// use ioman::net::Endpoint;
/// let tcp: Endpoint = "127.0.0.1:7000".parse()?;
/// assert_eq!(tcp.to_string(), "127.0.0.1:7000");
/// let unix: Endpoint = "unix:/tmp/x.sock".parse()?;
/// assert_eq!(unix, Endpoint::Unix("/tmp/x.sock".into()));
/// assert!("no-port".parse::<Endpoint>().is_err());
/// # Ok::<(), ioman::net::NetError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix stream socket at this path.
    Unix(PathBuf),
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
        if !s.contains(':') {
            return Err(bad("expected HOST:PORT, [V6]:PORT or unix:PATH"));
        }
        let mut addrs = s.to_socket_addrs().map_err(|_| bad("cannot resolve host or port"))?;
        addrs.next().map(Endpoint::Tcp).ok_or_else(|| bad("host resolves to no address"))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(addr) => addr.fmt(f),
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
///
/// ```
/// use ioman::net::{BindOptions, Endpoint, listen, local_endpoint};
/// let fd = listen(&"127.0.0.1:0".parse()?, BindOptions::default())?;
/// let Endpoint::Tcp(addr) = local_endpoint(&fd)? else { unreachable!() };
/// assert_ne!(addr.port(), 0);
/// # Ok::<(), ioman::net::NetError>(())
/// ```
pub fn listen(endpoint: &Endpoint, options: BindOptions) -> Result<OwnedFd, NetError> {
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
pub fn connect(endpoint: &Endpoint) -> Result<OwnedFd, NetError> {
    let fd = stream_socket(endpoint)?;
    let started = match endpoint {
        Endpoint::Tcp(addr) => net::connect(&fd, addr),
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
