//! `shoutnet wire vectors`: generates the test vectors of docs/PROTOCOL.md
//! §13 — valid transmissions for every payload shape of §8 and every
//! compression method of §3, and invalid ones for the errors of §4, §5.2,
//! §5.3, §5.4 and §7 — and checks every one against the decoder and the
//! cryptography (§5.3–§5.5) before writing it.
//!
//! Generation is deterministic: the keys are the committed fixture keys,
//! nonces are fixed bytes, and signatures, ciphertexts and proofs are real,
//! made with the fixture private keys and a `ChaCha20Rng` seeded per
//! vector.

mod invalid;
mod valid;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail, ensure};
use bytes::Bytes;
use clap::Args;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use shoutnet_crypto::{
    Keypair, PublicKey, decrypt_message, verify_handshake_proof, verify_message,
};
use shoutnet_wire::json::{hex, message_to_json, unhex, value_to_json};
use shoutnet_wire::{
    AckResult, Limits, Message, Method, MethodSet, Payload, Profile, Value, decode_transmission,
    encode_transmission,
};

use crate::wire::{decode_to_json, encode_json};

/// Where the fixture key fields live, relative to the workspace root. The
/// private keys, `<profile>-<n>.pem`, are read from the same directory.
const DEFAULT_KEYS: &str = "fixtures/keys/public.json";

/// The hand-written part of `docs/vectors/README.md`; the index of vectors
/// is generated after it.
const README_HEAD: &str = include_str!("vectors/README.head.md");

/// Arguments of `shoutnet wire vectors`.
#[derive(Debug, Args)]
pub(crate) struct VectorsArgs {
    /// Directory to write the vectors into (the repository keeps them in
    /// docs/vectors; `cargo xtask vectors` syncs them there).
    #[arg(long)]
    out: PathBuf,
    /// JSON file of the fixture key fields in hex; the fixture private keys
    /// (`<profile>-<n>.pem`) are read from the same directory. A relative
    /// path is looked up from the current directory and each of its parents.
    #[arg(long, default_value = DEFAULT_KEYS)]
    keys: PathBuf,
}

/// A valid vector: messages and how to compress them.
#[derive(Debug)]
struct Valid {
    name: &'static str,
    description: String,
    compression: Method,
    messages: Vec<Message>,
    /// What the JSON says beside some messages' §13 fields, by message
    /// index.
    annotations: BTreeMap<usize, Annotation>,
}

/// The annotations of one message in a valid vector's JSON (§13): written
/// after its other fields, ignored by `wire encode`, and checked by the
/// generator before they are written.
#[derive(Clone, Debug, Default)]
struct Annotation {
    /// An encrypted message's plaintext (the encoded value), written as
    /// `"plaintext"` in the JSON form of §13.1.
    plaintext: Option<Bytes>,
    /// The hello nonce an `ACK PING` proof signs, and the verifier's key
    /// field, written as `"handshake": {"nonce", "verifier"}`.
    handshake: Option<([u8; 32], Bytes)>,
}

/// What an invalid vector breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Breaks {
    /// Framing (§4, §5): the whole transmission is refused.
    Framing,
    /// One message's content is not a restricted value (§7).
    Value,
    /// The transmission frames and decodes; a signature does not verify
    /// (§5.3) or a ciphertext does not decrypt (§5.4). The error is the §10
    /// name, `BAD_SIGNATURE` or `DECRYPT_FAILED`.
    Crypto,
}

/// An invalid vector: bytes a receiver must reject, and the error's name.
#[derive(Debug)]
struct Invalid {
    name: String,
    description: String,
    bytes: Vec<u8>,
    error: &'static str,
    breaks: Breaks,
}

/// The three fixture keys of one profile (docs/PROTOCOL.md §2): their key
/// fields and their key pairs.
#[derive(Clone, Debug)]
struct Keys {
    profile: Profile,
    fields: [Bytes; 3],
    pairs: [Keypair; 3],
}

