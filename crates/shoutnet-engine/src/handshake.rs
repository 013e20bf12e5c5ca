//! The handshake's check (docs/PROTOCOL.md §9.1, §5.5): once a connection's
//! secure channel completes, the peer's hello must name a valid identity
//! key whose binding signature covers the Noise static key the channel
//! proved the peer holds. Only then is the peer who its key says.
//!
//! This is what defeats a relay: a node M connected to X and to V can hand
//! V's hello to X, but V's binding signs V's static key, and X's channel
//! with M proved M's static key, so the binding does not verify; and
//! nothing makes V sign M's static key. The part also builds this node's
//! own hello, whose binding is signed once, when the node starts: no peer
//! can make the node do private-key work for a handshake.

use std::collections::VecDeque;
use std::net::SocketAddr;

use bytes::Bytes;
use rand_core::CryptoRngCore;
use shoutnet_crypto::{Address, Keypair, PublicKey, sign_binding, verify_binding};
use shoutnet_wire::Hello;
use shoutnet_wire::{Method, MethodSet, Profile, ValueLimits};

use crate::addrs::believable;
use crate::channel::{ChannelIdentity, SecuredPeer};
use crate::event::CloseReason;

/// The authenticated peer of an established connection.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    /// Its routing address.
    pub(crate) address: Address,
    /// Its key.
    pub(crate) public: PublicKey,
    /// Where it accepts connections: the addresses of its hello this node
    /// believes (see [`believable`]).
    pub(crate) listen: Vec<SocketAddr>,
    /// The largest transmission body it takes.
    pub(crate) max_transmission: usize,
    /// The compression methods it decodes.
    pub(crate) compression: MethodSet,
    /// The method it would like to receive.
    pub(crate) preferred: Method,
}

impl Peer {
    /// The method to send to this peer with (§9.3): its own preference
    /// if it decodes it, else this node's `preferred` if the peer decodes
    /// that, else `none`.
    pub(crate) fn send_method(&self, preferred: Method) -> Method {
        [self.preferred, preferred]
            .into_iter()
            .find(|m| *m != Method::None && self.compression.contains(*m))
            .unwrap_or(Method::None)
    }
}

/// What this node says about itself in every handshake.
pub(crate) struct OwnHello<'a> {
    pub(crate) keypair: &'a Keypair,
    pub(crate) listen: &'a [SocketAddr],
    pub(crate) compression: MethodSet,
    pub(crate) preferred: Method,
    pub(crate) max_transmission: usize,
}

impl OwnHello<'_> {
    /// The node's channel identity: a Noise static key made from
    /// `static_secret`, and the hello binding the identity key to it.
    pub(crate) fn identity(
        &self,
        static_secret: [u8; 32],
        rng: &mut impl CryptoRngCore,
    ) -> Result<ChannelIdentity, shoutnet_crypto::Error> {
        let profile = self.keypair.profile();
        // The static public key is needed before the hello that signs it.
        let unsigned = ChannelIdentity::new(profile, static_secret, Bytes::new());
        let binding = sign_binding(self.keypair, rng, unsigned.static_public())?;
        let hello = Hello {
            key: self.keypair.public().to_bytes(),
            binding: Bytes::from(binding),
            listen: self.listen.to_vec(),
            compression: self.compression,
            preferred: self.preferred,
            max_transmission: u32::try_from(self.max_transmission).unwrap_or(u32::MAX),
        };
        let bytes = hello
            .encode()
            .map_err(|_| shoutnet_crypto::Error::MalformedKey)?;
        Ok(ChannelIdentity::new(profile, static_secret, bytes))
    }
}

/// How to judge a peer's hello.
pub(crate) struct Judge<'a> {
    pub(crate) profile: Profile,
    pub(crate) limits: &'a ValueLimits,
    /// This node's key field.
    pub(crate) local_key: &'a [u8],
    /// Where the connection goes: the address dialled, or the inbound
    /// connection's remote address.
    pub(crate) remote: SocketAddr,
    /// Whether loopback, private and link-local addresses are believed.
    pub(crate) local_network: bool,
}

