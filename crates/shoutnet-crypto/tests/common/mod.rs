//! Fixture keys shared by the integration tests (docs/PROTOCOL.md §2).
#![allow(dead_code, unreachable_pub)]

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use shoutnet_crypto::{Keypair, Profile};

const ED25519: [&str; 3] = [
    include_str!("../../../../fixtures/keys/ed25519-1.pem"),
    include_str!("../../../../fixtures/keys/ed25519-2.pem"),
    include_str!("../../../../fixtures/keys/ed25519-3.pem"),
];
const RSA2048: [&str; 3] = [
    include_str!("../../../../fixtures/keys/rsa2048-1.pem"),
    include_str!("../../../../fixtures/keys/rsa2048-2.pem"),
    include_str!("../../../../fixtures/keys/rsa2048-3.pem"),
];
pub const PUBLIC_JSON: &str = include_str!("../../../../fixtures/keys/public.json");

/// Fixture key `n` (1–3) of `profile`.
pub fn fixture(profile: Profile, n: usize) -> Keypair {
    let pems = match profile {
        Profile::Ed25519 => ED25519,
        Profile::Rsa2048 => RSA2048,
    };
    Keypair::from_pkcs8_pem(pems[n - 1]).unwrap()
}

pub fn pem(profile: Profile, n: usize) -> &'static str {
    match profile {
        Profile::Ed25519 => ED25519[n - 1],
        Profile::Rsa2048 => RSA2048[n - 1],
    }
}

pub fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}