/// Runs `shoutnet wire vectors`.
pub(crate) fn run(args: &VectorsArgs) -> Result<()> {
    let keys_path = locate(&args.keys)?;
    let text = fs::read_to_string(&keys_path)
        .with_context(|| format!("reading {}", keys_path.display()))?;
    let fixtures: Json =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", keys_path.display()))?;
    let keys_dir = keys_path.parent().unwrap_or_else(|| Path::new("."));
    let files = generate(&fixtures, keys_dir).context("generating the test vectors")?;
    for (path, contents) in &files {
        let dest = args.out.join(path);
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        fs::write(&dest, contents).with_context(|| format!("writing {}", dest.display()))?;
    }
    eprintln!("wrote {} files to {}", files.len(), args.out.display());
    Ok(())
}

/// `path` itself if it is absolute or exists, else the first
/// `<ancestor>/<path>` that exists for an ancestor of the current directory,
/// so that the default works from anywhere inside the repository.
fn locate(path: &Path) -> Result<PathBuf> {
    if path.is_absolute() || path.exists() {
        return Ok(path.to_owned());
    }
    let cwd = std::env::current_dir().context("reading the current directory")?;
    cwd.ancestors()
        .map(|dir| dir.join(path))
        .find(|candidate| candidate.exists())
        .ok_or_else(|| {
            anyhow!(
                "cannot find {} in {} or any of its parents; pass --keys",
                path.display(),
                cwd.display()
            )
        })
}

/// Every file of the vector tree, by path relative to its root, after
/// checking every vector against the decoder and the cryptography.
/// `keys_dir` holds the fixture private keys.
fn generate(fixtures: &Json, keys_dir: &Path) -> Result<BTreeMap<PathBuf, Vec<u8>>> {
    let mut files = BTreeMap::new();
    let mut listings = Vec::new();
    for profile in Profile::ALL {
        let keys = Keys::from_fixtures(fixtures, keys_dir, profile)?;
        let dir = PathBuf::from(profile.name());
        let mut wires = BTreeMap::new();
        let mut valid_index = Vec::new();
        for vector in valid::vectors(&keys)? {
            let (wire, doc) = check_valid(&keys, &vector)
                .with_context(|| format!("{}/{}", profile, vector.name))?;
            files.insert(dir.join(format!("{}.hex", vector.name)), hex_file(&wire));
            files.insert(dir.join(format!("{}.json", vector.name)), json_file(&doc)?);
            valid_index.push(Row {
                name: vector.name.to_owned(),
                what: vector.compression.name().to_owned(),
                description: vector.description.clone(),
            });
            wires.insert(vector.name, wire);
        }
        let mut invalid_index = Vec::new();
        for vector in invalid::vectors(&keys, &wires)? {
            check_invalid(&keys, &vector)
                .with_context(|| format!("{}/invalid/{}", profile, vector.name))?;
            let doc = json!({
                "description": vector.description,
                "profile": profile.name(),
                "error": vector.error,
            });
            let invalid_dir = dir.join("invalid");
            files.insert(
                invalid_dir.join(format!("{}.hex", vector.name)),
                hex_file(&vector.bytes),
            );
            files.insert(
                invalid_dir.join(format!("{}.json", vector.name)),
                json_file(&doc)?,
            );
            invalid_index.push(Row {
                name: vector.name.clone(),
                what: vector.error.to_owned(),
                description: vector.description.clone(),
            });
        }
        listings.push(Listing {
            profile,
            valid: valid_index,
            invalid: invalid_index,
        });
    }
    let names = |l: &Listing| -> Vec<String> {
        l.valid
            .iter()
            .chain(&l.invalid)
            .map(|r| r.name.clone())
            .collect()
    };
    ensure!(
        listings.windows(2).all(|w| names(&w[0]) == names(&w[1])),
        "the profiles have different vectors"
    );
    files.insert(PathBuf::from("README.md"), readme(&listings).into_bytes());
    Ok(files)
}

