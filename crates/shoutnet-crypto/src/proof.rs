//! The handshake proof of `ACK PING` (docs/PROTOCOL.md §5.5 and §9.1).

use rand_core::CryptoRngCore;

use crate::{Error, Keypair, PublicKey};

/// The 26 ASCII bytes every handshake proof starts with, so a proof can
/// never be mistaken for a message signature (which starts with a key
/// field).
pub const PROOF_CONTEXT: &[u8; 26] = b"shoutnet/1 handshake proof";

/// Proves to a peer that this node holds the private key of its key field:
/// a signature (docs/PROTOCOL.md §5.3 scheme) over [`PROOF_CONTEXT`], the
/// peer's hello nonce, this node's key field and the peer's key field.
///
/// ```
/// use rand_chacha::{ChaCha20Rng, rand_core::SeedableRng};
/// use shoutnet_crypto::{Keypair, Profile, handshake_proof, verify_handshake_proof};
///
/// let mut rng = ChaCha20Rng::from_seed([3; 32]);
/// let (alice, bob) = (Keypair::generate(Profile::Ed25519, &mut rng)?,
///                     Keypair::generate(Profile::Ed25519, &mut rng)?);
/// let bobs_nonce = [9; 32];
/// let proof = handshake_proof(&alice, &mut rng, &bobs_nonce, bob.public().key_field())?;
/// verify_handshake_proof(alice.public(), &bobs_nonce, bob.public().key_field(), &proof)?;
/// # Ok::<(), shoutnet_crypto::Error>(())
/// ```
pub fn handshake_proof(
    keypair: &Keypair,
    rng: &mut impl CryptoRngCore,
    peer_nonce: &[u8; 32],
    verifier_key_field: &[u8],
) -> Result<Vec<u8>, Error> {
    let data = proof_data(peer_nonce, keypair.public().key_field(), verifier_key_field);
    keypair.sign(rng, &data)
}

/// Checks a peer's proof: `signer` is the peer's key (from its hello),
/// `my_nonce` the nonce this node sent, `my_key_field` this node's key
/// field.
pub fn verify_handshake_proof(
    signer: &PublicKey,
    my_nonce: &[u8; 32],
    my_key_field: &[u8],
    proof: &[u8],
) -> Result<(), Error> {
    let data = proof_data(my_nonce, signer.key_field(), my_key_field);
    signer.verify(&data, proof)
}

/// The signed bytes: context, nonce, signer's key field, verifier's key
/// field.
fn proof_data(nonce: &[u8; 32], signer: &[u8], verifier: &[u8]) -> Vec<u8> {
    let mut data =
        Vec::with_capacity(PROOF_CONTEXT.len() + nonce.len() + signer.len() + verifier.len());
    data.extend_from_slice(PROOF_CONTEXT);
    data.extend_from_slice(nonce);
    data.extend_from_slice(signer);
    data.extend_from_slice(verifier);
    data
}
