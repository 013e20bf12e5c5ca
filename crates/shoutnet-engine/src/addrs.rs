//! Socket addresses from peers (docs/PROTOCOL.md §8, §9.4): which claimed
//! listen addresses a node may dial.

use std::net::{IpAddr, SocketAddr};

/// Whether a peer's claimed listen address can be dialled: not the
/// unspecified address, not multicast or broadcast, and not port 0.
pub(crate) fn dialable(addr: &SocketAddr) -> bool {
    let ip_ok = match addr.ip() {
        IpAddr::V4(ip) => !ip.is_unspecified() && !ip.is_multicast() && !ip.is_broadcast(),
        IpAddr::V6(ip) => !ip.is_unspecified() && !ip.is_multicast(),
    };
    ip_ok && addr.port() != 0
}

/// The first dialable address of `listen`.
pub(crate) fn first_dialable(listen: &[SocketAddr]) -> Option<SocketAddr> {
    listen.iter().copied().find(dialable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undialable_addresses() {
        let cases = [
            ("127.0.0.1:4000", true),
            ("[::1]:4000", true),
            ("0.0.0.0:4000", false),
            ("[::]:4000", false),
            ("224.0.0.1:4000", false),
            ("[ff02::1]:4000", false),
            ("255.255.255.255:4000", false),
            ("10.0.0.1:0", false),
        ];
        for (addr, expected) in cases {
            assert_eq!(dialable(&addr.parse().unwrap()), expected, "{addr}");
        }
        let listen: Vec<SocketAddr> =
            vec!["0.0.0.0:1".parse().unwrap(), "10.0.0.1:2".parse().unwrap()];
        assert_eq!(first_dialable(&listen), Some(listen[1]));
    }
}
