//! Signatures (docs/PROTOCOL.md §5.3), encryption (§5.4) and channel
//! bindings (§5.5) for both profiles: round trips and tampering.

mod common;

use bytes::Bytes;
use common::{fixture, rng};
use shoutnet_crypto::{
    Error, Profile, decrypt_message, decrypt_message_ref, encrypt, encrypt_message, overhead,
    seal_message, sign_binding, sign_message, verify_binding, verify_message, verify_message_ref,
};
use shoutnet_wire::{
    Limits, Message, Method, MethodSet, Opcode, decode_transmission, encode_transmission,
};

const SIZES: [usize; 3] = [0, 256, 64 * 1024];

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

#[test]
fn sign_verify_round_trip() {
    let mut rng = rng(1);
    for profile in Profile::ALL {
        let me = fixture(profile, 1);
        let other = fixture(profile, 2);
        for len in SIZES {
            let msg = data(len);
            let sig = me.sign(&mut rng, &msg).unwrap();
            assert_eq!(sig.len(), profile.signature_len());
            me.public().verify(&msg, &sig).unwrap();
            // Another key's signature, or the same one over other data.
            assert_eq!(other.public().verify(&msg, &sig), Err(Error::BadSignature));
            let mut changed = msg.clone();
            changed.push(0);
            assert_eq!(me.public().verify(&changed, &sig), Err(Error::BadSignature));
            // Truncated and extended signatures.
            let expected = profile.signature_len();
            assert_eq!(
                me.public().verify(&msg, &sig[..expected - 1]),
                Err(Error::SignatureLength {
                    expected,
                    len: expected - 1
                })
            );
            assert_eq!(
                me.public().verify(&msg, &[sig.as_slice(), &[0]].concat()),
                Err(Error::SignatureLength {
                    expected,
                    len: expected + 1
                })
            );
            // Every flipped byte breaks it.
            for i in [0, expected / 2, expected - 1] {
                let mut bad = sig.clone();
                bad[i] ^= 0x01;
                assert_eq!(
                    me.public().verify(&msg, &bad),
                    Err(Error::BadSignature),
                    "byte {i}"
                );
            }
        }
    }
}

#[test]
fn ed25519_is_deterministic_and_rsa_pss_is_salted() {
    let ed = fixture(Profile::Ed25519, 1);
    assert_eq!(
        ed.sign(&mut rng(1), b"m").unwrap(),
        ed.sign(&mut rng(2), b"m").unwrap()
    );
    let rsa = fixture(Profile::Rsa2048, 1);
    assert_ne!(
        rsa.sign(&mut rng(1), b"m").unwrap(),
        rsa.sign(&mut rng(2), b"m").unwrap()
    );
    assert_eq!(
        rsa.sign(&mut rng(1), b"m").unwrap(),
        rsa.sign(&mut rng(1), b"m").unwrap()
    );
}

#[test]
fn cross_profile_signatures_are_refused() {
    let mut rng = rng(3);
    let ed = fixture(Profile::Ed25519, 1);
    let rsa = fixture(Profile::Rsa2048, 1);
    let ed_sig = ed.sign(&mut rng, b"m").unwrap();
    let rsa_sig = rsa.sign(&mut rng, b"m").unwrap();
    assert_eq!(
        rsa.public().verify(b"m", &ed_sig),
        Err(Error::SignatureLength {
            expected: 256,
            len: 64
        })
    );
    assert_eq!(
        ed.public().verify(b"m", &rsa_sig),
        Err(Error::SignatureLength {
            expected: 64,
            len: 256
        })
    );
}

#[test]
fn encrypt_decrypt_round_trip() {
    let mut rng = rng(4);
    for profile in Profile::ALL {
        let bob = fixture(profile, 2);
        let eve = fixture(profile, 3);
        for len in SIZES {
            let plain = data(len);
            let content = encrypt(bob.public(), &mut rng, b"aad", &plain).unwrap();
            assert_eq!(content.len(), len + overhead(profile));
            assert_eq!(bob.decrypt(&mut rng, b"aad", &content).unwrap(), plain);
            assert_eq!(
                eve.decrypt(&mut rng, b"aad", &content),
                Err(Error::DecryptFailed)
            );
            assert_eq!(
                bob.decrypt(&mut rng, b"aad!", &content),
                Err(Error::DecryptFailed)
            );
            assert_eq!(
                bob.decrypt(&mut rng, b"", &content),
                Err(Error::DecryptFailed)
            );
            // Two encryptions of the same plaintext differ (fresh key each).
            let again = encrypt(bob.public(), &mut rng, b"aad", &plain).unwrap();
            assert_ne!(again, content);
        }
    }
}

