//! Signatures, ciphertexts and channel bindings made by Python's
//! `cryptography` from the text of docs/PROTOCOL.md §5.3–§5.5 alone
//! (tests/data/make_vectors.py), checked by this crate.

mod common;

use common::{fixture, rng};
use shoutnet_crypto::{Profile, verify_binding};

const VECTORS: &str = include_str!("data/python_vectors.txt");

#[test]
fn python_made_data_verifies_and_decrypts() {
    let mut rng = rng(11);
    let mut checked = 0;
    for line in VECTORS.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let profile: Profile = fields[0].parse().unwrap();
        let (alice, bob) = (fixture(profile, 1), fixture(profile, 2));
        let bytes = |i: usize| hex::decode(fields[i]).unwrap();
        match fields[1] {
            "sealed" => {
                let (h, content, signature, plain) = (bytes(2), bytes(3), bytes(4), bytes(5));
                let mut expected_h = alice.public().key_field().to_vec();
                expected_h.extend_from_slice(bob.public().key_field());
                expected_h.extend_from_slice(&[0x60, 0x03]);
                assert_eq!(h, expected_h);
                alice
                    .public()
                    .verify(&[h.as_slice(), &content].concat(), &signature)
                    .unwrap();
                assert_eq!(bob.decrypt(&mut rng, &h, &content).unwrap(), plain);
            }
            "binding" => {
                // Python derived the X25519 public key from the private one.
                let secret: [u8; 32] = bytes(2).try_into().unwrap();
                let static_public: [u8; 32] = bytes(3).try_into().unwrap();
                let derived =
                    x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(secret));
                assert_eq!(derived.to_bytes(), static_public);
                verify_binding(alice.public(), &static_public, &bytes(4)).unwrap();
                assert!(verify_binding(bob.public(), &static_public, &bytes(4)).is_err());
            }
            other => panic!("unknown vector kind {other}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 4);
}
