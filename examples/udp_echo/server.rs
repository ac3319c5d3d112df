//! The UDP echo protocol and its registration, apart from `main.rs` so that
//! `tests/udp_echo_example.rs` can run it in-process.

use ioman::Manager;
use ioman::net::{
    Datagram, DatagramAddr, DatagramConfig, DatagramContext, DatagramOut, DatagramSocket, Net,
    NetError,
};
use rustix::fd::OwnedFd;

/// Sends every datagram back to its sender. A sender that cannot be answered (an unbound
/// Unix socket) and a reply the full send queue refuses are dropped, as a congested network
/// would drop them; the counters say how many.
pub struct Echo;

impl Datagram for Echo {
    fn on_datagram(
        &mut self,
        data: &[u8],
        from: &DatagramAddr,
        out: &mut DatagramOut,
        _: &mut DatagramContext<'_>,
    ) {
        let _ = out.send_to(from, data);
    }
}

/// Registers an echo on `socket` (from [`ioman::net::bind_datagram`]) with `manager`.
pub fn build(
    manager: &mut Manager<Net<()>>,
    socket: OwnedFd,
    config: DatagramConfig,
) -> Result<ioman::Key, NetError> {
    DatagramSocket::new(Echo, config).register(manager, socket)
}
