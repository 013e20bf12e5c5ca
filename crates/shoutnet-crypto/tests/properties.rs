//! Property tests of signatures (docs/PROTOCOL.md §5.3) and encryption
//! (§5.4) on the cheap `ed25519` profile, with keys and randomness built
//! from strategy values so every case replays.

mod common;

use common::fixture;
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use shoutnet_crypto::{Error, Keypair, Profile, encrypt};

fn keypair(seed: [u8; 32]) -> Keypair {
    Keypair::generate(Profile::Ed25519, &mut ChaCha20Rng::from_seed(seed)).unwrap()
}

proptest! {
    #[test]
    fn encryption_round_trips(
        key_seed in any::<[u8; 32]>(),
        rng_seed in any::<[u8; 32]>(),
        aad in proptest::collection::vec(any::<u8>(), 0..100),
        plain in proptest::collection::vec(any::<u8>(), 0..2000),
    ) {
        let bob = keypair(key_seed);
        let mut rng = ChaCha20Rng::from_seed(rng_seed);
        let content = encrypt(bob.public(), &mut rng, &aad, &plain).unwrap();
        prop_assert_eq!(content.len(), plain.len() + 48);
        prop_assert_eq!(bob.decrypt(&mut rng, &aad, &content).unwrap(), plain);
    }

    #[test]
    fn any_flipped_bit_fails_decryption(
        rng_seed in any::<[u8; 32]>(),
        plain in proptest::collection::vec(any::<u8>(), 0..300),
        bit in any::<prop::sample::Index>(),
    ) {
        let bob = fixture(Profile::Ed25519, 2);
        let mut rng = ChaCha20Rng::from_seed(rng_seed);
        let mut content = encrypt(bob.public(), &mut rng, b"h", &plain).unwrap();
        let bit = bit.index(content.len() * 8);
        content[bit / 8] ^= 1 << (bit % 8);
        prop_assert_eq!(bob.decrypt(&mut rng, b"h", &content), Err(Error::DecryptFailed));
    }

    #[test]
    fn signatures_verify_only_their_data(
        key_seed in any::<[u8; 32]>(),
        data in proptest::collection::vec(any::<u8>(), 0..500),
        bit in any::<prop::sample::Index>(),
    ) {
        let me = keypair(key_seed);
        let mut rng = ChaCha20Rng::from_seed([0; 32]);
        let sig = me.sign(&mut rng, &data).unwrap();
        prop_assert_eq!(me.public().verify(&data, &sig), Ok(()));
        let mut bad = sig.clone();
        let bit = bit.index(bad.len() * 8);
        bad[bit / 8] ^= 1 << (bit % 8);
        prop_assert_eq!(me.public().verify(&data, &bad), Err(Error::BadSignature));
    }
}