impl Judge<'_> {
    /// Reads the hello of `peer`; its key's field, which the caller
    /// resolves (a key already held, or decoded now) before [`check`].
    ///
    /// [`check`]: Self::check
    pub(crate) fn read(&self, peer: &SecuredPeer) -> Result<Hello, CloseReason> {
        Hello::decode(&peer.hello, self.profile, self.limits).map_err(CloseReason::MalformedHello)
    }

    /// Checks `hello` from the channel that proved `peer.remote_static`,
    /// whose key resolved to `key`, and returns the authenticated peer. A
    /// binding found in `verified` is not verified again; one that verifies
    /// is added to it.
    pub(crate) fn check(
        &self,
        peer: &SecuredPeer,
        hello: Hello,
        key: Result<PublicKey, shoutnet_crypto::Error>,
        verified: &mut VerifiedBindings,
    ) -> Result<Peer, CloseReason> {
        let public = key.map_err(|_| CloseReason::InvalidKey)?;
        if public.key_field() == self.local_key {
            return Err(CloseReason::SelfConnection);
        }
        if !verified.contains(&public, &peer.remote_static, &hello.binding) {
            verify_binding(&public, &peer.remote_static, &hello.binding)
                .map_err(|_| CloseReason::UnboundKey)?;
            verified.insert(&public, peer.remote_static, hello.binding.clone());
        }
        Ok(Peer {
            address: public.routing_address(),
            listen: believable(&hello.listen, &self.remote, self.local_network),
            public,
            max_transmission: usize::try_from(hello.max_transmission).unwrap_or(usize::MAX),
            compression: hello.compression,
            preferred: hello.preferred,
        })
    }
}

/// The channel bindings this node verified lately, so that a peer who
/// connects again costs a comparison instead of a signature check (most
/// connections of a lookup-heavy node go to peers it met before). Only the
/// exact key, static key and binding bytes that verified are remembered,
/// so a hit proves what a verification would; the oldest entry goes first
/// past the capacity.
#[derive(Debug)]
pub(crate) struct VerifiedBindings {
    entries: VecDeque<(Bytes, [u8; 32], Bytes)>,
    capacity: usize,
}

impl VerifiedBindings {
    /// The engine's capacity: 64 peers, about 10 KB with ed25519 keys.
    pub(crate) const CAPACITY: usize = 64;

