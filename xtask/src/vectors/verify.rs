//! The checks every test vector of docs/PROTOCOL.md §13 passes before it is
//! written: a valid vector decodes to exactly its messages, follows its
//! payload schema (§8), carries cryptography that verifies and decrypts
//! with the fixture keys (§5.3, §5.4), and encodes back from its own JSON
//! (§13.1); an invalid vector is rejected with exactly the error it names
//! (§4, §5.2, §7), or decodes and fails its cryptography in exactly the way
//! it names (§10), and its refusal (§13: the transmission, or which message
//! with which §10 code and whether a NACK answers it) is read off the
//! decoder.

use anyhow::{Context, Result, anyhow, bail, ensure};
use bytes::Bytes;
use serde_json::{Value as Json, json};
use shoutnet_crypto::{decrypt_message, verify_message};
use shoutnet_wire::json::{hex, message_from_json, message_to_json, value_to_json};
use shoutnet_wire::{
    Limits, Message, Method, MethodSet, Opcode, Payload, PayloadError, Profile, Value,
    decode_transmission, encode_transmission,
};

use super::generate::{Annotation, Answer, Breaks, Invalid, Refusal, Valid, json_file};
use super::keys::{Keys, seeded};

/// Encodes a valid vector and proves it round-trips: decoding gives back
/// exactly its messages, each follows its schema, its cryptography checks
/// out (see [`annotate`]), and the JSON written for it encodes back to the
/// same bytes. Returns the bytes and the JSON.
pub(super) fn check_valid(keys: &Keys, vector: &Valid) -> Result<(Vec<u8>, Json)> {
    let profile = keys.profile;
    let limits = Limits::default();
    let wire = encode_transmission(profile, &vector.messages, vector.compression)?;
    let tx = decode_transmission(wire.clone(), profile, &limits, MethodSet::all())
        .map_err(|e| anyhow!("the decoder rejects it: {e} ({})", e.name()))?;
    ensure!(tx.compression == vector.compression, "compression changed");
    ensure!(
        tx.to_messages() == vector.messages,
        "decoding does not give back the messages"
    );
    let mut messages = Vec::new();
    for (i, msg) in tx.to_messages().iter().enumerate() {
        if !msg.encrypted && !msg.opcode.is_reserved() {
            msg.payload(profile, &limits.value)
                .map_err(|e| anyhow!("message {i} breaks its schema: {e}"))?;
        }
        let json = message_to_json(msg, &limits.value)?;
        let annotation = vector.annotations.get(&i).cloned().unwrap_or_default();
        messages
            .push(annotate(keys, msg, &annotation, json).with_context(|| format!("message {i}"))?);
    }
    ensure!(
        vector.annotations.keys().all(|i| *i < messages.len()),
        "an annotation names a message the vector does not have"
    );
    let doc = json!({
        "description": vector.description,
        "profile": profile.name(),
        "compression": vector.compression.name(),
        "messages": messages,
    });
    // The JSON, as written (annotations included), must encode back to the
    // same bytes.
    let reencoded = encode_file(&json_file(&doc)?)?;
    ensure!(
        reencoded == wire,
        "re-encoding its JSON gives other bytes:\n  {}\n  {}",
        hex(&wire),
        hex(&reencoded)
    );
    Ok((wire.to_vec(), doc))
}