/// Encodes a valid vector and proves it round-trips: decoding gives back
/// exactly its messages, each follows its schema, its cryptography checks
/// out (see [`annotate`]), and the JSON written for it encodes back to the
/// same bytes. Returns the bytes and the JSON.
fn check_valid(keys: &Keys, vector: &Valid) -> Result<(Vec<u8>, Json)> {
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
    let mut plain_messages = Vec::new();
    let mut messages = Vec::new();
    for (i, msg) in tx.to_messages().iter().enumerate() {
        if !msg.encrypted && !msg.opcode.is_reserved() {
            msg.payload(profile, &limits.value)
                .map_err(|e| anyhow!("message {i} breaks its schema: {e}"))?;
        }
        let json = message_to_json(msg, &limits.value)?;
        plain_messages.push(json.clone());
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
    // What the CLI prints for it must be exactly the JSON's messages without
    // their annotations...
    let decoded = decode_to_json(wire.clone(), profile, true)?;
    ensure!(
        decoded == plain_messages,
        "`wire decode` prints other messages"
    );
    // ...and the JSON, as written (annotations included), must encode back
    // to the same bytes.
    let reencoded = encode_json(&String::from_utf8(json_file(&doc)?)?, None, None)?;
    ensure!(
        reencoded == wire,
        "re-encoding its JSON gives other bytes:\n  {}\n  {}",
        hex(&wire),
        hex(&reencoded)
    );
    Ok((wire.to_vec(), doc))
}

/// Checks the cryptography of one message of a valid vector with the
/// fixture keys and returns its JSON with the annotations added: a
/// signature must verify with the from-key (§5.3); an encrypted message
/// must have a plaintext, which its to-key's private key must recover from
/// the ciphertext and which must follow the opcode's schema (§5.4); an
/// `ACK PING` proof must have a handshake annotation and verify (§5.5).
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
    let proof = match msg.payload(profile, &limits.value) {
        Ok(Payload::Ack(ack)) => match ack.result {
            AckResult::Ping { proof } => proof,
            _ => None,
        },
        _ => None,
    };
    match (&annotation.handshake, proof) {
        (Some((nonce, verifier)), Some(proof)) => {
            ensure!(
                verifier == &msg.to,
                "the handshake's verifier is not the to-key"
            );
            verify_handshake_proof(keys.public(&msg.from)?, nonce, verifier, &proof)
                .map_err(|e| anyhow!("its handshake proof: {e}"))?;
            object.insert(
                "handshake".into(),
                json!({"nonce": hex(nonce), "verifier": hex(verifier)}),
            );
        }
        (None, Some(_)) => bail!("it has a handshake proof, but no handshake annotation"),
        (Some(_), None) => bail!("it has a handshake annotation, but no proof"),
        (None, None) => {}
    }
    Ok(Json::Object(object))
}

/// The §10 names of the ways the cryptography of `messages` fails with the
/// fixture keys: `BAD_SIGNATURE` for each signature that does not verify
/// with its from-key, `DECRYPT_FAILED` for each message to a fixture key
/// that does not decrypt.
fn crypto_failures(keys: &Keys, messages: &[Message]) -> Result<Vec<&'static str>> {
    let mut failures = Vec::new();
    for msg in messages {
        if msg.signature.is_some() {
            let signer = PublicKey::from_key_field(keys.profile, &msg.from)?;
            if verify_message(&signer, msg).is_err() {
                failures.push("BAD_SIGNATURE");
            }
        }
        if msg.encrypted
            && let Ok(recipient) = keys.pair(&msg.to)
            && decrypt_message(recipient, &mut seeded(keys.profile, "decrypt"), msg).is_err()
        {
            failures.push("DECRYPT_FAILED");
        }
    }
    Ok(failures)
}

