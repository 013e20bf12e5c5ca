//! Key fields (docs/PROTOCOL.md §2): every validation rule, PEM round trips
//! and key generation.

mod common;

use common::{PUBLIC_JSON, fixture, pem, rng};
use shoutnet_crypto::{Address, Error, Keypair, Profile, PublicKey};

fn check(profile: Profile, field: &[u8], expected: Result<(), Error>) {
    let got = PublicKey::from_key_field(profile, field).map(|key| {
        assert_eq!(key.key_field(), field);
        assert_eq!(key.profile(), profile);
    });
    assert_eq!(got, expected, "{profile} key field {}", hex::encode(field));
}

fn rsa_field() -> Vec<u8> {
    fixture(Profile::Rsa2048, 1).public().key_field().to_vec()
}

#[test]
fn fixture_key_fields_match_public_json() {
    for profile in Profile::ALL {
        for n in 1..=3 {
            let keypair = fixture(profile, n);
            let expected = format!(
                "\"{profile}-{n}\": \"{}\"",
                hex::encode(keypair.public().key_field())
            );
            assert!(PUBLIC_JSON.contains(&expected), "{expected}");
            assert_eq!(
                keypair.public().routing_address(),
                Address::of_key_field(keypair.public().key_field())
            );
            check(profile, keypair.public().key_field(), Ok(()));
        }
    }
}

#[test]
fn rsa_field_layout() {
    let field = rsa_field();
    assert_eq!(field.len(), 270);
    assert_eq!(
        field[..9],
        [0x30, 0x82, 0x01, 0x0a, 0x02, 0x82, 0x01, 0x01, 0x00]
    );
    assert_eq!(field[265..], [0x02, 0x03, 0x01, 0x00, 0x01]);
}

#[test]
fn ed25519_rules() {
    let good = fixture(Profile::Ed25519, 1).public().key_field().to_vec();
    let length = |len| {
        Err(Error::KeyLength {
            profile: Profile::Ed25519,
            expected: 32,
            len,
        })
    };
    check(Profile::Ed25519, &good[..31], length(31));
    check(
        Profile::Ed25519,
        &[good.as_slice(), &[0]].concat(),
        length(33),
    );
    check(Profile::Ed25519, &[], length(0));
    check(Profile::Ed25519, &[0; 32], Err(Error::BroadcastKey));

    // The identity point (y = 1) has small order.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    check(Profile::Ed25519, &identity, Err(Error::WeakKey));
    // A point of order 2 (y = -1).
    let mut order2 = [0xffu8; 32];
    order2[0] = 0xec;
    order2[31] = 0x7f;
    check(Profile::Ed25519, &order2, Err(Error::WeakKey));

    // y = p + 1 encodes the identity non-canonically; so does y = 1 with the
    // sign bit set (x = 0 has no negative).
    let mut p_plus_1 = [0xffu8; 32];
    p_plus_1[0] = 0xee;
    p_plus_1[31] = 0x7f;
    check(Profile::Ed25519, &p_plus_1, Err(Error::NonCanonicalKey));
    let mut signed_identity = identity;
    signed_identity[31] = 0x80;
    check(
        Profile::Ed25519,
        &signed_identity,
        Err(Error::NonCanonicalKey),
    );

    // Some small y values are not on the curve at all.
    let off_curve = (2u8..40).filter(|&y| {
        let mut field = [0u8; 32];
        field[0] = y;
        PublicKey::from_key_field(Profile::Ed25519, &field) == Err(Error::MalformedKey)
    });
    assert!(off_curve.count() > 0);
}

#[test]
fn rsa_rules() {
    let good = rsa_field();
    let length = |len| {
        Err(Error::KeyLength {
            profile: Profile::Rsa2048,
            expected: 270,
            len,
        })
    };
    check(Profile::Rsa2048, &good[..269], length(269));
    check(
        Profile::Rsa2048,
        &[good.as_slice(), &[0]].concat(),
        length(271),
    );
    check(Profile::Rsa2048, &[0; 270], Err(Error::BroadcastKey));
    // Made by Python `cryptography` (tests/data/make_vectors.py).
    check(
        Profile::Rsa2048,
        include_bytes!("data/rsa1024.der"),
        length(140),
    );
    check(
        Profile::Rsa2048,
        include_bytes!("data/rsa2048_e3.der"),
        length(268),
    );

    // Not a SEQUENCE.
    let mut bad_tag = good.clone();
    bad_tag[0] = 0x31;
    check(Profile::Rsa2048, &bad_tag, Err(Error::MalformedKey));
    // A 3-byte exponent other than 65537.
    let mut e = good.clone();
    e[269] = 0x03;
    check(Profile::Rsa2048, &e, Err(Error::Exponent));
    // A 257-byte modulus without a leading zero: 2049 bits, still 270 bytes.
    let mut big = good.clone();
    big[8] = 0x01;
    check(Profile::Rsa2048, &big, Err(Error::ModulusSize(2049)));
    // A leading zero before a byte < 0x80 is not minimal DER.
    let mut non_minimal = good.clone();
    non_minimal[9] = 0x7f;
    let got = PublicKey::from_key_field(Profile::Rsa2048, &non_minimal).unwrap_err();
    assert!(
        matches!(got, Error::MalformedKey | Error::NonCanonicalKey),
        "{got:?}"
    );
    // Long-form length of the outer SEQUENCE where short would do is not
    // reachable at 270 bytes; an inner length that lies is malformed.
    let mut lying = good.clone();
    lying[3] = 0x0b;
    check(Profile::Rsa2048, &lying, Err(Error::MalformedKey));
}

