//! Entry points for the fuzz targets on this crate's parsers: key fields
//! (docs/PROTOCOL.md §2) and encrypted content (§5.4). Each checks an
//! oracle, not just "does not crash", and panics when the oracle fails.
//!
//! The fixed key pairs are copies of the test-only fixture keys
//! `fixtures/keys/{ed25519,rsa2048}-1.pem`; their private halves are public,
//! so never use them for anything real.
#![allow(clippy::panic)]

use shoutnet_wire::Profile;

use crate::{Error, Keypair, PublicKey};

/// PEM of the Ed25519 fuzzing key (a copy of `fixtures/keys/ed25519-1.pem`).
const ED25519_PEM: &str = include_str!("fuzzing/ed25519-1.pem");
/// PEM of the RSA-2048 fuzzing key (a copy of `fixtures/keys/rsa2048-1.pem`).
const RSA2048_PEM: &str = include_str!("fuzzing/rsa2048-1.pem");

/// The fixed test-only key pair of `profile` the oracles decrypt with.
pub fn fixture_keypair(profile: Profile) -> Keypair {
    let pem = match profile {
        Profile::Ed25519 => ED25519_PEM,
        Profile::Rsa2048 => RSA2048_PEM,
    };
    match Keypair::from_pkcs8_pem(pem) {
        Ok(keypair) => keypair,
        Err(err) => panic!("the embedded fixture key does not load: {err}"),
    }
}

/// Picks a profile from the first byte (even: `ed25519`, odd: `rsa2048`) and
/// reads the rest as a key field. Oracle: a key that parses has exactly the
/// input as key field and that profile; parsing never panics.
pub fn public_key(data: &[u8]) {
    let Some((&selector, field)) = data.split_first() else {
        return;
    };
    let profile = profile_of(selector);
    if let Ok(key) = PublicKey::from_key_field(profile, field) {
        assert_eq!(key.key_field(), field, "key field not preserved");
        assert_eq!(key.profile(), profile);
    }
}

/// Picks a profile from the first byte and decrypts the rest as content
/// with that profile's fixture key and empty associated data. Oracle:
/// anything but [`Error::DecryptFailed`] is a bug (a forgery would need the
/// fuzzer to break ChaCha20-Poly1305).
pub fn decrypt(data: &[u8]) {
    let Some((&selector, content)) = data.split_first() else {
        return;
    };
    let keypair = fixture_keypair(profile_of(selector));
    let mut rng = oracle_rng::OracleRng::default();
    let result = keypair.decrypt(&mut rng, &[], content);
    assert_eq!(
        result,
        Err(Error::DecryptFailed),
        "random content decrypted"
    );
}

fn profile_of(selector: u8) -> Profile {
    if selector & 1 == 0 {
        Profile::Ed25519
    } else {
        Profile::Rsa2048
    }
}

/// A deterministic RNG for the blinding of RSA decryption in the oracle,
/// so runs replay exactly. Blinding values need no secrecy here: the key is
/// public anyway.
mod oracle_rng {
    use rand_core::{CryptoRng, RngCore, impls};

    /// SplitMix64: small, fast, deterministic. Test use only.
    #[derive(Debug, Default)]
    pub(super) struct OracleRng(u64);

    impl RngCore for OracleRng {
        fn next_u32(&mut self) -> u32 {
            (self.next_u64() >> 32) as u32
        }

        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn fill_bytes(&mut self, dest: &mut [u8]) {
            impls::fill_bytes_via_next(self, dest);
        }

        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }

    // Not cryptographically strong: marked so only because the decrypt
    // oracle needs blinding randomness for a public test key.
    impl CryptoRng for OracleRng {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_keys_are_the_fixtures() {
        assert_eq!(
            ED25519_PEM,
            include_str!("../../../fixtures/keys/ed25519-1.pem")
        );
        assert_eq!(
            RSA2048_PEM,
            include_str!("../../../fixtures/keys/rsa2048-1.pem")
        );
    }

    #[test]
    fn oracles_hold_on_samples() {
        for profile in Profile::ALL {
            let keypair = fixture_keypair(profile);
            let selector = match profile {
                Profile::Ed25519 => 0,
                Profile::Rsa2048 => 1,
            };
            let mut input = vec![selector];
            input.extend_from_slice(keypair.public().key_field());
            public_key(&input);
            public_key(&input[..input.len() - 1]);
            decrypt(&input);
            decrypt(&[selector]);
            decrypt(&vec![selector; 400]);
        }
        public_key(&[]);
        decrypt(&[]);
    }
}