#[test]
fn tampered_content_fails_opaquely() {
    let mut rng = rng(5);
    for profile in Profile::ALL {
        let bob = fixture(profile, 2);
        let plain = data(256);
        let content = encrypt(bob.public(), &mut rng, b"aad", &plain).unwrap();
        let prefix = overhead(profile) - 16;
        // A byte of E or W, of the ciphertext, and of the tag.
        for (class, i) in [
            ("key prefix first", 0),
            ("key prefix last", prefix - 1),
            ("ciphertext", prefix + 100),
            ("tag", content.len() - 1),
        ] {
            for mask in [0x01, 0x80] {
                let mut bad = content.clone();
                bad[i] ^= mask;
                assert_eq!(
                    bob.decrypt(&mut rng, b"aad", &bad),
                    Err(Error::DecryptFailed),
                    "{profile} {class} mask {mask:#x}"
                );
            }
        }
        // Truncation anywhere, including below the overhead.
        for len in [0, 1, prefix - 1, prefix, prefix + 15, content.len() - 1] {
            assert_eq!(
                bob.decrypt(&mut rng, b"aad", &content[..len]),
                Err(Error::DecryptFailed),
                "{profile} truncated to {len}"
            );
        }
        let mut longer = content.clone();
        longer.push(0);
        assert_eq!(
            bob.decrypt(&mut rng, b"aad", &longer),
            Err(Error::DecryptFailed)
        );
    }
}

#[test]
fn low_order_ephemeral_keys_fail() {
    let mut rng = rng(6);
    let bob = fixture(Profile::Ed25519, 2);
    let content = encrypt(bob.public(), &mut rng, b"", b"hello").unwrap();
    // u = 0 and u = 1 are low-order X25519 points: Z would be all zeros.
    for u in [[0u8; 32], {
        let mut one = [0u8; 32];
        one[0] = 1;
        one
    }] {
        let mut bad = content.clone();
        bad[..32].copy_from_slice(&u);
        assert_eq!(bob.decrypt(&mut rng, b"", &bad), Err(Error::DecryptFailed));
    }
}

fn whisper(profile: Profile, from: usize, to: usize, len: usize) -> Message {
    Message::new(
        fixture(profile, from).public().to_bytes(),
        fixture(profile, to).public().to_bytes(),
        Opcode::Whisper,
        Bytes::from(data(len)),
    )
}

#[test]
fn signed_message_covers_header_with_signed_flag() {
    let mut rng = rng(7);
    for profile in Profile::ALL {
        let alice = fixture(profile, 1);
        let mut msg = whisper(profile, 1, 2, 256);
        sign_message(&alice, &mut rng, &mut msg).unwrap();
        let k = profile.key_len();
        let signed = msg.signed_bytes();
        assert_eq!(signed[2 * k], Opcode::Whisper.value() << 4);
        assert_eq!(signed[2 * k + 1], 0x02, "signed = 1 in the covered header");
        alice
            .public()
            .verify(&signed, msg.signature.as_ref().unwrap())
            .unwrap();
        verify_message(alice.public(), &msg).unwrap();

        // Through the wire and back, as a borrowed MessageRef.
        let wire = encode_transmission(profile, &[msg.clone()], Method::None).unwrap();
        let tx = decode_transmission(wire, profile, &Limits::default(), MethodSet::all()).unwrap();
        verify_message_ref(alice.public(), tx.get(0).unwrap()).unwrap();

        // Changing the opcode, the encrypted flag, the to-key or the content
        // breaks it.
        let mut op = msg.clone();
        op.opcode = Opcode::Custom;
        assert_eq!(
            verify_message(alice.public(), &op),
            Err(Error::BadSignature)
        );
        let mut enc = msg.clone();
        enc.encrypted = true;
        assert_eq!(
            verify_message(alice.public(), &enc),
            Err(Error::BadSignature)
        );
        let mut to = msg.clone();
        to.to = fixture(profile, 3).public().to_bytes();
        assert_eq!(
            verify_message(alice.public(), &to),
            Err(Error::BadSignature)
        );
        let mut content = msg.clone();
        content.content = Bytes::from(data(255));
        assert_eq!(
            verify_message(alice.public(), &content),
            Err(Error::BadSignature)
        );

        // Wrong keys and unsigned messages.
        let bob = fixture(profile, 2);
        assert_eq!(verify_message(bob.public(), &msg), Err(Error::KeyMismatch));
        assert_eq!(
            sign_message(&bob, &mut rng, &mut msg.clone()),
            Err(Error::KeyMismatch)
        );
        let unsigned = whisper(profile, 1, 2, 1);
        assert_eq!(
            verify_message(alice.public(), &unsigned),
            Err(Error::Unsigned)
        );
    }
}

