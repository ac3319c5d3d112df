//! [`DatagramAddr`]: where a datagram came from or goes to — an IP address, a Unix socket
//! path, an abstract Unix name, or nobody (an unbound Unix sender, which cannot be answered) —
//! and the socket-creating calls for datagram sockets: [`bind_datagram`],
//! [`unbound_unix_datagram`], [`connect_datagram`].

use crate::{Endpoint, NetError};
use nix::sys::socket::{SockaddrLike, SockaddrStorage, UnixAddr};
use rustix::fd::{AsFd, OwnedFd};
use rustix::net::addr::SocketAddrArg;
use rustix::net::{self, AddressFamily, SocketAddrAny, SocketAddrUnix};
use rustix::net::{SocketFlags, SocketType};
use std::fmt;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// The address of a datagram's sender (or of a reply's destination).
///
/// ```
/// use ioman::net::DatagramAddr;
/// let a = DatagramAddr::from("127.0.0.1:7003".parse::<std::net::SocketAddr>()?);
/// assert_eq!(a.to_string(), "127.0.0.1:7003");
/// assert!(a.is_reachable());
/// assert!(!DatagramAddr::Unnamed.is_reachable()); // an unbound Unix socket sent it
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DatagramAddr {
    /// A UDP peer (IPv4 or IPv6).
    Ip(SocketAddr),
    /// A Unix datagram socket bound to this path.
    Unix(PathBuf),
    /// A Unix datagram socket bound to this name in the abstract namespace (Linux).
    Abstract(Vec<u8>),
    /// A Unix datagram socket that is not bound: it can send, but nothing can be sent back.
    Unnamed,
}

impl DatagramAddr {
    /// Whether a reply can be addressed to it (everything but [`Unnamed`](Self::Unnamed)).
    pub fn is_reachable(&self) -> bool {
        !matches!(self, DatagramAddr::Unnamed)
    }

    /// The sockaddr a send uses, or `None` for [`Unnamed`](Self::Unnamed) and a path or
    /// name too long for a Unix address.
    pub(crate) fn to_any(&self) -> Option<SocketAddrAny> {
        match self {
            DatagramAddr::Ip(addr) => Some(addr.as_any()),
            DatagramAddr::Unix(path) => {
                SocketAddrUnix::new(path.as_path()).ok().map(|a| a.as_any())
            }
            DatagramAddr::Abstract(name) => {
                SocketAddrUnix::new_abstract_name(name).ok().map(|a| a.as_any())
            }
            DatagramAddr::Unnamed => None,
        }
    }

    /// What `recvmmsg` reported (absent or unrecognised: [`Unnamed`](Self::Unnamed)).
    pub(crate) fn from_storage(storage: Option<&SockaddrStorage>) -> DatagramAddr {
        let Some(s) = storage else { return DatagramAddr::Unnamed };
        if let Some(v4) = s.as_sockaddr_in() {
            return DatagramAddr::Ip(SocketAddr::V4(SocketAddrV4::from(*v4)));
        }
        if let Some(v6) = s.as_sockaddr_in6() {
            return DatagramAddr::Ip(SocketAddr::V6(SocketAddrV6::from(*v6)));
        }
        let _ = s.family(); // anything else (no address, another family): cannot be answered
        DatagramAddr::Unnamed
    }

    /// What `recvmmsg` reported on a Unix socket. An unbound sender's address has length 0
    /// (the kernel writes nothing): checked before nix is asked for a path, which it would
    /// refuse with a panic.
    pub(crate) fn from_unix(addr: Option<&UnixAddr>) -> DatagramAddr {
        let Some(unix) = addr else { return DatagramAddr::Unnamed };
        if (unix.len() as usize) <= std::mem::size_of::<u16>() {
            return DatagramAddr::Unnamed;
        }
        if let Some(path) = unix.path() {
            return DatagramAddr::Unix(path.to_path_buf());
        }
        if let Some(name) = unix.as_abstract() {
            return DatagramAddr::Abstract(name.to_vec());
        }
        DatagramAddr::Unnamed
    }

    /// A rustix sockaddr (from `getsockname`/`getpeername`).
    pub(crate) fn from_any(any: SocketAddrAny) -> DatagramAddr {
        if let Ok(addr) = SocketAddr::try_from(any.clone()) {
            return DatagramAddr::Ip(addr);
        }
        match SocketAddrUnix::try_from(any) {
            Ok(unix) => {
                if let Some(path) = unix.path_bytes().filter(|p| !p.is_empty()) {
                    DatagramAddr::Unix(std::ffi::OsStr::from_bytes(path).into())
                } else if let Some(name) = unix.abstract_name() {
                    DatagramAddr::Abstract(name.to_vec())
                } else {
                    DatagramAddr::Unnamed
                }
            }
            Err(_) => DatagramAddr::Unnamed,
        }
    }
}

impl From<SocketAddr> for DatagramAddr {
    fn from(addr: SocketAddr) -> DatagramAddr {
        DatagramAddr::Ip(addr)
    }
}

impl From<&Endpoint> for DatagramAddr {
    /// `Endpoint::Tcp(addr)` is read as the UDP address `addr`. A host name is not an address
    /// (resolve it first, e.g. with [`Endpoint::resolve_now`] at startup): it becomes
    /// [`Unnamed`](DatagramAddr::Unnamed), to which nothing can be sent.
    fn from(endpoint: &Endpoint) -> DatagramAddr {
        match endpoint {
            Endpoint::Tcp(addr) => DatagramAddr::Ip(*addr),
            Endpoint::Host { .. } => DatagramAddr::Unnamed,
            Endpoint::Unix(path) => DatagramAddr::Unix(path.clone()),
        }
    }
}