/// The transmission a valid vector's `.json` file stands for, read back as
/// a reader of §13 would: its `profile`, `compression` and `messages`, each
/// in the JSON form of §13.1 with its annotations ignored.
fn encode_file(file: &[u8]) -> Result<Bytes> {
    let doc: Json = serde_json::from_slice(file).context("parsing its JSON")?;
    let name = |key: &str| {
        doc.get(key)
            .and_then(Json::as_str)
            .ok_or_else(|| anyhow!("its JSON has no string {key:?}"))
    };
    let profile: Profile = name("profile")?.parse()?;
    let compression: Method = name("compression")?.parse()?;
    let messages = doc
        .get("messages")
        .and_then(Json::as_array)
        .ok_or_else(|| anyhow!("its JSON has no array \"messages\""))?
        .iter()
        .enumerate()
        .map(|(i, m)| message_from_json(m, &format!("$.messages[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(encode_transmission(profile, &messages, compression)?)
}

/// Checks the cryptography of one message of a valid vector with the
/// fixture keys and returns its JSON with the annotations added: a
/// signature must verify with the from-key (§5.3); an encrypted message
/// must have a plaintext, which its to-key's private key must recover from
/// the ciphertext and which must follow the opcode's schema (§5.4).
fn annotate(keys: &Keys, msg: &Message, annotation: &Annotation, json: Json) -> Result<Json> {
    let profile = keys.profile;
    let limits = Limits::default();
    let Json::Object(mut object) = json else {
        bail!("a message's JSON is not an object");
    };
    if msg.signature.is_some() {
        let signer = keys.public(&msg.from)?;
        verify_message(signer, msg).map_err(|e| anyhow!("its signature: {e}"))?;
    }
    match (&annotation.plaintext, msg.encrypted) {
        (Some(plaintext), true) => {
            let recipient = keys.pair(&msg.to)?;
            let decrypted = decrypt_message(recipient, &mut seeded(profile, "decrypt"), msg)
                .map_err(|e| anyhow!("it does not decrypt: {e}"))?;
            ensure!(
                decrypted == plaintext,
                "it decrypts to other bytes than its plaintext"
            );
            let value = Value::decode(plaintext, &limits.value)?;
            Payload::decode(msg.opcode, plaintext, profile, &limits.value)
                .map_err(|e| anyhow!("its plaintext breaks its schema: {e}"))?;
            object.insert("plaintext".into(), value_to_json(&value));
        }
        (None, true) => bail!("it is encrypted, but has no plaintext"),
        (Some(_), false) => bail!("it has a plaintext, but is not encrypted"),
        (None, false) => {}
    }
    Ok(Json::Object(object))
}

/// The ways the cryptography of `messages` fails with the fixture keys, as
/// the failing message's index and the §10 name: `BAD_SIGNATURE` for each
/// signature that does not verify with its from-key, `DECRYPT_FAILED` for
/// each message to a fixture key that does not decrypt.
fn crypto_failures(keys: &Keys, messages: &[Message]) -> Result<Vec<(usize, &'static str)>> {
    let mut failures = Vec::new();
    for (index, msg) in messages.iter().enumerate() {
        if msg.signature.is_some() {
            let signer = keys.public(&msg.from)?;
            if verify_message(signer, msg).is_err() {
                failures.push((index, "BAD_SIGNATURE"));
            }
        }
        if msg.encrypted
            && let Ok(recipient) = keys.pair(&msg.to)
            && decrypt_message(recipient, &mut seeded(keys.profile, "decrypt"), msg).is_err()
        {
            failures.push((index, "DECRYPT_FAILED"));
        }
    }
    Ok(failures)
}

/// Whether a receiver answers a refused message with a `NACK` (§10): only
/// a message that expects a reply, which replies and broadcasts never do
/// and a `CUSTOM` without a request id does not.
fn answer(opcode: Opcode, request_id: Option<u64>) -> Answer {
    match opcode {
        Opcode::Ack | Opcode::Nack | Opcode::Shout | Opcode::Speak => Answer::None,
        Opcode::Custom if request_id.is_none() => Answer::None,
        _ => Answer::Nack,
    }
}

/// Proves that an invalid vector fails exactly as it says, and returns how
/// a receiver refuses it (§13): the decoder rejects it with exactly the
/// error it names, and the transmission is refused; or it frames and
/// exactly one message is refused, because its value breaks §7 in the way
/// it names (`MALFORMED`) or one check of its cryptography fails in the way
/// it names. (`cargo test -p shoutnet-cli` checks that `shoutnet wire
/// decode` reports the same errors.)
pub(super) fn check_invalid(keys: &Keys, vector: &Invalid) -> Result<Refusal> {
    let profile = keys.profile;
    let limits = Limits::default();
    let bytes = Bytes::from(vector.bytes.clone());
    let tx = decode_transmission(bytes, profile, &limits, MethodSet::all());
    match (vector.breaks, tx) {
        (Breaks::Framing, Err(e)) => {
            ensure!(
                e.name() == vector.error,
                "rejected as {} ({e}), not {}",
                e.name(),
                vector.error
            );
            Ok(Refusal::Transmission)
        }
        (Breaks::Framing, Ok(_)) => bail!("the decoder accepts it, not {}", vector.error),
        (Breaks::Value | Breaks::Crypto, Err(e)) => {
            bail!("framing fails ({e}), but it should frame")
        }
        (Breaks::Crypto, Ok(tx)) => {
            ensure!(
                tx.iter()
                    .all(|m| m.encrypted() || m.value(&limits.value).is_ok()),
                "a message has a bad value"
            );
            let messages = tx.to_messages();
            let failures = crypto_failures(keys, &messages)?;
            let [(index, code)] = failures.as_slice() else {
                bail!(
                    "its cryptography fails as {failures:?}, not exactly once as {}",
                    vector.error
                );
            };
            ensure!(
                *code == vector.error,
                "its cryptography fails as {code}, not {}",
                vector.error
            );
            let msg = messages.get(*index).context("no such message")?;
            // An encrypted message's request id is inside the ciphertext.
            let request_id = match msg.read(profile, &limits.value) {
                Ok(payload) => payload_request_id(&payload),
                Err(refused) => refused.request_id,
            };
            Ok(Refusal::Message {
                index: *index,
                code,
                answer: answer(msg.opcode, request_id),
            })
        }
        (Breaks::Value, Ok(tx)) => {
            let refused: Vec<_> = tx
                .iter()
                .enumerate()
                .filter_map(|(i, m)| m.read(&limits.value).err().map(|r| (i, m.opcode(), r)))
                .collect();
            let [(index, opcode, refused)] = refused.as_slice() else {
                bail!(
                    "{} messages are refused, expected exactly one",
                    refused.len()
                );
            };
            let PayloadError::Value(e) = refused.error else {
                bail!("its value decodes, but {}", refused.error);
            };
            ensure!(
                e.name() == vector.error,
                "its value is rejected as {} ({e}), not {}",
                e.name(),
                vector.error
            );
            Ok(Refusal::Message {
                index: *index,
                code: "MALFORMED",
                answer: answer(*opcode, refused.request_id),
            })
        }
    }
}

/// The request id a payload carries, if any.
fn payload_request_id(payload: &Payload) -> Option<u64> {
    match payload {
        Payload::Ack(p) => Some(p.request_id),
        Payload::Nack(p) => p.request_id,
        Payload::Ping(p) => Some(p.request_id),
        Payload::SetConnectionOpt(p) => Some(p.request_id),
        Payload::Shout(_) | Payload::Speak(_) => None,
        Payload::Whisper(p) => Some(p.request_id),
        Payload::FindNode(p) => Some(p.request_id),
        Payload::FindValue(p) => Some(p.request_id),
        Payload::Store(p) => Some(p.request_id),
        Payload::Custom(p) => p.request_id,
    }
}

#[cfg(test)]
mod tests {
    use super::super::keys::tests::ed25519;
    use super::super::valid;
    use super::*;

    #[test]
    fn a_vector_the_decoder_accepts_cannot_be_called_invalid() -> Result<()> {
        let keys = ed25519();
        let valid = valid::vectors(&keys)?;
        let messages = &valid[0].messages;
        let wire = encode_transmission(Profile::Ed25519, messages, Method::None)?;
        let vector = Invalid {
            name: "not_really".into(),
            description: String::new(),
            bytes: wire.to_vec(),
            error: "ReservedBitsSet",
            breaks: Breaks::Framing,
        };
        assert!(check_invalid(&keys, &vector).is_err());
        let vector = Invalid {
            breaks: Breaks::Value,
            ..vector
        };
        assert!(check_invalid(&keys, &vector).is_err());
        // Real signatures and ciphertexts are not crypto failures.
        for (name, error) in [("signed", "BAD_SIGNATURE"), ("encrypted", "DECRYPT_FAILED")] {
            let vector = valid
                .iter()
                .find(|v| v.name == name)
                .context("no such vector")?;
            let wire = encode_transmission(Profile::Ed25519, &vector.messages, Method::None)?;
            let vector = Invalid {
                name: "not_really".into(),
                description: String::new(),
                bytes: wire.to_vec(),
                error,
                breaks: Breaks::Crypto,
            };
            let e = check_invalid(&keys, &vector).unwrap_err();
            assert!(e.to_string().contains("fails as []"), "{e}");
        }
        Ok(())
    }

    #[test]
    fn refusals_are_read_off_the_decoder() -> Result<()> {
        let keys = ed25519();
        let wires = valid::vectors(&keys)?
            .into_iter()
            .map(|v| {
                let wire = encode_transmission(Profile::Ed25519, &v.messages, v.compression)?;
                Ok((v.name, wire.to_vec()))
            })
            .collect::<Result<std::collections::BTreeMap<_, _>>>()?;
        let refusal = |name: &str| -> Result<Refusal> {
            let vectors = super::super::invalid::vectors(&keys, &wires)?;
            let vector = vectors
                .iter()
                .find(|v| v.name == name)
                .context("no such vector")?;
            check_invalid(&keys, vector)
        };
        assert_eq!(refusal("reserved_bits_tx_byte0")?, Refusal::Transmission);
        assert_eq!(
            refusal("value_too_deep")?,
            Refusal::Message {
                index: 1,
                code: "MALFORMED",
                answer: Answer::Nack
            }
        );
        // A SHOUT is never answered; an encrypted WHISPER is, without an id.
        assert_eq!(
            refusal("bad_signature")?,
            Refusal::Message {
                index: 0,
                code: "BAD_SIGNATURE",
                answer: Answer::None
            }
        );
        assert_eq!(
            refusal("decrypt_failed")?,
            Refusal::Message {
                index: 0,
                code: "DECRYPT_FAILED",
                answer: Answer::Nack
            }
        );
        for (opcode, id, expected) in [
            (Opcode::Custom, None, Answer::None),
            (Opcode::Custom, Some(1), Answer::Nack),
            (Opcode::Speak, None, Answer::None),
            (Opcode::Ack, Some(1), Answer::None),
            (Opcode::Reserved12, None, Answer::Nack),
        ] {
            assert_eq!(answer(opcode, id), expected, "{opcode}");
        }
        Ok(())
    }

    #[test]
    fn annotations_are_checked() -> Result<()> {
        let keys = ed25519();
        let valid = valid::vectors(&keys)?;
        let find = |name: &str| valid.iter().find(|v| v.name == name).expect(name);
        // An encrypted message needs its true plaintext.
        let encrypted = find("encrypted");
        let msg = &encrypted.messages[0];
        let json = message_to_json(msg, &Limits::default().value)?;
        let e = annotate(&keys, msg, &Annotation::default(), json.clone()).unwrap_err();
        assert!(e.to_string().contains("no plaintext"), "{e}");
        let wrong = Annotation {
            plaintext: Some(Value::Nil.encode()?),
        };
        let e = annotate(&keys, msg, &wrong, json).unwrap_err();
        assert!(e.to_string().contains("other bytes"), "{e}");
        Ok(())
    }

    /// A vector's JSON is read back with its annotations ignored, and with
    /// its own profile and compression.
    #[test]
    fn the_json_encodes_back_to_the_bytes() -> Result<()> {
        let keys = ed25519();
        for vector in valid::vectors(&keys)?
            .iter()
            .filter(|v| ["encrypted", "signed", "batch_lzma"].contains(&v.name))
        {
            let (wire, doc) = check_valid(&keys, vector)?;
            assert_eq!(encode_file(&json_file(&doc)?)?, wire, "{}", vector.name);
            let mut other = doc.clone();
            other["compression"] = json!("none");
            let plain = encode_transmission(Profile::Ed25519, &vector.messages, Method::None)?;
            assert_eq!(encode_file(&json_file(&other)?)?, plain, "{}", vector.name);
        }
        Ok(())
    }
}