    /// Remembers at most `capacity` bindings.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: VecDeque::with_capacity(capacity.min(64)),
            capacity,
        }
    }

    /// Whether `key` bound `remote_static` with exactly `binding`, verified.
    pub(crate) fn contains(
        &self,
        key: &PublicKey,
        remote_static: &[u8; 32],
        binding: &[u8],
    ) -> bool {
        self.entries
            .iter()
            .any(|(k, s, b)| k[..] == *key.key_field() && s == remote_static && b[..] == *binding)
    }

    /// Remembers a binding that verified.
    pub(crate) fn insert(&mut self, key: &PublicKey, remote_static: [u8; 32], binding: Bytes) {
        if self.capacity == 0 {
            return;
        }
        // A peer's newer binding replaces its older one.
        self.entries.retain(|(k, _, _)| k[..] != *key.key_field());
        if self.entries.len() >= self.capacity {
            self.entries.pop_front();
        }
        let field = Bytes::copy_from_slice(key.key_field());
        self.entries.push_back((field, remote_static, binding));
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    use shoutnet_wire::HelloError;

    use super::*;

    const PROFILE: Profile = Profile::Ed25519;

    fn keypair(seed: u8) -> Keypair {
        Keypair::generate(PROFILE, &mut ChaCha20Rng::from_seed([seed; 32])).unwrap()
    }

    fn identity(keypair: &Keypair, secret: u8, listen: &[SocketAddr]) -> ChannelIdentity {
        let own = OwnHello {
            keypair,
            listen,
            compression: MethodSet::all(),
            preferred: Method::None,
            max_transmission: 1 << 20,
        };
        own.identity([secret; 32], &mut ChaCha20Rng::from_seed([0; 32]))
            .unwrap()
    }

    fn judge<'a>(local: &'a Keypair, limits: &'a ValueLimits, remote: &str) -> Judge<'a> {
        Judge {
            profile: PROFILE,
            limits,
            local_key: local.public().key_field(),
            remote: remote.parse().unwrap(),
            local_network: true,
        }
    }

    fn secured(id: &ChannelIdentity) -> SecuredPeer {
        SecuredPeer {
            remote_static: *id.static_public(),
            hello: id.hello().clone(),
        }
    }

    fn judged(j: &Judge<'_>, peer: &SecuredPeer) -> Result<Peer, CloseReason> {
        judged_with(j, peer, &mut VerifiedBindings::new(8))
    }

    fn judged_with(
        j: &Judge<'_>,
        peer: &SecuredPeer,
        verified: &mut VerifiedBindings,
    ) -> Result<Peer, CloseReason> {
        let hello = j.read(peer)?;
        let key = PublicKey::from_key_field(PROFILE, &hello.key);
        j.check(peer, hello, key, verified)
    }

    #[test]
    fn a_bound_hello_authenticates_and_a_relayed_one_does_not() {
        let (x, v, m) = (keypair(1), keypair(2), keypair(3));
        let limits = ValueLimits::default();
        let at = [
            "10.0.0.2:4000".parse().unwrap(),
            "10.9.9.9:4000".parse().unwrap(),
        ];
        let (vid, mid) = (identity(&v, 20, &at), identity(&m, 30, &[]));
        let x_judges = judge(&x, &limits, "10.0.0.2:51000");
        // X remembers V's verified binding; nothing below gets past it.
        let mut verified = VerifiedBindings::new(8);
        let peer = judged_with(&x_judges, &secured(&vid), &mut verified).unwrap();
        assert!(
            verified.contains(
                v.public(),
                vid.static_public(),
                &Hello::decode(vid.hello(), PROFILE, &limits)
                    .unwrap()
                    .binding
            )
        );
        assert_eq!(peer.public, *v.public());
        assert_eq!(
            peer.listen,
            [at[0]],
            "only the address the connection comes from"
        );
        // M relays V's hello over its own channel: the channel proved M's
        // static key, which V's binding does not cover.
        let relayed = SecuredPeer {
            remote_static: *mid.static_public(),
            hello: vid.hello().clone(),
        };
        assert_eq!(
            judged_with(&x_judges, &relayed, &mut verified).unwrap_err(),
            CloseReason::UnboundKey
        );
        // Nor can M bind V's key to its own static key without V's key.
        let mut forged = Hello::decode(mid.hello(), PROFILE, &limits).unwrap();
        forged.key = v.public().to_bytes();
        let forged = SecuredPeer {
            remote_static: *mid.static_public(),
            hello: forged.encode().unwrap(),
        };
        assert_eq!(
            judged_with(&x_judges, &forged, &mut verified).unwrap_err(),
            CloseReason::UnboundKey
        );
        // V again: from memory.
        assert!(judged_with(&x_judges, &secured(&vid), &mut verified).is_ok());
    }

    #[test]
    fn each_fault_is_a_close_reason() {
        let (x, v) = (keypair(1), keypair(2));
        let limits = ValueLimits::default();
        let j = judge(&x, &limits, "10.0.0.2:51000");
        let garbage = SecuredPeer {
            remote_static: [0; 32],
            hello: Bytes::from_static(&[0xc1]),
        };
        assert!(matches!(
            judged(&j, &garbage),
            Err(CloseReason::MalformedHello(_))
        ));
        let not_a_map = SecuredPeer {
            remote_static: [0; 32],
            hello: Bytes::from_static(&[0x01]),
        };
        assert_eq!(
            judged(&j, &not_a_map).unwrap_err(),
            CloseReason::MalformedHello(HelloError::NotAMap)
        );
        let own = identity(&x, 10, &[]);
        assert_eq!(
            judged(&j, &secured(&own)).unwrap_err(),
            CloseReason::SelfConnection
        );
        let vid = identity(&v, 20, &[]);
        let mut bad_key = Hello::decode(vid.hello(), PROFILE, &limits).unwrap();
        bad_key.key = Bytes::from(vec![0; 32]);
        let peer = SecuredPeer {
            remote_static: *vid.static_public(),
            hello: bad_key.encode().unwrap(),
        };
        assert_eq!(judged(&j, &peer).unwrap_err(), CloseReason::InvalidKey);
    }
}