#[test]
fn encrypt_then_sign_aad_is_the_final_header() {
    let mut rng = rng(8);
    for profile in Profile::ALL {
        let (alice, bob) = (fixture(profile, 1), fixture(profile, 2));
        for len in SIZES {
            let plain = whisper(profile, 1, 2, len);
            let mut msg = plain.clone();
            seal_message(&alice, bob.public(), &mut rng, &mut msg).unwrap();
            assert!(msg.encrypted && msg.signature.is_some());
            assert_eq!(msg.content.len(), len + overhead(profile));
            // The AAD is exactly the final header's first 2K + 2 bytes.
            let aad = msg.covered_header();
            assert_eq!(aad[2 * profile.key_len() + 1], 0x03);
            assert_eq!(
                bob.decrypt(&mut rng, &aad, &msg.content).unwrap(),
                plain.content
            );
            verify_message(alice.public(), &msg).unwrap();
            assert_eq!(
                decrypt_message(&bob, &mut rng, &msg).unwrap(),
                plain.content
            );

            let wire = encode_transmission(profile, &[msg.clone()], Method::None).unwrap();
            let tx =
                decode_transmission(wire, profile, &Limits::default(), MethodSet::all()).unwrap();
            let got = tx.get(0).unwrap();
            verify_message_ref(alice.public(), got).unwrap();
            assert_eq!(
                decrypt_message_ref(&bob, &mut rng, got).unwrap(),
                plain.content
            );

            // Stripping the signature changes the signed flag, hence the AAD.
            let mut stripped = msg.clone();
            stripped.signature = None;
            assert_eq!(
                decrypt_message(&bob, &mut rng, &stripped),
                Err(Error::DecryptFailed)
            );
        }
    }
}

#[test]
fn encrypt_only_and_header_tampering() {
    let mut rng = rng(9);
    for profile in Profile::ALL {
        let bob = fixture(profile, 2);
        let plain = whisper(profile, 1, 2, 256);
        let mut msg = plain.clone();
        encrypt_message(bob.public(), &mut rng, &mut msg, false).unwrap();
        assert!(msg.encrypted && msg.signature.is_none());
        assert_eq!(
            decrypt_message(&bob, &mut rng, &msg).unwrap(),
            plain.content
        );

        // Any header change fails: opcode, from-key, signed flag.
        let mut op = msg.clone();
        op.opcode = Opcode::Custom;
        assert_eq!(
            decrypt_message(&bob, &mut rng, &op),
            Err(Error::DecryptFailed)
        );
        let mut from = msg.clone();
        from.from = fixture(profile, 3).public().to_bytes();
        assert_eq!(
            decrypt_message(&bob, &mut rng, &from),
            Err(Error::DecryptFailed)
        );
        let mut signed_later = msg.clone();
        sign_message(&fixture(profile, 1), &mut rng, &mut signed_later).unwrap();
        assert_eq!(
            decrypt_message(&bob, &mut rng, &signed_later),
            Err(Error::DecryptFailed)
        );
        // Flip each bit of the covered header through the raw API.
        let aad = msg.covered_header();
        for bit in [
            0,
            8 * profile.key_len(),
            8 * (2 * profile.key_len()) + 3,
            aad.len() * 8 - 1,
        ] {
            let mut bad = aad.clone();
            bad[bit / 8] ^= 0x80 >> (bit % 8);
            assert_eq!(
                bob.decrypt(&mut rng, &bad, &msg.content),
                Err(Error::DecryptFailed)
            );
        }

        // Misuse is reported, not silently done.
        assert_eq!(
            encrypt_message(bob.public(), &mut rng, &mut msg.clone(), false),
            Err(Error::AlreadyEncrypted)
        );
        assert_eq!(
            encrypt_message(
                fixture(profile, 3).public(),
                &mut rng,
                &mut plain.clone(),
                false
            ),
            Err(Error::KeyMismatch)
        );
        assert_eq!(
            decrypt_message(&bob, &mut rng, &plain),
            Err(Error::NotEncrypted)
        );
        assert_eq!(
            decrypt_message(&fixture(profile, 3), &mut rng, &msg),
            Err(Error::KeyMismatch)
        );
    }
}

#[test]
fn channel_bindings() {
    let mut rng = rng(10);
    for profile in Profile::ALL {
        let (alice, eve) = (fixture(profile, 1), fixture(profile, 3));
        let static_public = [0x42; 32];
        let binding = sign_binding(&alice, &mut rng, &static_public).unwrap();
        assert_eq!(binding.len(), profile.signature_len());
        verify_binding(alice.public(), &static_public, &binding).unwrap();
        // The binding covers the static key and comes from the signer.
        assert_eq!(
            verify_binding(alice.public(), &[0x43; 32], &binding),
            Err(Error::BadSignature)
        );
        assert_eq!(
            verify_binding(eve.public(), &static_public, &binding),
            Err(Error::BadSignature)
        );
        // The exact layout: context || static key.
        let mut data = b"shoutnet/1 channel binding".to_vec();
        data.extend_from_slice(&static_public);
        alice.public().verify(&data, &binding).unwrap();
    }
}
