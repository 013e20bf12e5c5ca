//! The channel binding of a hello (docs/PROTOCOL.md §5.5 and §9.1): a
//! node's signature, with its identity key, over the Noise static public
//! key of its secure channel.

use rand_core::CryptoRngCore;

use crate::{Error, Keypair, PublicKey};

/// The 26 ASCII bytes every binding starts with, so a binding can never be
/// mistaken for a message signature (which starts with a key field).
pub const BINDING_CONTEXT: &[u8; 26] = b"shoutnet/1 channel binding";

/// The bytes a binding signs: [`BINDING_CONTEXT`] followed by the 32-byte
/// X25519 Noise static public key.
///
/// ```
/// let data = shoutnet_crypto::binding_data(&[7; 32]);
/// assert_eq!(&data[..26], b"shoutnet/1 channel binding");
/// assert_eq!(data.len(), 26 + 32);
/// ```
pub fn binding_data(static_public: &[u8; 32]) -> Vec<u8> {
    let mut data = Vec::with_capacity(BINDING_CONTEXT.len() + static_public.len());
    data.extend_from_slice(BINDING_CONTEXT);
    data.extend_from_slice(static_public);
    data
}

/// Binds `keypair`'s identity to the Noise static key `static_public`: a
/// signature with the scheme and parameters of docs/PROTOCOL.md §5.3 (but
/// not its header framing) over [`binding_data`]. A node signs it once,
/// when it makes its static key, and sends it in every hello.
///
/// ```
/// use rand_chacha::{ChaCha20Rng, rand_core::SeedableRng};
/// use shoutnet_crypto::{Keypair, Profile, sign_binding, verify_binding};
///
/// let mut rng = ChaCha20Rng::from_seed([3; 32]);
/// let alice = Keypair::generate(Profile::Ed25519, &mut rng)?;
/// let static_public = [9; 32];
/// let binding = sign_binding(&alice, &mut rng, &static_public)?;
/// verify_binding(alice.public(), &static_public, &binding)?;
/// assert!(verify_binding(alice.public(), &[8; 32], &binding).is_err());
/// # Ok::<(), shoutnet_crypto::Error>(())
/// ```
pub fn sign_binding(
    keypair: &Keypair,
    rng: &mut impl CryptoRngCore,
    static_public: &[u8; 32],
) -> Result<Vec<u8>, Error> {
    keypair.sign(rng, &binding_data(static_public))
}

/// Checks a peer's binding: `signer` is the key of its hello, and
/// `static_public` the static key its Noise handshake proved it holds (not
/// a key the hello names).
pub fn verify_binding(
    signer: &PublicKey,
    static_public: &[u8; 32],
    binding: &[u8],
) -> Result<(), Error> {
    signer.verify(&binding_data(static_public), binding)
}