impl fmt::Display for DatagramAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatagramAddr::Ip(addr) => addr.fmt(f),
            DatagramAddr::Unix(path) => write!(f, "unix:{}", path.display()),
            DatagramAddr::Abstract(name) => write!(f, "unix:@{}", String::from_utf8_lossy(name)),
            DatagramAddr::Unnamed => f.write_str("(unnamed)"),
        }
    }
}

/// A non-blocking, close-on-exec datagram socket bound to `endpoint`: UDP for an IP address
/// (`Endpoint::Tcp(addr)` is read as the UDP address `addr`; port 0 picks one; a host name is
/// resolved first, waiting for the resolver), a Unix
/// datagram socket for a path (a stale socket file left by a server that is gone is replaced).
///
/// With `reuse_port`, UDP sockets get `SO_REUSEPORT`: several sockets, one per loop, share
/// the port and the kernel spreads datagrams among them by a hash of the sender (see
/// [`Loops::spawn_datagram`](crate::Loops::spawn_datagram)); ignored for Unix sockets.
///
/// ```
/// use ioman::net::{DatagramAddr, bind_datagram, datagram_local_addr};
/// let fd = bind_datagram(&"127.0.0.1:0".parse()?, false)?;
/// let DatagramAddr::Ip(addr) = datagram_local_addr(&fd)? else { unreachable!() };
/// assert_ne!(addr.port(), 0);
/// # Ok::<(), ioman::net::NetError>(())
/// ```
pub fn bind_datagram(endpoint: &Endpoint, reuse_port: bool) -> Result<OwnedFd, NetError> {
    match endpoint {
        // A name: resolved now, waiting for the resolver (binding is startup work).
        Endpoint::Host { .. } => bind_datagram(&endpoint.resolve_now()?.swap_remove(0), reuse_port),
        Endpoint::Tcp(addr) => {
            let family = if addr.is_ipv4() { AddressFamily::INET } else { AddressFamily::INET6 };
            let fd = socket(family)?;
            if reuse_port {
                net::sockopt::set_socket_reuseport(&fd, true)
                    .map_err(NetError::os("SO_REUSEPORT"))?;
            }
            net::bind(&fd, addr).map_err(NetError::os("bind"))?;
            Ok(fd)
        }
        Endpoint::Unix(path) => {
            let fd = socket(AddressFamily::UNIX)?;
            let addr = SocketAddrUnix::new(path.as_path()).map_err(|_| NetError::BadAddress {
                input: path.display().to_string(),
                reason: "Unix socket path too long or contains NUL",
            })?;
            match net::bind(&fd, &addr) {
                Err(rustix::io::Errno::ADDRINUSE) if is_stale(path) => {
                    std::fs::remove_file(path)
                        .map_err(|source| NetError::Os { call: "unlink stale socket", source })?;
                    net::bind(&fd, &addr).map_err(NetError::os("bind"))?;
                }
                other => other.map_err(NetError::os("bind"))?,
            }
            Ok(fd)
        }
    }
}

/// A Unix datagram socket file nobody is bound to any more (a send to it is refused).
fn is_stale(path: &std::path::Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    let is_socket = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket());
    is_socket
        && std::os::unix::net::UnixDatagram::unbound()
            .and_then(|s| s.send_to(&[], path))
            .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
}

/// A non-blocking, close-on-exec Unix datagram socket bound to nothing: it can send to (or
/// [`connect_datagram`] to) a bound one, whose protocol sees the sender as
/// [`DatagramAddr::Unnamed`] and cannot answer.
pub fn unbound_unix_datagram() -> Result<OwnedFd, NetError> {
    socket(AddressFamily::UNIX)
}

/// `connect(2)` on a datagram socket: from then on it receives only from `to`, sends without
/// an address go to `to`, and ICMP errors about `to` (`ECONNREFUSED` when nothing listens)
/// are reported (see [`Datagram::on_send_error`](crate::Datagram::on_send_error)).
pub fn connect_datagram(fd: impl AsFd, to: &DatagramAddr) -> Result<(), NetError> {
    let addr = to.to_any().ok_or_else(|| NetError::BadAddress {
        input: to.to_string(),
        reason: "not an address a datagram can be sent to",
    })?;
    net::connect(fd, &addr).map_err(NetError::os("connect"))
}

/// The address a datagram socket is bound to (`getsockname`): which port `:0` picked.
pub fn datagram_local_addr(fd: impl AsFd) -> Result<DatagramAddr, NetError> {
    Ok(DatagramAddr::from_any(net::getsockname(fd).map_err(NetError::os("getsockname"))?))
}

/// The peer of a connected datagram socket, if it is connected.
pub(crate) fn datagram_peer_addr(fd: impl AsFd) -> Option<DatagramAddr> {
    net::getpeername(fd).ok().flatten().map(DatagramAddr::from_any)
}

fn socket(family: AddressFamily) -> Result<OwnedFd, NetError> {
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    net::socket_with(family, SocketType::DGRAM, flags, None).map_err(NetError::os("socket"))
}
