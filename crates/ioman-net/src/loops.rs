//! [`Loops`]: one event loop per core. N threads, each with its own [`Manager`] and its own
//! listening (or datagram) socket on the same address (`SO_REUSEPORT`, so the kernel spreads
//! incoming connections or datagrams; Unix sockets share one socket instead). Nothing is shared between
//! loops at run time; shutdown reaches each through its [`Remote`](ioman_core::Remote).

use crate::shutdown;
use crate::{BindOptions, DatagramAddr, Endpoint, Net, NetError, listen, local_endpoint};
use crate::{bind_datagram, datagram_local_addr};
use ioman_core::Manager;
use rustix::fd::OwnedFd;
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, mpsc};
use std::thread::{self, JoinHandle};
use std::time::Duration;

type Stopper = Box<dyn Fn(Duration) -> bool + Send + Sync>;

/// Loop threads serving one address.
///
/// ```
/// use ioman::Manager;
/// use ioman::net::{ConnConfig, Listener, Loops, Net, Outbox, ProtoContext, Protocol};
/// use std::io::{Read, Write};
/// use std::time::Duration;
///
/// struct Echo;
/// impl Protocol for Echo {
///     fn on_data(&mut self, input: &[u8], out: &mut Outbox, _: &mut ProtoContext<'_>) -> usize {
///         out.extend_from_slice(input);
///         input.len()
///     }
/// }
///
/// let loops = Loops::spawn(2, &"127.0.0.1:0".parse()?, |_, socket| {
///     let mut manager: Manager<Net<()>> = Manager::new()?;
///     Listener::serve(ConnConfig::default(), || Echo).register(&mut manager, socket)?;
///     Ok(manager)
/// })?;
/// let ioman::net::Endpoint::Tcp(addr) = loops.local_addr().clone() else { unreachable!() };
/// let mut client = std::net::TcpStream::connect(addr)?;
/// client.write_all(b"ping")?;
/// let mut buf = [0; 4];
/// client.read_exact(&mut buf)?;
/// assert_eq!(&buf, b"ping");
/// drop(client);
/// loops.shutdown(Duration::from_secs(5));
/// loops.join()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Loops {
    local: Endpoint,
    threads: Vec<JoinHandle<Result<(), NetError>>>,
    stoppers: Vec<Stopper>,
}

impl Loops {
    /// Binds `threads` (at least 1) listening sockets on `endpoint` and starts one thread per
    /// socket. Each thread calls `setup(index, socket)` to build its manager (typically:
    /// create it, register a [`Listener`](crate::Listener) on the socket), then runs it.
    ///
    /// Returns once every loop is set up; if any setup fails, the others are stopped and the
    /// first error is returned.
    pub fn spawn<S, F>(threads: usize, endpoint: &Endpoint, setup: F) -> Result<Loops, NetError>
    where
        S: 'static,
        F: Fn(usize, OwnedFd) -> Result<Manager<Net<S>>, NetError> + Send + Sync + 'static,
    {
        let sockets = bind_all(threads.max(1), endpoint)?;
        let local = local_endpoint(&sockets[0])?;
        Loops::spawn_on(sockets, local, setup)
    }