/// Proves that an invalid vector fails exactly as it says: the decoder
/// rejects it with exactly the error it names, both in the wire crate and
/// through `wire decode`, or, for a crypto failure, it decodes and exactly
/// one check of its cryptography fails, in the way it names.
fn check_invalid(keys: &Keys, vector: &Invalid) -> Result<()> {
    let profile = keys.profile;
    let limits = Limits::default();
    let bytes = Bytes::from(vector.bytes.clone());
    let tx = decode_transmission(bytes.clone(), profile, &limits, MethodSet::all());
    match (vector.breaks, tx) {
        (Breaks::Framing, Err(e)) => ensure!(
            e.name() == vector.error,
            "rejected as {} ({e}), not {}",
            e.name(),
            vector.error
        ),
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
            let failures = crypto_failures(keys, &tx.to_messages())?;
            ensure!(
                failures == [vector.error],
                "its cryptography fails as {failures:?}, not exactly once as {}",
                vector.error
            );
            decode_to_json(bytes, profile, false)
                .map_err(|e| anyhow!("`wire decode` refuses it ({e}), but it decodes"))?;
            return Ok(());
        }
        (Breaks::Value, Ok(tx)) => {
            let errors: Vec<_> = tx
                .iter()
                .filter_map(|m| m.value(&limits.value).err())
                .collect();
            match errors.as_slice() {
                [e] => ensure!(
                    e.name() == vector.error,
                    "its value is rejected as {} ({e}), not {}",
                    e.name(),
                    vector.error
                ),
                _ => bail!(
                    "{} messages have bad values, expected exactly one",
                    errors.len()
                ),
            }
        }
    }
    match decode_to_json(bytes, profile, false) {
        Err(e) if e.to_string().ends_with(&format!("({})", vector.error)) => Ok(()),
        Err(e) => bail!("`wire decode` reports {e}, not {}", vector.error),
        Ok(_) => bail!("`wire decode` accepts it"),
    }
}

impl Keys {
    /// The fixture key fields `<profile>-1` … `<profile>-3`, and the key
    /// pairs of `keys_dir/<profile>-<n>.pem`, which must have those key
    /// fields.
    fn from_fixtures(fixtures: &Json, keys_dir: &Path, profile: Profile) -> Result<Self> {
        let field = |n: usize| -> Result<Bytes> {
            let name = format!("{}-{n}", profile.name());
            let text = fixtures
                .get(&name)
                .and_then(Json::as_str)
                .ok_or_else(|| anyhow!("the fixture keys have no string {name:?}"))?;
            let bytes = unhex(text).map_err(|e| anyhow!("fixture key {name}: {e}"))?;
            ensure!(
                bytes.len() == profile.key_len(),
                "fixture key {name} is {} bytes, a {profile} key field is {}",
                bytes.len(),
                profile.key_len()
            );
            Ok(Bytes::from(bytes))
        };
        let pair = |n: usize| -> Result<Keypair> {
            let path = keys_dir.join(format!("{}-{n}.pem", profile.name()));
            let pem =
                fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let pair = Keypair::from_pkcs8_pem(&pem)
                .map_err(|e| anyhow!("fixture key {}: {e}", path.display()))?;
            ensure!(
                pair.profile() == profile,
                "fixture key {} is not a {profile} key",
                path.display()
            );
            Ok(pair)
        };
        let fields = [field(1)?, field(2)?, field(3)?];
        let pairs = [pair(1)?, pair(2)?, pair(3)?];
        for (n, (field, pair)) in fields.iter().zip(&pairs).enumerate() {
            ensure!(
                pair.public().key_field() == field.as_ref(),
                "{}-{}.pem is not the key {} lists",
                profile.name(),
                n + 1,
                DEFAULT_KEYS
            );
        }
        Ok(Self {
            profile,
            fields,
            pairs,
        })
    }

    /// The key pair whose key field is `field`.
    fn pair(&self, field: &[u8]) -> Result<&Keypair> {
        self.pairs
            .iter()
            .find(|pair| pair.public().key_field() == field)
            .ok_or_else(|| anyhow!("{} is not a fixture key", hex(field)))
    }

    /// The public key whose key field is `field`.
    fn public(&self, field: &[u8]) -> Result<&PublicKey> {
        Ok(self.pair(field)?.public())
    }

    /// Fixture key pair `n` (1, 2 or 3).
    fn keypair(&self, n: usize) -> &Keypair {
        let [k1, k2, k3] = &self.pairs;
        match n {
            1 => k1,
            2 => k2,
            _ => k3,
        }
    }

