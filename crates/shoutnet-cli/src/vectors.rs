//! `shoutnet wire vectors`: generates the test vectors of docs/PROTOCOL.md
//! §13 — valid transmissions for every payload shape of §8 and every
//! compression method of §3, and invalid ones for the errors of §4, §5.2
//! and §7 — and checks every one against the decoder before writing it.
//!
//! Generation is deterministic: the keys come from the committed fixture
//! file, and every nonce, signature and ciphertext is a fixed placeholder.

mod invalid;
mod valid;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail, ensure};
use bytes::Bytes;
use clap::Args;
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use shoutnet_wire::json::{hex, message_to_json, unhex};
use shoutnet_wire::{
    Limits, Message, Method, MethodSet, Profile, decode_transmission, encode_transmission,
};

use crate::wire::{decode_to_json, encode_json};

/// Where the fixture key fields live, relative to the workspace root.
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
    /// JSON file of the fixture key fields in hex. A relative path is looked
    /// up from the current directory and each of its parents.
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
}

/// What an invalid vector breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Breaks {
    /// Framing (§4, §5): the whole transmission is refused.
    Framing,
    /// One message's content is not a restricted value (§7).
    Value,
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

/// The three fixture key fields of one profile (docs/PROTOCOL.md §2).
#[derive(Clone, Debug)]
struct Keys {
    profile: Profile,
    fields: [Bytes; 3],
}

/// Runs `shoutnet wire vectors`.
pub(crate) fn run(args: &VectorsArgs) -> Result<()> {
    let keys_path = locate(&args.keys)?;
    let text = fs::read_to_string(&keys_path)
        .with_context(|| format!("reading {}", keys_path.display()))?;
    let fixtures: Json =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", keys_path.display()))?;
    let files = generate(&fixtures).context("generating the test vectors")?;
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
/// checking every vector against the decoder.
fn generate(fixtures: &Json) -> Result<BTreeMap<PathBuf, Vec<u8>>> {
    let mut files = BTreeMap::new();
    let mut listings = Vec::new();
    for profile in Profile::ALL {
        let keys = Keys::from_fixtures(fixtures, profile)?;
        let dir = PathBuf::from(profile.name());
        let mut wires = BTreeMap::new();
        let mut valid_index = Vec::new();
        for vector in valid::vectors(&keys)? {
            let (wire, doc) = check_valid(profile, &vector)
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
            check_invalid(profile, &vector)
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
/// exactly its messages, each follows its schema, and the JSON written for
/// it encodes back to the same bytes. Returns the bytes and the JSON.
fn check_valid(profile: Profile, vector: &Valid) -> Result<(Vec<u8>, Json)> {
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
        messages.push(message_to_json(msg, &limits.value)?);
    }
    let doc = json!({
        "description": vector.description,
        "profile": profile.name(),
        "compression": vector.compression.name(),
        "messages": messages,
    });
    // What the CLI prints for it must be exactly the JSON's messages...
    let decoded = decode_to_json(wire.clone(), profile, true)?;
    ensure!(decoded == messages, "`wire decode` prints other messages");
    // ...and the JSON, as written, must encode back to the same bytes.
    let reencoded = encode_json(&String::from_utf8(json_file(&doc)?)?, None, None)?;
    ensure!(
        reencoded == wire,
        "re-encoding its JSON gives other bytes:\n  {}\n  {}",
        hex(&wire),
        hex(&reencoded)
    );
    Ok((wire.to_vec(), doc))
}

/// Proves that the decoder rejects an invalid vector with exactly the
/// error it names, both in the wire crate and through `wire decode`.
fn check_invalid(profile: Profile, vector: &Invalid) -> Result<()> {
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
        (Breaks::Value, Err(e)) => bail!("framing fails ({e}), but only a value should"),
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
    /// The fixture key fields `<profile>-1` … `<profile>-3`.
    fn from_fixtures(fixtures: &Json, profile: Profile) -> Result<Self> {
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
        Ok(Self {
            profile,
            fields: [field(1)?, field(2)?, field(3)?],
        })
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

/// `len` fixed bytes that look random: SHA-256 of `label` and a counter,
/// repeated. Stands in for nonces, signatures and ciphertext.
fn placeholder(label: &str, len: usize) -> Bytes {
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

    fn fixtures() -> Json {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/keys/public.json");
        serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn placeholders_are_fixed_and_sized() {
        assert_eq!(placeholder("x", 70).len(), 70);
        assert_eq!(placeholder("x", 70), placeholder("x", 70));
        assert_ne!(placeholder("x", 32), placeholder("y", 32));
        assert_eq!(placeholder("x", 40)[..32], sha256(b"x\0\0\0\0"));
    }

    #[test]
    fn generation_is_deterministic() {
        let fixtures = fixtures();
        let first = generate(&fixtures).unwrap();
        assert_eq!(first, generate(&fixtures).unwrap());
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
        let e = Keys::from_fixtures(&fixtures, Profile::Ed25519).unwrap_err();
        assert!(e.to_string().contains("ed25519-2 is 2 bytes"), "{e}");
        assert!(Keys::from_fixtures(&json!({}), Profile::Rsa2048).is_err());
    }

    #[test]
    fn a_vector_the_decoder_accepts_cannot_be_called_invalid() {
        let keys = Keys::from_fixtures(&fixtures(), Profile::Ed25519).unwrap();
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
        assert!(check_invalid(Profile::Ed25519, &vector).is_err());
        let vector = Invalid {
            breaks: Breaks::Value,
            ..vector
        };
        assert!(check_invalid(Profile::Ed25519, &vector).is_err());
    }
}
