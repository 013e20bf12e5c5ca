//! The fixture keys the test vectors are made with (docs/PROTOCOL.md §2),
//! and the vectors' sources of fixed "randomness": a `ChaCha20Rng` seeded
//! per vector for the cryptography (§5.3–§5.5) and fixed bytes for the
//! handshake vector's Noise keys (§9.1).
//!
//! The key fields come from `fixtures/keys/public.json` and the private keys
//! from `fixtures/keys/<profile>-<n>.pem`; each private key must have the
//! key field the JSON lists.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, anyhow, ensure};
use bytes::Bytes;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use shoutnet_crypto::{Keypair, PublicKey};
use shoutnet_wire::Profile;
use shoutnet_wire::json::{hex, unhex};

/// The directory of the fixture keys, relative to the workspace root.
pub(super) const DIR: &str = "fixtures/keys";

/// The file of the fixture key fields in hex, inside [`DIR`].
pub(super) const PUBLIC: &str = "public.json";

/// The three fixture keys of one profile (docs/PROTOCOL.md §2): their key
/// fields and their key pairs.
#[derive(Clone, Debug)]
pub(super) struct Keys {
    pub(super) profile: Profile,
    fields: [Bytes; 3],
    pairs: [Keypair; 3],
}

/// Reads `public.json` from `keys_dir`.
pub(super) fn read_fixtures(keys_dir: &Path) -> Result<Json> {
    let path = keys_dir.join(PUBLIC);
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

impl Keys {
    /// The fixture key fields `<profile>-1` … `<profile>-3` of `fixtures`
    /// (the contents of `public.json`), and the key pairs of
    /// `keys_dir/<profile>-<n>.pem`, which must have those key fields.
    pub(super) fn from_fixtures(
        fixtures: &Json,
        keys_dir: &Path,
        profile: Profile,
    ) -> Result<Self> {
        let field = |n: usize| -> Result<Bytes> {
            let name = format!("{}-{n}", profile.name());
            let text = fixtures
                .get(&name)
                .and_then(Json::as_str)
                .ok_or_else(|| anyhow!("the fixture keys have no string {name:?}"))?;
            let bytes = unhex(text).map_err(|e| anyhow!("fixture key {name}: {e}"))?;
            ensure!(
                bytes.len() == profile.key_len(),
                "fixture key {name} is {} bytes, a {profile} key field is {}",
                bytes.len(),
                profile.key_len()
            );
            Ok(Bytes::from(bytes))
        };
        let pair = |n: usize| -> Result<Keypair> {
            let path = keys_dir.join(format!("{}-{n}.pem", profile.name()));
            let pem =
                fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let pair = Keypair::from_pkcs8_pem(&pem)
                .map_err(|e| anyhow!("fixture key {}: {e}", path.display()))?;
            ensure!(
                pair.profile() == profile,
                "fixture key {} is not a {profile} key",
                path.display()
            );
            Ok(pair)
        };
        let fields = [field(1)?, field(2)?, field(3)?];
        let pairs = [pair(1)?, pair(2)?, pair(3)?];
        for (n, (field, pair)) in fields.iter().zip(&pairs).enumerate() {
            ensure!(
                pair.public().key_field() == field.as_ref(),
                "{}-{}.pem is not the key {DIR}/{PUBLIC} lists",
                profile.name(),
                n + 1,
            );
        }
        Ok(Self {
            profile,
            fields,
            pairs,
        })
    }

    /// The key pair whose key field is `field`.
    pub(super) fn pair(&self, field: &[u8]) -> Result<&Keypair> {
        self.pairs
            .iter()
            .find(|pair| pair.public().key_field() == field)
            .ok_or_else(|| anyhow!("{} is not a fixture key", hex(field)))
    }

    /// The public key whose key field is `field`.
    pub(super) fn public(&self, field: &[u8]) -> Result<&PublicKey> {
        Ok(self.pair(field)?.public())
    }

    /// Fixture key pair `n` (1, 2 or 3).
    pub(super) fn keypair(&self, n: usize) -> &Keypair {
        let [k1, k2, k3] = &self.pairs;
        match n {
            1 => k1,
            2 => k2,
            _ => k3,
        }
    }

    /// Fixture key field `n` (1, 2 or 3).
    pub(super) fn key(&self, n: usize) -> Bytes {
        let [k1, k2, k3] = &self.fields;
        match n {
            1 => k1.clone(),
            2 => k2.clone(),
            _ => k3.clone(),
        }
    }

    /// The broadcast key: K zero bytes (docs/PROTOCOL.md §2).
    pub(super) fn broadcast(&self) -> Bytes {
        Bytes::from(vec![0; self.profile.key_len()])
    }
}

/// SHA-256 of `data`: routing and DHT addresses, WHISPER digests.
pub(super) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// The random generator of the vectors' cryptography: a `ChaCha20Rng`
/// seeded with SHA-256 of the profile and `label`, so that signatures and
/// ciphertexts (RSA-PSS salts, OAEP padding, ephemeral keys, message keys)
/// are the same on every run.
pub(super) fn seeded(profile: Profile, label: &str) -> ChaCha20Rng {
    ChaCha20Rng::from_seed(sha256(
        format!("shoutnet vectors {profile} {label}").as_bytes(),
    ))
}

/// `len` fixed bytes that look random: SHA-256 of `label` and a counter,
/// repeated. Used for the handshake vector's Noise keys and seeds.
pub(super) fn fixed_bytes(label: &str, len: usize) -> Bytes {
    let mut out = Vec::with_capacity(len + 32);
    let mut counter = 0u32;
    while out.len() < len {
        let mut hasher = Sha256::new();
        hasher.update(label.as_bytes());
        hasher.update(counter.to_be_bytes());
        out.extend_from_slice(&hasher.finalize());
        counter += 1;
    }
    out.truncate(len);
    Bytes::from(out)
}

#[cfg(test)]
pub(super) mod tests {
    use std::path::PathBuf;

    use serde_json::json;
    use xshell::Shell;

    use super::*;
    use crate::util::project_root;

    pub(in crate::vectors) fn keys_dir() -> PathBuf {
        project_root().join(DIR)
    }

    pub(in crate::vectors) fn fixtures() -> Json {
        read_fixtures(&keys_dir()).expect("reading the fixture keys")
    }

    /// The ed25519 fixture keys.
    pub(in crate::vectors) fn ed25519() -> Keys {
        Keys::from_fixtures(&fixtures(), &keys_dir(), Profile::Ed25519).expect("fixture keys")
    }

    #[test]
    fn fixed_bytes_are_fixed_and_sized() {
        assert_eq!(fixed_bytes("x", 70).len(), 70);
        assert_eq!(fixed_bytes("x", 70), fixed_bytes("x", 70));
        assert_ne!(fixed_bytes("x", 32), fixed_bytes("y", 32));
        assert_eq!(fixed_bytes("x", 40)[..32], sha256(b"x\0\0\0\0"));
    }

    #[test]
    fn fixture_keys_must_have_the_profile_length() {
        let mut fixtures = fixtures();
        fixtures["ed25519-2"] = json!("00ff");
        let e = Keys::from_fixtures(&fixtures, &keys_dir(), Profile::Ed25519).unwrap_err();
        assert!(e.to_string().contains("ed25519-2 is 2 bytes"), "{e}");
        assert!(Keys::from_fixtures(&json!({}), &keys_dir(), Profile::Rsa2048).is_err());
    }

    #[test]
    fn fixture_private_keys_must_match_their_key_fields() -> Result<()> {
        let mut fixtures = fixtures();
        fixtures["ed25519-2"] = fixtures["ed25519-3"].clone();
        let e = Keys::from_fixtures(&fixtures, &keys_dir(), Profile::Ed25519).unwrap_err();
        assert!(
            e.to_string().contains("ed25519-2.pem is not the key"),
            "{e}"
        );
        let sh = Shell::new()?;
        let empty = sh.create_temp_dir()?;
        let e = Keys::from_fixtures(&self::fixtures(), empty.path(), Profile::Ed25519);
        assert!(format!("{:#}", e.unwrap_err()).contains("ed25519-1.pem"));
        Ok(())
    }
}