    /// Fixture key field `n` (1, 2 or 3).
    fn key(&self, n: usize) -> Bytes {
        let [k1, k2, k3] = &self.fields;
        match n {
            1 => k1.clone(),
            2 => k2.clone(),
            _ => k3.clone(),
        }
    }

    /// The broadcast key: K zero bytes (docs/PROTOCOL.md §2).
    fn broadcast(&self) -> Bytes {
        Bytes::from(vec![0; self.profile.key_len()])
    }
}

/// SHA-256 of `data`: routing and DHT addresses, WHISPER digests.
fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// The random generator of the vectors' cryptography: a `ChaCha20Rng`
/// seeded with SHA-256 of the profile and `label`, so that signatures and
/// ciphertexts (RSA-PSS salts, OAEP padding, ephemeral keys, message keys)
/// are the same on every run.
fn seeded(profile: Profile, label: &str) -> ChaCha20Rng {
    ChaCha20Rng::from_seed(sha256(
        format!("shoutnet vectors {profile} {label}").as_bytes(),
    ))
}

/// `len` fixed bytes that look random: SHA-256 of `label` and a counter,
/// repeated. Used for nonces.
fn fixed_bytes(label: &str, len: usize) -> Bytes {
    let mut out = Vec::with_capacity(len + 32);
    let mut counter = 0u32;
    while out.len() < len {
        let mut hasher = Sha256::new();
        hasher.update(label.as_bytes());
        hasher.update(counter.to_be_bytes());
        out.extend_from_slice(&hasher.finalize());
        counter += 1;
    }
    out.truncate(len);
    Bytes::from(out)
}

/// A `.hex` file: one line of lowercase hex.
fn hex_file(bytes: &[u8]) -> Vec<u8> {
    let mut text = hex(bytes);
    text.push('\n');
    text.into_bytes()
}

/// A `.json` file: pretty-printed with two-space indents, ending in a
/// newline.
fn json_file(doc: &Json) -> Result<Vec<u8>> {
    let mut text = serde_json::to_string_pretty(doc)?;
    text.push('\n');
    Ok(text.into_bytes())
}

/// One vector in the README's index.
#[derive(Debug)]
struct Row {
    name: String,
    /// The compression of a valid vector, the error of an invalid one.
    what: String,
    description: String,
}

/// The vectors of one profile, for the README's index.
#[derive(Debug)]
struct Listing {
    profile: Profile,
    valid: Vec<Row>,
    invalid: Vec<Row>,
}

/// `docs/vectors/README.md`: the hand-written head, then an index of every
/// vector with its description.
fn readme(listings: &[Listing]) -> String {
    let mut out = README_HEAD.to_owned();
    // Both profiles have the same vectors; list the first profile's, whose
    // descriptions give that profile's lengths.
    if let Some(Listing {
        profile,
        valid,
        invalid,
    }) = listings.first()
    {
        out.push_str(&format!(
            "\n## Index\n\nGenerated with the vectors. Descriptions are those of `{profile}/`; \
             the other profile has the same files with its own keys and lengths.\n\n\
             ### Valid vectors\n\n| name | compression | description |\n|---|---|---|\n"
        ));
        for row in valid {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                row.name,
                row.what,
                cell(&row.description)
            ));
        }
        out.push_str(
            "\n### Invalid vectors (`invalid/`)\n\n| name | error | description |\n|---|---|---|\n",
        );
        for row in invalid {
            out.push_str(&format!(
                "| `{}` | `{}` | {} |\n",
                row.name,
                row.what,
                cell(&row.description)
            ));
        }
    }
    out
}