    /// As [`spawn`](Self::spawn), for datagrams: `threads` UDP sockets bound to `endpoint`
    /// with `SO_REUSEPORT` (the kernel spreads datagrams among them by a hash of the sender,
    /// so one client's datagrams stay on one loop), or one Unix datagram socket shared. Each
    /// thread's `setup` typically registers a [`DatagramSocket`](crate::DatagramSocket) on
    /// its socket. [`local_addr`](Self::local_addr) is then `Endpoint::Tcp(addr)` for the UDP
    /// address `addr`.
    ///
    /// ```
    /// use ioman::Manager;
    /// use ioman::net::{Datagram, DatagramAddr, DatagramConfig, DatagramContext, DatagramOut};
    /// use ioman::net::{DatagramSocket, Endpoint, Loops, Net};
    /// use std::time::Duration;
    ///
    /// struct Echo;
    /// impl Datagram for Echo {
    ///     fn on_datagram(&mut self, data: &[u8], from: &DatagramAddr, out: &mut DatagramOut,
    ///                    _: &mut DatagramContext<'_>) {
    ///         let _ = out.send_to(from, data);
    ///     }
    /// }
    ///
    /// let loops = Loops::spawn_datagram(2, &"127.0.0.1:0".parse()?, |_, socket| {
    ///     let mut manager: Manager<Net<()>> = Manager::new()?;
    ///     DatagramSocket::new(Echo, DatagramConfig::default()).register(&mut manager, socket)?;
    ///     Ok(manager)
    /// })?;
    /// let Endpoint::Tcp(addr) = loops.local_addr().clone() else { unreachable!() };
    /// let client = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// client.set_read_timeout(Some(Duration::from_secs(5)))?;
    /// client.send_to(b"ping", addr)?;
    /// let mut buf = [0; 4];
    /// assert_eq!(client.recv_from(&mut buf)?.0, 4);
    /// assert_eq!(&buf, b"ping");
    /// loops.shutdown(Duration::from_secs(5));
    /// loops.join()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn_datagram<S, F>(
        threads: usize,
        endpoint: &Endpoint,
        setup: F,
    ) -> Result<Loops, NetError>
    where
        S: 'static,
        F: Fn(usize, OwnedFd) -> Result<Manager<Net<S>>, NetError> + Send + Sync + 'static,
    {
        let reuse = matches!(endpoint, Endpoint::Tcp(_) | Endpoint::Host { .. });
        let first = bind_datagram(endpoint, reuse)?;
        let local = match datagram_local_addr(&first)? {
            DatagramAddr::Ip(addr) => Endpoint::Tcp(addr),
            _ => endpoint.clone(),
        };
        let mut sockets = vec![first];
        for _ in 1..threads.max(1) {
            let socket = match &local {
                Endpoint::Tcp(_) | Endpoint::Host { .. } => bind_datagram(&local, true)?,
                Endpoint::Unix(_) => {
                    sockets[0].try_clone().map_err(|source| NetError::Os { call: "dup", source })?
                }
            };
            sockets.push(socket);
        }
        Loops::spawn_on(sockets, local, setup)
    }

    /// Starts one loop thread per socket.
    fn spawn_on<S, F>(sockets: Vec<OwnedFd>, local: Endpoint, setup: F) -> Result<Loops, NetError>
    where
        S: 'static,
        F: Fn(usize, OwnedFd) -> Result<Manager<Net<S>>, NetError> + Send + Sync + 'static,
    {
        let setup = Arc::new(setup);
        let (tx, rx) = mpsc::channel::<Option<Stopper>>();
        let mut loops = Loops { local, threads: Vec::new(), stoppers: Vec::new() };
        let mut spawn_error = None;
        for (i, socket) in sockets.into_iter().enumerate() {
            let (setup, tx) = (Arc::clone(&setup), tx.clone());
            let spawned = thread::Builder::new().name(format!("ioman-loop-{i}")).spawn(move || {
                let mut manager = match setup(i, socket) {
                    Ok(manager) => manager,
                    Err(e) => {
                        let _ = tx.send(None);
                        return Err(e);
                    }
                };
                let remote = manager.remote();
                let stop: Stopper =
                    Box::new(move |grace| remote.post(move |m| shutdown::begin(m, grace)).is_ok());
                let _ = tx.send(Some(stop));
                drop(tx);
                manager.run().map_err(NetError::from)
            });
            match spawned {
                Ok(handle) => loops.threads.push(handle),
                Err(source) => {
                    spawn_error = Some(NetError::Os { call: "pthread_create", source });
                    break;
                }
            }
        }
        drop(tx);
        let mut failed = spawn_error.is_some();
        for _ in 0..loops.threads.len() {
            match rx.recv() {
                Ok(Some(stop)) => loops.stoppers.push(stop),
                Ok(None) | Err(_) => failed = true,
            }
        }
        if failed {
            let setup_error = loops.abort();
            return Err(spawn_error.unwrap_or(setup_error));
        }
        Ok(loops)
    }

    /// The address the loops listen on (with the port `:0` resolved to).
    pub fn local_addr(&self) -> &Endpoint {
        &self.local
    }

    /// The number of loops.
    pub fn len(&self) -> usize {
        self.threads.len()
    }

    /// Whether there are no loops (never, once spawned).
    pub fn is_empty(&self) -> bool {
        self.threads.is_empty()
    }

    /// Starts a graceful [`shutdown`](crate::shutdown) of every loop; calling it again ends
    /// the drain at once. Returns without waiting: see [`join`](Self::join).
    pub fn shutdown(&self, grace: Duration) {
        for stop in &self.stoppers {
            stop(grace);
        }
    }

    /// Waits for every loop thread to return; the first error (or panic) wins.
    pub fn join(self) -> Result<(), NetError> {
        let mut result = Ok(());
        for (i, handle) in self.threads.into_iter().enumerate() {
            let outcome = handle.join().unwrap_or(Err(NetError::LoopPanicked(i)));
            if result.is_ok() {
                result = outcome;
            }
        }
        result
    }

    /// Blocks until SIGINT or SIGTERM, shuts every loop down with `grace` (a second signal
    /// ends the drain at once), and joins them.
    pub fn run_until_signal(self, grace: Duration) -> Result<(), NetError> {
        let mut signals = UnixStream::from(shutdown::signal_pipe()?);
        signals.set_nonblocking(false).map_err(|source| NetError::Os { call: "fcntl", source })?;
        let mut byte = [0u8; 1];
        let _ = signals.read(&mut byte);
        self.shutdown(grace);
        let stoppers = Arc::new(self.stoppers);
        let again = Arc::clone(&stoppers);
        // A second signal: end the drain now. The thread ends with the process.
        thread::spawn(move || {
            if signals.read(&mut byte).is_ok() {
                for stop in again.iter() {
                    stop(Duration::ZERO);
                }
            }
        });
        Loops { local: self.local, threads: self.threads, stoppers: Vec::new() }.join()
    }

    /// Stops what was started and returns the first error.
    fn abort(&mut self) -> NetError {
        self.shutdown(Duration::ZERO);
        let threads = std::mem::take(&mut self.threads);
        let mut first = None;
        for (i, handle) in threads.into_iter().enumerate() {
            if let Err(e) = handle.join().unwrap_or(Err(NetError::LoopPanicked(i))) {
                first.get_or_insert(e);
            }
        }
        first.unwrap_or(NetError::LoopPanicked(0))
    }
}

/// One socket per loop: `SO_REUSEPORT` TCP sockets on one port, or one Unix socket shared.
fn bind_all(n: usize, endpoint: &Endpoint) -> Result<Vec<OwnedFd>, NetError> {
    let reuse = matches!(endpoint, Endpoint::Tcp(_) | Endpoint::Host { .. });
    let first = listen(endpoint, BindOptions::default().reuse_port(reuse))?;
    let local = local_endpoint(&first)?;
    let mut sockets = vec![first];
    for _ in 1..n {
        let socket = match &local {
            Endpoint::Tcp(_) | Endpoint::Host { .. } => {
                listen(&local, BindOptions::default().reuse_port(true))?
            }
            Endpoint::Unix(_) => {
                sockets[0].try_clone().map_err(|source| NetError::Os { call: "dup", source })?
            }
        };
        sockets.push(socket);
    }
    Ok(sockets)
}
