//! Signed messages (docs/PROTOCOL.md §5.2 and §5.3): the signature covers
//! `H || C`, the header without its length field, with **signed** = 1, then
//! the content.

use bytes::Bytes;
use rand_core::CryptoRngCore;
use shoutnet_wire::{Flags, Message, MessageRef, Opcode, header_without_length};

use crate::{Error, Keypair, PublicKey};

/// Signs `msg` with `keypair`, which must hold its from-key, and sets
/// `msg.signature`.
///
/// The signature covers the header as it will be sent, that is with the
/// **signed** flag set (docs/PROTOCOL.md §5.3), then the content. To send a
/// message both encrypted and signed, encrypt it first (with
/// [`encrypt_message`](crate::encrypt_message)`(.., will_sign: true)`, or
/// use [`seal_message`](crate::seal_message)), then sign it; signing
/// replaces any signature the message had.
///
/// ```
/// use bytes::Bytes;
/// use rand_chacha::{ChaCha20Rng, rand_core::SeedableRng};
/// use shoutnet_crypto::{Keypair, Profile, sign_message, verify_message};
/// use shoutnet_wire::{Message, Opcode};
///
/// let mut rng = ChaCha20Rng::from_seed([2; 32]);
/// let me = Keypair::generate(Profile::Ed25519, &mut rng)?;
/// let mut msg = Message::new(me.public().to_bytes(), Bytes::from(vec![0; 32]),
///     Opcode::Shout, Bytes::from_static(&[0x92, 0x01, 0xa2, b'h', b'i']));
/// sign_message(&me, &mut rng, &mut msg)?;
/// verify_message(me.public(), &msg)?;
/// msg.content = Bytes::from_static(&[0x92, 0x02, 0xa2, b'h', b'i']);
/// assert!(verify_message(me.public(), &msg).is_err());
/// # Ok::<(), shoutnet_crypto::Error>(())
/// ```
pub fn sign_message(
    keypair: &Keypair,
    rng: &mut impl CryptoRngCore,
    msg: &mut Message,
) -> Result<(), Error> {
    if msg.from.as_ref() != keypair.public().key_field() {
        return Err(Error::KeyMismatch);
    }
    let flags = Flags {
        encrypted: msg.encrypted,
        signed: true,
    };
    let data = signed_data(&msg.from, &msg.to, msg.opcode, flags, &msg.content);
    msg.signature = Some(Bytes::from(keypair.sign(rng, &data)?));
    debug_assert_eq!(msg.signed_bytes(), data);
    Ok(())
}

/// Verifies the signature of `msg` against `from`, which must be its
/// from-key. An unsigned message is [`Error::Unsigned`].
pub fn verify_message(from: &PublicKey, msg: &Message) -> Result<(), Error> {
    let signature = msg.signature.as_ref().ok_or(Error::Unsigned)?;
    if msg.from.as_ref() != from.key_field() {
        return Err(Error::KeyMismatch);
    }
    from.verify(&msg.signed_bytes(), signature)
}

/// [`verify_message`] on a message borrowed from a decoded transmission.
pub fn verify_message_ref(from: &PublicKey, msg: MessageRef<'_>) -> Result<(), Error> {
    let signature = msg.signature().ok_or(Error::Unsigned)?;
    if msg.from() != from.key_field() {
        return Err(Error::KeyMismatch);
    }
    let data = signed_data(
        msg.from(),
        msg.to(),
        msg.opcode(),
        msg.flags(),
        msg.content(),
    );
    from.verify(&data, signature)
}

/// `H || C`: from-key, to-key, opcode byte, flags byte, then the content.
pub(crate) fn signed_data(
    from: &[u8],
    to: &[u8],
    opcode: Opcode,
    flags: Flags,
    content: &[u8],
) -> Vec<u8> {
    let mut out = header_without_length(from, to, opcode, flags, content.len());
    out.extend_from_slice(content);
    out
}

/// The header minus its length field with the given flags (the flags as
/// they will be sent, which may differ from the message's current ones).
pub(crate) fn covered_header(from: &[u8], to: &[u8], opcode: Opcode, flags: Flags) -> Vec<u8> {
    header_without_length(from, to, opcode, flags, 0)
}