#[test]
fn wrong_profile_key_fields() {
    let ed = fixture(Profile::Ed25519, 1);
    let rsa = fixture(Profile::Rsa2048, 1);
    check(
        Profile::Rsa2048,
        ed.public().key_field(),
        Err(Error::KeyLength {
            profile: Profile::Rsa2048,
            expected: 270,
            len: 32,
        }),
    );
    check(
        Profile::Ed25519,
        rsa.public().key_field(),
        Err(Error::KeyLength {
            profile: Profile::Ed25519,
            expected: 32,
            len: 270,
        }),
    );
}

#[test]
fn pem_round_trip_is_byte_exact() {
    for profile in Profile::ALL {
        for n in 1..=3 {
            let keypair = fixture(profile, n);
            assert_eq!(keypair.profile(), profile);
            let again = keypair.to_pkcs8_pem().unwrap();
            let reloaded = Keypair::from_pkcs8_pem(&again).unwrap();
            assert_eq!(reloaded.public(), keypair.public());
            // The fixtures were made by `openssl genpkey`: shoutnet writes
            // the same PKCS#8 v1, byte for byte.
            assert_eq!(again.as_str(), pem(profile, n));
        }
    }
}

#[test]
fn reads_pkcs8_v2_ed25519_keys() {
    // Fixture ed25519-1 as PKCS#8 v2 (RFC 5958, with its public key), as
    // earlier shoutnet builds wrote key files; then with ed25519-2's public
    // key in it.
    let v2 = Keypair::from_pkcs8_pem(include_str!("data/ed25519-1-v2.pem")).unwrap();
    assert_eq!(v2.public(), fixture(Profile::Ed25519, 1).public());
    assert_eq!(
        v2.to_pkcs8_pem().unwrap().as_str(),
        pem(Profile::Ed25519, 1)
    );
    assert_eq!(
        Keypair::from_pkcs8_pem(include_str!("data/ed25519-1-v2-mismatch.pem")).unwrap_err(),
        Error::EmbeddedPublicKeyMismatch
    );
}

#[test]
fn bad_private_keys() {
    assert_eq!(
        Keypair::from_pkcs8_pem("").unwrap_err(),
        Error::MalformedPrivateKey
    );
    assert_eq!(
        Keypair::from_pkcs8_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            .unwrap_err(),
        Error::MalformedPrivateKey
    );
    // Made by Python `cryptography` (tests/data/make_vectors.py).
    assert_eq!(
        Keypair::from_pkcs8_pem(include_str!("data/rsa1024.pem")).unwrap_err(),
        Error::ModulusSize(1024)
    );
    assert_eq!(
        Keypair::from_pkcs8_pem(include_str!("data/rsa2048_e3.pem")).unwrap_err(),
        Error::Exponent
    );
}

#[test]
fn keygen_each_profile() {
    let mut rng = rng(1);
    for profile in Profile::ALL {
        let keypair = Keypair::generate(profile, &mut rng).unwrap();
        assert_eq!(keypair.profile(), profile);
        assert_eq!(keypair.public().key_field().len(), profile.key_len());
        let sig = keypair.sign(&mut rng, b"x").unwrap();
        keypair.public().verify(b"x", &sig).unwrap();
    }
}

#[test]
fn debug_does_not_leak_secrets() {
    for profile in Profile::ALL {
        let keypair = fixture(profile, 1);
        let debug = format!("{keypair:?}");
        assert!(
            debug.contains(&keypair.public().routing_address().to_string()),
            "{debug}"
        );
        assert!(debug.len() < 200, "{debug}");
        let pem = keypair.to_pkcs8_pem().unwrap();
        let body: String = pem.lines().nth(1).unwrap().chars().take(16).collect();
        assert!(!debug.contains(&body));
    }
}
