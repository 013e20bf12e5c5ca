//! Socket addresses from peers (docs/PROTOCOL.md §8, §9.4, §11): which
//! claimed listen addresses a node believes and may dial.
//!
//! Addresses in hellos and node infos are claims. A node dials only
//! addresses that can be dialled at all, and, unless it is configured for a
//! local network, only globally routable ones, so that sybils cannot point
//! its dials at loopback or private services. Of a peer's own hello it
//! believes only the addresses on the IP address the connection runs over
//! (the observed-address rule): a peer cannot make others route a key to a
//! host it does not connect from.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

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

/// Whether `ip` is routable on the internet: not loopback, private
/// (RFC 1918, unique local), shared (RFC 6598), link-local, documentation,
/// benchmarking, reserved, multicast or unspecified.
pub(crate) fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_global_v4(ip),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => is_global_v4(v4),
            None => is_global_v6(ip),
        },
    }
}

fn is_global_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224)
}

fn is_global_v6(ip: Ipv6Addr) -> bool {
    let [s0, s1, ..] = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s0 & 0xfe00) == 0xfc00 // unique local
        || (s0 & 0xffc0) == 0xfe80 // link-local
        || (s0 == 0x2001 && s1 == 0x0db8)) // documentation
}

/// Whether a claimed address may be dialled by a node that is
/// (`local_network`) or is not configured for a local network.
pub(crate) fn usable(addr: &SocketAddr, local_network: bool) -> bool {
    dialable(addr) && (local_network || is_global(addr.ip()))
}

/// The addresses of a peer's hello `listen` this node believes, for a
/// connection with the peer at `remote`: usable ones on the connection's
/// own IP address.
pub(crate) fn believable(
    listen: &[SocketAddr],
    remote: &SocketAddr,
    local_network: bool,
) -> Vec<SocketAddr> {
    listen
        .iter()
        .copied()
        .filter(|a| a.ip() == remote.ip() && usable(a, local_network))
        .collect()
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

    #[test]
    fn only_global_addresses_unless_local() {
        // (address, global)
        let cases = [
            ("8.8.8.8", true),
            ("1.1.1.1", true),
            ("127.0.0.1", false),
            ("10.1.2.3", false),
            ("172.16.0.1", false),
            ("172.32.0.1", true),
            ("192.168.1.1", false),
            ("100.64.0.1", false),
            ("169.254.1.1", false),
            ("192.0.2.1", false),
            ("198.18.0.1", false),
            ("203.0.113.9", false),
            ("240.0.0.1", false),
            ("2606:4700::1111", true),
            ("::1", false),
            ("fd00::1", false),
            ("fe80::1", false),
            ("2001:db8::1", false),
            ("::ffff:10.0.0.1", false),
            ("::ffff:8.8.8.8", true),
        ];
        for (ip, global) in cases {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(is_global(ip), global, "{ip}");
            let addr = SocketAddr::new(ip, 4000);
            assert_eq!(usable(&addr, false), global, "{ip}");
            assert!(usable(&addr, true), "{ip} on a local network");
        }
    }

    #[test]
    fn a_hello_is_believed_on_the_connections_address_only() {
        let listen: Vec<SocketAddr> =
            ["8.8.8.8:4000", "8.8.4.4:4000", "10.0.0.1:4000", "8.8.8.8:0"]
                .iter()
                .map(|a| a.parse().unwrap())
                .collect();
        let from = "8.8.8.8:51234".parse().unwrap();
        assert_eq!(believable(&listen, &from, false), [listen[0]]);
        let private = "10.0.0.1:6000".parse().unwrap();
        assert!(
            believable(&listen, &private, false).is_empty(),
            "not global"
        );
        assert_eq!(believable(&listen, &private, true), [listen[2]]);
    }
}