/// Text that is safe inside a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/keys")
    }

    fn fixtures() -> Json {
        let path = keys_dir().join("public.json");
        serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn fixed_bytes_are_fixed_and_sized() {
        assert_eq!(fixed_bytes("x", 70).len(), 70);
        assert_eq!(fixed_bytes("x", 70), fixed_bytes("x", 70));
        assert_ne!(fixed_bytes("x", 32), fixed_bytes("y", 32));
        assert_eq!(fixed_bytes("x", 40)[..32], sha256(b"x\0\0\0\0"));
    }

    /// RSA-PSS salts and blinding, OAEP padding and the ephemeral keys all
    /// come from the seeded generator, so two runs write the same bytes.
    #[test]
    fn generation_is_deterministic() {
        let fixtures = fixtures();
        let first = generate(&fixtures, &keys_dir()).unwrap();
        assert_eq!(first, generate(&fixtures, &keys_dir()).unwrap());
        for profile in Profile::ALL {
            let json = &first[&PathBuf::from(format!("{profile}/ping_hello.json"))];
            let doc: Json = serde_json::from_slice(json).unwrap();
            assert_eq!(doc["profile"], profile.name());
        }
    }

    #[test]
    fn fixture_keys_must_have_the_profile_length() {
        let mut fixtures = fixtures();
        fixtures["ed25519-2"] = json!("00ff");
        let e = Keys::from_fixtures(&fixtures, &keys_dir(), Profile::Ed25519).unwrap_err();
        assert!(e.to_string().contains("ed25519-2 is 2 bytes"), "{e}");
        assert!(Keys::from_fixtures(&json!({}), &keys_dir(), Profile::Rsa2048).is_err());
    }

    #[test]
    fn fixture_private_keys_must_match_their_key_fields() {
        let mut fixtures = fixtures();
        fixtures["ed25519-2"] = fixtures["ed25519-3"].clone();
        let e = Keys::from_fixtures(&fixtures, &keys_dir(), Profile::Ed25519).unwrap_err();
        assert!(
            e.to_string().contains("ed25519-2.pem is not the key"),
            "{e}"
        );
        let empty = tempfile::tempdir().unwrap();
        let e = Keys::from_fixtures(&self::fixtures(), empty.path(), Profile::Ed25519);
        assert!(format!("{:#}", e.unwrap_err()).contains("ed25519-1.pem"));
    }

    #[test]
    fn a_vector_the_decoder_accepts_cannot_be_called_invalid() {
        let keys = Keys::from_fixtures(&fixtures(), &keys_dir(), Profile::Ed25519).unwrap();
        let valid = valid::vectors(&keys).unwrap();
        let messages = &valid[0].messages;
        let wire = encode_transmission(Profile::Ed25519, messages, Method::None).unwrap();
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
            let vector = valid.iter().find(|v| v.name == name).unwrap();
            let wire =
                encode_transmission(Profile::Ed25519, &vector.messages, Method::None).unwrap();
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
    }

    #[test]
    fn annotations_are_checked() {
        let keys = Keys::from_fixtures(&fixtures(), &keys_dir(), Profile::Ed25519).unwrap();
        let valid = valid::vectors(&keys).unwrap();
        let find = |name: &str| valid.iter().find(|v| v.name == name).unwrap();
        // An encrypted message needs its true plaintext.
        let encrypted = find("encrypted");
        let msg = &encrypted.messages[0];
        let json = message_to_json(msg, &Limits::default().value).unwrap();
        let e = annotate(&keys, msg, &Annotation::default(), json.clone()).unwrap_err();
        assert!(e.to_string().contains("no plaintext"), "{e}");
        let wrong = Annotation {
            plaintext: Some(Value::Nil.encode().unwrap()),
            ..Annotation::default()
        };
        let e = annotate(&keys, msg, &wrong, json).unwrap_err();
        assert!(e.to_string().contains("other bytes"), "{e}");
        // A proof needs the nonce it signs.
        let ack = find("ack_ping_proof");
        let msg = &ack.messages[0];
        let json = message_to_json(msg, &Limits::default().value).unwrap();
        let mut annotation = ack.annotations[&0].clone();
        annotate(&keys, msg, &annotation, json.clone()).unwrap();
        if let Some((nonce, _)) = &mut annotation.handshake {
            nonce[0] ^= 1;
        }
        let e = annotate(&keys, msg, &annotation, json.clone()).unwrap_err();
        assert!(e.to_string().contains("handshake proof"), "{e}");
        let e = annotate(&keys, msg, &Annotation::default(), json).unwrap_err();
        assert!(e.to_string().contains("no handshake annotation"), "{e}");
    }
}
