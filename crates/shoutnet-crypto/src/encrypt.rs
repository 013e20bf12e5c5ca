//! Hybrid encryption of message content (docs/PROTOCOL.md §5.4): a fresh
//! ChaCha20-Poly1305 key per message, reaching the recipient through an
//! ephemeral X25519 exchange (`ed25519`) or RSA-OAEP-SHA-256 (`rsa2048`).

use bytes::Bytes;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use rand_core::CryptoRngCore;
use rsa::Oaep;
use sha2_10::Sha256;
use shoutnet_wire::{Flags, Message, MessageRef, Profile};
use x25519_dalek::{PublicKey as XPublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::keypair::Secret;
use crate::sign::covered_header;
use crate::{Error, Keypair, PublicKey, sign_message};

/// The HKDF `info` of the `ed25519` profile.
const HKDF_INFO: &[u8] = b"shoutnet/1 ed25519 encryption";
/// Length of the per-message ChaCha20-Poly1305 key.
const KEY_LEN: usize = 32;
/// Length of the Poly1305 tag.
const TAG_LEN: usize = 16;
/// Length of an X25519 public key (the ephemeral `E`).
const X25519_LEN: usize = 32;
/// Length of an RSA-OAEP wrapped key: the 2048-bit modulus size in bytes.
const RSA_WRAP_LEN: usize = 256;
/// The nonce: all zeros, safe because each key encrypts exactly once.
const NONCE: [u8; 12] = [0; 12];

/// Bytes `ed25519` encryption adds: the ephemeral key `E` and the tag.
pub const ED25519_OVERHEAD: usize = X25519_LEN + TAG_LEN;
/// Bytes `rsa2048` encryption adds: the wrapped key `W` and the tag.
pub const RSA2048_OVERHEAD: usize = RSA_WRAP_LEN + TAG_LEN;

/// Bytes encryption adds to the plaintext in `profile`.
pub const fn overhead(profile: Profile) -> usize {
    match profile {
        Profile::Ed25519 => ED25519_OVERHEAD,
        Profile::Rsa2048 => RSA2048_OVERHEAD,
    }
}

/// Encrypts `plaintext` for `to` with associated data `aad` (the header
/// `H` of docs/PROTOCOL.md §5.4 when encrypting a message): the content is
/// `E || ciphertext || tag` (`ed25519`) or `W || ciphertext || tag`
/// (`rsa2048`).
///
/// ```
/// use rand_chacha::{ChaCha20Rng, rand_core::SeedableRng};
/// use shoutnet_crypto::{Error, Keypair, Profile, encrypt};
///
/// let mut rng = ChaCha20Rng::from_seed([4; 32]);
/// let bob = Keypair::generate(Profile::Ed25519, &mut rng)?;
/// let content = encrypt(bob.public(), &mut rng, b"header", b"secret")?;
/// assert_eq!(content.len(), 6 + 48);
/// assert_eq!(bob.decrypt(&mut rng, b"header", &content)?, b"secret");
/// assert_eq!(bob.decrypt(&mut rng, b"Header", &content), Err(Error::DecryptFailed));
/// # Ok::<(), Error>(())
/// ```
pub fn encrypt(
    to: &PublicKey,
    rng: &mut impl CryptoRngCore,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    let mut content = Vec::with_capacity(plaintext.len() + overhead(to.profile()));
    if let Some(recipient) = to.ed25519() {
        let ephemeral = {
            let mut bytes = Zeroizing::new([0u8; 32]);
            rng.fill_bytes(bytes.as_mut());
            StaticSecret::from(*bytes)
        };
        let e_public = XPublicKey::from(&ephemeral);
        let r_public = XPublicKey::from(recipient.to_montgomery().to_bytes());
        let shared = ephemeral.diffie_hellman(&r_public);
        if !shared.was_contributory() {
            return Err(Error::Encrypt);
        }
        derive_key(
            shared.as_bytes(),
            e_public.as_bytes(),
            r_public.as_bytes(),
            &mut key,
        )?;
        content.extend_from_slice(e_public.as_bytes());
    } else if let Some(recipient) = to.rsa() {
        rng.fill_bytes(key.as_mut());
        let wrapped = recipient
            .encrypt(rng, Oaep::new::<Sha256>(), key.as_ref())
            .map_err(|_| Error::Encrypt)?;
        if wrapped.len() != RSA_WRAP_LEN {
            return Err(Error::Encrypt);
        }
        content.extend_from_slice(&wrapped);
    }
    let sealed = aead(&key)
        .encrypt(
            Nonce::from_slice(&NONCE),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| Error::Encrypt)?;
    content.extend_from_slice(&sealed);
    Ok(content)
}

impl Keypair {
    /// Decrypts content made by [`encrypt`] for this key with associated
    /// data `aad`. Every failure is [`Error::DecryptFailed`]. `rng` blinds
    /// the RSA private-key operation; Ed25519 key pairs ignore it.
    pub fn decrypt(
        &self,
        rng: &mut impl CryptoRngCore,
        aad: &[u8],
        content: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        let sealed = match self.secret() {
            Secret::Ed25519(signing) => {
                let (e_bytes, sealed) = content
                    .split_first_chunk::<X25519_LEN>()
                    .ok_or(Error::DecryptFailed)?;
                let secret = StaticSecret::from(*Zeroizing::new(signing.to_scalar_bytes()));
                let r_public = XPublicKey::from(&secret);
                let shared = secret.diffie_hellman(&XPublicKey::from(*e_bytes));
                if !shared.was_contributory() {
                    return Err(Error::DecryptFailed);
                }
                derive_key(shared.as_bytes(), e_bytes, r_public.as_bytes(), &mut key)
                    .map_err(|_| Error::DecryptFailed)?;
                sealed
            }
            Secret::Rsa(private) => {
                let (wrapped, sealed) = content
                    .split_first_chunk::<RSA_WRAP_LEN>()
                    .ok_or(Error::DecryptFailed)?;
                let unwrapped = Zeroizing::new(
                    private
                        .decrypt_blinded(rng, Oaep::new::<Sha256>(), wrapped)
                        .map_err(|_| Error::DecryptFailed)?,
                );
                let unwrapped: &[u8; KEY_LEN] = unwrapped
                    .as_slice()
                    .try_into()
                    .map_err(|_| Error::DecryptFailed)?;
                key.copy_from_slice(unwrapped);
                sealed
            }
        };
        if sealed.len() < TAG_LEN {
            return Err(Error::DecryptFailed);
        }
        aead(&key)
            .decrypt(Nonce::from_slice(&NONCE), Payload { msg: sealed, aad })
            .map_err(|_| Error::DecryptFailed)
    }
}

/// Encrypts `msg`'s content for `to`, which must be its to-key, and sets
/// its **encrypted** flag.
///
/// The associated data is the header as it will be sent (docs/PROTOCOL.md
/// §5.4): **encrypted** = 1 and **signed** = `will_sign`. Pass
/// `will_sign: true` when the message will be signed afterwards (with
/// [`sign_message`]; [`seal_message`] does both); otherwise the recipient's
/// decryption fails. Any signature the message had is removed, since it no
/// longer covers the content.
pub fn encrypt_message(
    to: &PublicKey,
    rng: &mut impl CryptoRngCore,
    msg: &mut Message,
    will_sign: bool,
) -> Result<(), Error> {
    if msg.encrypted {
        return Err(Error::AlreadyEncrypted);
    }
    if msg.to.as_ref() != to.key_field() {
        return Err(Error::KeyMismatch);
    }
    let flags = Flags {
        encrypted: true,
        signed: will_sign,
    };
    let aad = covered_header(&msg.from, &msg.to, msg.opcode, flags);
    let content = encrypt(to, rng, &aad, &msg.content)?;
    msg.content = Bytes::from(content);
    msg.encrypted = true;
    msg.signature = None;
    Ok(())
}

/// Encrypts `msg` for `to`, then signs it with `keypair` (encrypt, then
/// sign the ciphertext: docs/PROTOCOL.md §5.2), so relays can check the
/// origin but not read the content.
///
/// ```
/// use bytes::Bytes;
/// use rand_chacha::{ChaCha20Rng, rand_core::SeedableRng};
/// use shoutnet_crypto::{Keypair, Profile, decrypt_message, seal_message, verify_message};
/// use shoutnet_wire::{Message, Opcode};
///
/// let mut rng = ChaCha20Rng::from_seed([5; 32]);
/// let alice = Keypair::generate(Profile::Ed25519, &mut rng)?;
/// let bob = Keypair::generate(Profile::Ed25519, &mut rng)?;
/// let plain = Bytes::from_static(&[0x92, 0x07, 0xa2, b'h', b'i']);
/// let mut msg = Message::new(alice.public().to_bytes(), bob.public().to_bytes(),
///     Opcode::Whisper, plain.clone());
/// seal_message(&alice, bob.public(), &mut rng, &mut msg)?;
/// verify_message(alice.public(), &msg)?; // any relay can check this
/// assert_eq!(decrypt_message(&bob, &mut rng, &msg)?, plain); // only Bob can do this
/// # Ok::<(), shoutnet_crypto::Error>(())
/// ```
pub fn seal_message(
    keypair: &Keypair,
    to: &PublicKey,
    rng: &mut impl CryptoRngCore,
    msg: &mut Message,
) -> Result<(), Error> {
    if msg.from.as_ref() != keypair.public().key_field() {
        return Err(Error::KeyMismatch);
    }
    encrypt_message(to, rng, msg, true)?;
    sign_message(keypair, rng, msg)
}

/// Decrypts `msg`'s content with `keypair`, which must hold its to-key,
/// using the header as received (its flags included) as associated data.
/// Verifying a signature, if any, is separate ([`verify_message`](crate::verify_message)).
pub fn decrypt_message(
    keypair: &Keypair,
    rng: &mut impl CryptoRngCore,
    msg: &Message,
) -> Result<Bytes, Error> {
    if !msg.encrypted {
        return Err(Error::NotEncrypted);
    }
    if msg.to.as_ref() != keypair.public().key_field() {
        return Err(Error::KeyMismatch);
    }
    let aad = covered_header(&msg.from, &msg.to, msg.opcode, msg.flags());
    keypair.decrypt(rng, &aad, &msg.content).map(Bytes::from)
}

/// [`decrypt_message`] on a message borrowed from a decoded transmission.
pub fn decrypt_message_ref(
    keypair: &Keypair,
    rng: &mut impl CryptoRngCore,
    msg: MessageRef<'_>,
) -> Result<Bytes, Error> {
    if !msg.encrypted() {
        return Err(Error::NotEncrypted);
    }
    if msg.to() != keypair.public().key_field() {
        return Err(Error::KeyMismatch);
    }
    let aad = covered_header(msg.from(), msg.to(), msg.opcode(), msg.flags());
    keypair.decrypt(rng, &aad, msg.content()).map(Bytes::from)
}

/// `k = HKDF-SHA256(IKM = Z, salt = E || R, info, L = 32)`.
fn derive_key(
    shared: &[u8; 32],
    e_public: &[u8; 32],
    r_public: &[u8; 32],
    key: &mut [u8; KEY_LEN],
) -> Result<(), Error> {
    let mut salt = [0u8; 64];
    let (e_part, r_part) = salt.split_at_mut(32);
    e_part.copy_from_slice(e_public);
    r_part.copy_from_slice(r_public);
    Hkdf::<Sha256>::new(Some(&salt), shared)
        .expand(HKDF_INFO, key)
        .map_err(|_| Error::Encrypt)
}

fn aead(key: &[u8; KEY_LEN]) -> ChaCha20Poly1305 {
    ChaCha20Poly1305::new(Key::from_slice(key))
}
