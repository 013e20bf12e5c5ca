//! Public keys, built only from validated key fields (docs/PROTOCOL.md §2),
//! and signature verification (§5.3).

use std::fmt;
use std::hash::{Hash, Hasher};

use bytes::Bytes;
use ed25519_dalek::VerifyingKey;
use rsa::pkcs1::{DecodeRsaPublicKey, EncodeRsaPublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pss, RsaPublicKey};
use sha2_10::{Digest, Sha256};
use shoutnet_wire::Profile;

use crate::{Address, Error};

/// The RSA public exponent every `rsa2048` key uses.
pub(crate) const RSA_EXPONENT: u32 = 65537;
/// The RSA modulus size of the `rsa2048` profile, in bits.
pub(crate) const RSA_BITS: usize = 2048;
/// The PSS salt length of docs/PROTOCOL.md §5.3: the SHA-256 output size.
pub(crate) const PSS_SALT_LEN: usize = 32;

/// A peer's public key, made only from a key field that passed every check
/// of docs/PROTOCOL.md §2, so holding one means the key is usable.
///
/// Two keys are equal when their key fields are.
///
/// ```
/// use shoutnet_crypto::{Error, Profile, PublicKey};
///
/// let field = [0x70, 0x02, 0x0f, 0xfd, 0x90, 0x04, 0xbf, 0x29, 0x34, 0x47, 0x3b, 0xc6, 0x67,
///     0x83, 0x2f, 0x34, 0x7c, 0x58, 0x83, 0x6b, 0x6e, 0x99, 0xdf, 0xd7, 0x23, 0x96, 0xc8,
///     0x86, 0xa2, 0x74, 0xd3, 0xab];
/// let key = PublicKey::from_key_field(Profile::Ed25519, &field)?;
/// assert_eq!(key.key_field(), &field);
/// assert_eq!(
///     PublicKey::from_key_field(Profile::Ed25519, &[0; 32]),
///     Err(Error::BroadcastKey)
/// );
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone)]
pub struct PublicKey {
    field: Bytes,
    address: Address,
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Ed25519(VerifyingKey),
    Rsa(Box<RsaPublicKey>),
}

impl PublicKey {
    /// Validates a key field of `profile` and makes the key.
    ///
    /// `ed25519`: exactly 32 bytes, a canonically encoded curve point that is
    /// not of small order. `rsa2048`: exactly 270 bytes of PKCS#1
    /// `RSAPublicKey` DER, a 2048-bit modulus, e = 65537, and DER that
    /// re-encodes to the same bytes. The all-zero broadcast key is refused
    /// in both.
    pub fn from_key_field(profile: Profile, field: &[u8]) -> Result<Self, Error> {
        if field.len() != profile.key_len() {
            return Err(Error::KeyLength {
                profile,
                expected: profile.key_len(),
                len: field.len(),
            });
        }
        if Self::is_broadcast(field) {
            return Err(Error::BroadcastKey);
        }
        let inner = match profile {
            Profile::Ed25519 => Inner::Ed25519(ed25519_key(field)?),
            Profile::Rsa2048 => Inner::Rsa(Box::new(rsa_key(field)?)),
        };
        Ok(Self {
            field: Bytes::copy_from_slice(field),
            address: Address::of_key_field(field),
            inner,
        })
    }

    /// Whether `field` is the broadcast key (all zeros, "everyone").
    pub fn is_broadcast(field: &[u8]) -> bool {
        field.iter().all(|&b| b == 0)
    }

    /// The key's profile.
    pub fn profile(&self) -> Profile {
        match self.inner {
            Inner::Ed25519(_) => Profile::Ed25519,
            Inner::Rsa(_) => Profile::Rsa2048,
        }
    }

    /// The key field, exactly as it goes on the wire.
    pub fn key_field(&self) -> &[u8] {
        &self.field
    }

    /// The key field as shared bytes, for building messages.
    pub fn to_bytes(&self) -> Bytes {
        self.field.clone()
    }

    /// The routing address: SHA-256 of the key field.
    pub fn routing_address(&self) -> Address {
        self.address
    }

    /// Verifies `signature` over `data` with the scheme of docs/PROTOCOL.md
    /// §5.3: strict Ed25519, or RSASSA-PSS with SHA-256, MGF1-SHA-256 and a
    /// 32-byte salt.
    pub fn verify(&self, data: &[u8], signature: &[u8]) -> Result<(), Error> {
        let expected = self.profile().signature_len();
        if signature.len() != expected {
            return Err(Error::SignatureLength {
                expected,
                len: signature.len(),
            });
        }
        match &self.inner {
            Inner::Ed25519(key) => {
                let signature = ed25519_dalek::Signature::from_slice(signature)
                    .map_err(|_| Error::BadSignature)?;
                key.verify_strict(data, &signature)
                    .map_err(|_| Error::BadSignature)
            }
            Inner::Rsa(key) => key
                .verify(
                    Pss::new_with_salt::<Sha256>(PSS_SALT_LEN),
                    &Sha256::digest(data),
                    signature,
                )
                .map_err(|_| Error::BadSignature),
        }
    }

    pub(crate) fn ed25519(&self) -> Option<&VerifyingKey> {
        match &self.inner {
            Inner::Ed25519(key) => Some(key),
            Inner::Rsa(_) => None,
        }
    }

    pub(crate) fn rsa(&self) -> Option<&RsaPublicKey> {
        match &self.inner {
            Inner::Rsa(key) => Some(key),
            Inner::Ed25519(_) => None,
        }
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.field == other.field
    }
}

impl Eq for PublicKey {}

impl Hash for PublicKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.field.hash(state);
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("profile", &self.profile())
            .field("address", &self.address)
            .finish()
    }
}

/// The Ed25519 rules: a point, canonically encoded, not of small order.
fn ed25519_key(field: &[u8]) -> Result<VerifyingKey, Error> {
    let bytes: &[u8; 32] = field.try_into().map_err(|_| Error::MalformedKey)?;
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| Error::MalformedKey)?;
    if key.to_edwards().compress().as_bytes() != bytes {
        return Err(Error::NonCanonicalKey);
    }
    if key.is_weak() {
        return Err(Error::WeakKey);
    }
    Ok(key)
}

/// The RSA rules: PKCS#1 DER, 2048-bit modulus, e = 65537, canonical.
fn rsa_key(field: &[u8]) -> Result<RsaPublicKey, Error> {
    let key = RsaPublicKey::from_pkcs1_der(field).map_err(|_| Error::MalformedKey)?;
    check_rsa_parameters(&key)?;
    let der = key.to_pkcs1_der().map_err(|_| Error::MalformedKey)?;
    if der.as_bytes() != field {
        return Err(Error::NonCanonicalKey);
    }
    Ok(key)
}

/// The profile's RSA parameters: a 2048-bit modulus and e = 65537.
pub(crate) fn check_rsa_parameters(key: &impl PublicKeyParts) -> Result<(), Error> {
    let bits = key.n().bits();
    if bits != RSA_BITS {
        return Err(Error::ModulusSize(bits));
    }
    if *key.e() != BigUint::from(RSA_EXPONENT) {
        return Err(Error::Exponent);
    }
    Ok(())
}
