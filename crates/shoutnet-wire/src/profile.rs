//! Key profiles: the size of key fields and signatures (docs/PROTOCOL.md §2).

use std::fmt;
use std::str::FromStr;

/// The key profile of a network. It fixes β, the size of a key field, and so
/// the size of every message header; all nodes of one network use the same
/// profile.
///
/// ```
/// use shoutnet_wire::Profile;
/// assert_eq!(Profile::Ed25519.header_len(), 70);
/// assert_eq!(Profile::Rsa2048.header_len(), 546);
/// assert_eq!("rsa2048".parse::<Profile>().unwrap(), Profile::Rsa2048);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Profile {
    /// Raw 32-byte Ed25519 keys (β = 256), 64-byte signatures. The default for
    /// new networks: 70-byte headers and cheap operations.
    #[default]
    Ed25519,
    /// 270-byte PKCS#1 `RSAPublicKey` DER of a 2048-bit key with e = 65537
    /// (β = 2160), 256-byte signatures. The seed's profile, kept for
    /// compatibility.
    Rsa2048,
}

impl Profile {
    /// Both profiles, in a fixed order.
    pub const ALL: [Self; 2] = [Self::Ed25519, Self::Rsa2048];

    /// Length of a key field in bytes (`K` = β / 8).
    pub const fn key_len(self) -> usize {
        match self {
            Self::Ed25519 => 32,
            Self::Rsa2048 => 270,
        }
    }

    /// β, the length of a key field in bits.
    pub const fn beta(self) -> usize {
        self.key_len() * 8
    }

    /// Length of a signature in bytes (`S`): 64 for Ed25519, 256 for RSA-2048.
    pub const fn signature_len(self) -> usize {
        match self {
            Self::Ed25519 => 64,
            Self::Rsa2048 => 256,
        }
    }

    /// Length of a message header in bytes: two key fields, the opcode byte,
    /// the flags byte and the 4-byte payload length.
    pub const fn header_len(self) -> usize {
        2 * self.key_len() + 6
    }

    /// The profile's name on the wire and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ed25519 => "ed25519",
            Self::Rsa2048 => "rsa2048",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The string named no key profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown key profile (expected \"ed25519\" or \"rsa2048\")")]
pub struct UnknownProfile;

impl FromStr for Profile {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or(UnknownProfile)
    }
}
