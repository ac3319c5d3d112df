//! [`resolve`]: host names looked up off the loop. The system resolver (`getaddrinfo`) blocks
//! for as long as DNS takes, so it runs on a [`WorkPool`] thread and its answer comes back to
//! the loop as a callback; a slow or hanging resolver never stalls a turn.

use ioman_core::{Manager, Remote, WorkError, WorkPool};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Resolves `host` (a name, or an address literal) for `port` on `pool`, then calls `done` on
/// the loop's thread with the addresses in the order to try them: families alternating, the
/// resolver's first family first (RFC 8305's interleaving, so a broken IPv6 path costs one
/// attempt, not all of them). No address is an error of kind `NotFound`.
///
/// ```
/// use ioman::{Manager, WorkPool};
/// use std::net::SocketAddr;
/// use std::time::Duration;
///
/// let mut manager: Manager<Vec<SocketAddr>> = Manager::new()?;
/// let pool = WorkPool::new(1, 16)?;
/// ioman::net::resolve(&pool, &manager.remote(), "localhost", 8080, |addrs, m| {
///     *m.state_mut() = addrs.unwrap_or_default();
/// })?;
/// while manager.state().is_empty() {
///     manager.turn(Some(Duration::from_secs(5)))?;
/// }
/// assert!(manager.state().iter().all(|a| a.ip().is_loopback() && a.port() == 8080));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn resolve<S: 'static, R: 'static>(
    pool: &WorkPool,
    remote: &Remote<S, R>,
    host: &str,
    port: u16,
    done: impl FnOnce(io::Result<Vec<SocketAddr>>, &mut Manager<S, R>) + Send + 'static,
) -> Result<(), WorkError> {
    let host = host.to_owned();
    let lookup = move || -> io::Result<Vec<SocketAddr>> {
        let addrs: Vec<SocketAddr> = (host.as_str(), port).to_socket_addrs()?.collect();
        match addrs.is_empty() {
            true => Err(io::Error::new(io::ErrorKind::NotFound, format!("{host}: no address"))),
            false => Ok(interleave(addrs)),
        }
    };
    pool.submit(remote, lookup, move |result, m| {
        done(result.unwrap_or_else(|e| Err(io::Error::other(e))), m)
    })
}

/// Orders addresses for connecting: alternating families, starting with the family of the
/// first one, each family in its original order.
pub fn interleave(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let first_v6 = addrs.first().is_some_and(SocketAddr::is_ipv6);
    let (mut a, mut b): (Vec<_>, Vec<_>) = addrs.into_iter().partition(|x| x.is_ipv6() == first_v6);
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.drain(..), b.drain(..));
    loop {
        match (a.next(), b.next()) {
            (None, None) => return out,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::interleave;
    use std::net::SocketAddr;

    #[test]
    fn families_alternate_from_the_first() {
        let v = |s: &str| s.parse::<SocketAddr>().unwrap();
        let addrs =
            vec![v("[::1]:1"), v("[::2]:1"), v("[::3]:1"), v("10.0.0.1:1"), v("10.0.0.2:1")];
        let want = vec![v("[::1]:1"), v("10.0.0.1:1"), v("[::2]:1"), v("10.0.0.2:1"), v("[::3]:1")];
        assert_eq!(interleave(addrs), want);
        assert_eq!(interleave(vec![v("10.0.0.1:1")]), vec![v("10.0.0.1:1")]);
        assert!(interleave(Vec::new()).is_empty());
    }
}
