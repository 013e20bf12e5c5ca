//! The crate's one error type (docs/PROTOCOL.md §2, §5.3–§5.5).

use shoutnet_wire::Profile;

/// Everything that can go wrong in this crate apart from key-file IO
/// ([`KeyFileError`](crate::KeyFileError)).
///
/// Each malformed-key rule of docs/PROTOCOL.md §2 is its own variant, so
/// tests and logs can tell them apart. Decryption is the exception on
/// purpose: every decryption failure is [`Error::DecryptFailed`]
/// (docs/PROTOCOL.md §5.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key field has the wrong length for its profile.
    #[error("{profile} key field is {len} bytes, expected {expected}")]
    KeyLength {
        /// The profile the key field was read as.
        profile: Profile,
        /// The profile's key-field length `K`.
        expected: usize,
        /// The length found.
        len: usize,
    },
    /// The all-zero key field means "everyone"; it is not a public key.
    #[error("the all-zero broadcast key is not a public key")]
    BroadcastKey,
    /// The bytes are not a key of the profile: not a curve point, or not
    /// PKCS#1 `RSAPublicKey` DER.
    #[error("malformed public key")]
    MalformedKey,
    /// The key field decodes, but is not the canonical encoding of its key,
    /// so one key would have two key fields and two addresses.
    #[error("public key is not canonically encoded")]
    NonCanonicalKey,
    /// An Ed25519 key of small order, for which signatures and key agreement
    /// prove nothing.
    #[error("weak (small-order) Ed25519 public key")]
    WeakKey,
    /// An RSA modulus that is not exactly 2048 bits long.
    #[error("RSA modulus is {0} bits, expected 2048")]
    ModulusSize(usize),
    /// An RSA public exponent other than 65537.
    #[error("RSA public exponent is not 65537")]
    Exponent,
    /// A key or key field of one profile was used where another was expected.
    #[error("expected a {expected} key, found {found}")]
    ProfileMismatch {
        /// The profile required.
        expected: Profile,
        /// The profile found.
        found: Profile,
    },
    /// A message's from-key (signing, verifying) or to-key (encrypting,
    /// decrypting) is not the key given.
    #[error("the message's key field is not this key")]
    KeyMismatch,
    /// A private key that could not be read: not PKCS#8 PEM, not Ed25519 or
    /// RSA, or an RSA key that does not validate.
    #[error("malformed or unsupported private key")]
    MalformedPrivateKey,
    /// A PKCS#8 v2 private key (RFC 5958 `OneAsymmetricKey`) whose embedded
    /// public key is not the one its private key gives.
    #[error("the private key's embedded public key does not match its private key")]
    EmbeddedPublicKeyMismatch,
    /// Key generation failed.
    #[error("key generation failed")]
    KeyGeneration,
    /// A signature has the wrong length for its profile.
    #[error("signature is {len} bytes, expected {expected}")]
    SignatureLength {
        /// The profile's signature length `S`.
        expected: usize,
        /// The length found.
        len: usize,
    },
    /// A signature of the right length that does not verify.
    #[error("bad signature")]
    BadSignature,
    /// A message that carries no signature was given to a verifier.
    #[error("message is not signed")]
    Unsigned,
    /// The private-key operation of signing failed.
    #[error("signing failed")]
    Sign,
    /// Encryption failed (a plaintext too long for the AEAD, or an RSA
    /// failure).
    #[error("encryption failed")]
    Encrypt,
    /// Decryption failed, for whatever reason: content too short, a wrapped
    /// or ephemeral key that does not decrypt or agree, or a bad tag.
    #[error("decryption failed")]
    DecryptFailed,
    /// A message to decrypt is not flagged as encrypted.
    #[error("message is not encrypted")]
    NotEncrypted,
    /// A message to encrypt is already encrypted.
    #[error("message is already encrypted")]
    AlreadyEncrypted,
    /// An address string is not 64 characters long.
    #[error("address is {0} characters, expected 64 hex digits")]
    AddressLength(usize),
    /// An address string has a character that is not a hex digit.
    #[error("address has a non-hex character")]
    AddressHex,
}
