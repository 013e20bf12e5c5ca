//! A node's own key pair: generation, signing (docs/PROTOCOL.md §5.3) and
//! PKCS#8 PEM encoding (the format is `keyfile.rs`'s). Decryption is in
//! `encrypt.rs` (§5.4).

use std::fmt;

use ed25519_dalek::SigningKey;
use rand_core::CryptoRngCore;
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::{Pss, RsaPrivateKey, RsaPublicKey};
use sha2_10::{Digest, Sha256};
use shoutnet_wire::Profile;
use zeroize::Zeroizing;

use crate::key::{PSS_SALT_LEN, RSA_BITS};
use crate::{Error, PublicKey, keyfile};

/// A private key with its public key.
///
/// Secrets are wiped from memory when the key pair is dropped, and `Debug`
/// prints only the profile and the routing address.
///
/// ```
/// use rand_chacha::{ChaCha20Rng, rand_core::SeedableRng};
/// use shoutnet_crypto::{Keypair, Profile};
///
/// let mut rng = ChaCha20Rng::from_seed([1; 32]);
/// let me = Keypair::generate(Profile::Ed25519, &mut rng)?;
/// let signature = me.sign(&mut rng, b"hello")?;
/// me.public().verify(b"hello", &signature)?;
///
/// let pem = me.to_pkcs8_pem()?;
/// assert_eq!(Keypair::from_pkcs8_pem(&pem)?.public(), me.public());
/// # Ok::<(), shoutnet_crypto::Error>(())
/// ```
#[derive(Clone)]
pub struct Keypair {
    secret: Secret,
    public: PublicKey,
}

/// Both variants are boxed so that moving a `Keypair` never leaves copies
/// of secret bytes behind on the stack.
#[derive(Clone)]
pub(crate) enum Secret {
    Ed25519(Box<SigningKey>),
    Rsa(Box<RsaPrivateKey>),
}

impl Keypair {
    /// Generates a new key pair of `profile`. For `rsa2048` this takes a
    /// noticeable time (tens to hundreds of milliseconds, optimised).
    pub fn generate(profile: Profile, rng: &mut impl CryptoRngCore) -> Result<Self, Error> {
        let secret = match profile {
            Profile::Ed25519 => Secret::Ed25519(Box::new(SigningKey::generate(rng))),
            Profile::Rsa2048 => Secret::Rsa(Box::new(
                RsaPrivateKey::new(rng, RSA_BITS).map_err(|_| Error::KeyGeneration)?,
            )),
        };
        Self::from_secret(secret)
    }

    /// Reads a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`),
    /// version 1 or 2 (RFC 5208 `PrivateKeyInfo` or RFC 5958
    /// `OneAsymmetricKey`). The profile is the key's: Ed25519, or RSA, which
    /// must be a valid 2048-bit key with e = 65537. A public key embedded in
    /// a version 2 key must be the one the private key gives, else
    /// [`Error::EmbeddedPublicKeyMismatch`].
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, Error> {
        keyfile::decode_pem(pem)
    }

    /// The private key as PKCS#8 v1 PEM (RFC 5208 `PrivateKeyInfo`, no
    /// embedded public key: what `openssl genpkey` writes) with `\n` line
    /// endings, in memory that is wiped when dropped.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, Error> {
        keyfile::encode_pem(&self.secret)
    }

    /// The key pair's profile.
    pub fn profile(&self) -> Profile {
        self.public.profile()
    }

    /// The public key.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// Signs `data` with the scheme of docs/PROTOCOL.md §5.3. Ed25519 is
    /// deterministic and ignores `rng`; RSA-PSS draws its salt from `rng`
    /// and blinds the private-key operation with it.
    pub fn sign(&self, rng: &mut impl CryptoRngCore, data: &[u8]) -> Result<Vec<u8>, Error> {
        match &self.secret {
            Secret::Ed25519(key) => {
                use ed25519_dalek::Signer;
                Ok(key.sign(data).to_bytes().to_vec())
            }
            Secret::Rsa(key) => key
                .sign_with_rng(
                    rng,
                    Pss::new_blinded_with_salt::<Sha256>(PSS_SALT_LEN),
                    &Sha256::digest(data),
                )
                .map_err(|_| Error::Sign),
        }
    }

    pub(crate) fn secret(&self) -> &Secret {
        &self.secret
    }

    pub(crate) fn from_secret(secret: Secret) -> Result<Self, Error> {
        let public = match &secret {
            Secret::Ed25519(key) => {
                PublicKey::from_key_field(Profile::Ed25519, key.verifying_key().as_bytes())?
            }
            Secret::Rsa(key) => {
                let der = RsaPublicKey::from(key.as_ref())
                    .to_pkcs1_der()
                    .map_err(|_| Error::MalformedPrivateKey)?;
                PublicKey::from_key_field(Profile::Rsa2048, der.as_bytes())?
            }
        };
        Ok(Self { secret, public })
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keypair")
            .field("profile", &self.profile())
            .field("address", &self.public.routing_address())
            .finish_non_exhaustive()
    }
}
