//! The tree of test vectors of docs/PROTOCOL.md §13, built in memory: what
//! a valid and an invalid vector are, their `.hex` and `.json` files, each
//! profile's handshake vector (§9.1), and `README.md`, the hand-written
//! `README.head.md` followed by an index of every vector.
//!
//! Every vector is checked (`verify.rs`) before its files are made, so a
//! generation that succeeds is also a test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use bytes::Bytes;
use serde_json::{Value as Json, json};
use shoutnet_wire::json::hex;
use shoutnet_wire::{Message, Method, Profile};

use super::keys::Keys;
use super::verify::{check_invalid, check_valid};
use super::{handshake, invalid, valid};

/// The hand-written part of `docs/vectors/README.md`; the index of vectors
/// is generated after it.
const README_HEAD: &str = include_str!("README.head.md");

/// Every file of a vector tree: contents by path relative to its root.
pub(super) type Files = BTreeMap<PathBuf, Vec<u8>>;

/// A valid vector: messages and how to compress them.
#[derive(Debug)]
pub(super) struct Valid {
    pub(super) name: &'static str,
    pub(super) description: String,
    pub(super) compression: Method,
    pub(super) messages: Vec<Message>,
    /// What the JSON says beside some messages' §13 fields, by message
    /// index.
    pub(super) annotations: BTreeMap<usize, Annotation>,
}

/// The annotations of one message in a valid vector's JSON (§13): written
/// after its other fields, ignored by `shoutnet wire encode`, and checked
/// before they are written.
#[derive(Clone, Debug, Default)]
pub(super) struct Annotation {
    /// An encrypted message's plaintext (the encoded value), written as
    /// `"plaintext"` in the JSON form of §13.1.
    pub(super) plaintext: Option<Bytes>,
}

/// What an invalid vector breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Breaks {
    /// Framing (§4, §5): the whole transmission is refused.
    Framing,
    /// One message's content is not a restricted value (§7).
    Value,
    /// The transmission frames and decodes; a signature does not verify
    /// (§5.3) or a ciphertext does not decrypt (§5.4). The error is the §10
    /// name, `BAD_SIGNATURE` or `DECRYPT_FAILED`.
    Crypto,
}

/// How a receiver refuses an invalid vector (§13), written into its JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// A framing error (§4, §5): the whole transmission is refused and the
    /// connection closed; nothing is answered. `"scope": "transmission"`.
    Transmission,
    /// The transmission frames and its other messages stand; message
    /// `index` is refused with the §10 `code`. `"scope": "message"`.
    Message {
        index: usize,
        code: &'static str,
        answer: Answer,
    },
}

/// Whether a refused message is answered (§10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Answer {
    /// It expected a reply: `NACK` with the code.
    Nack,
    /// It expected none (a reply, a broadcast, a one-way CUSTOM): dropped
    /// and counted.
    None,
}

impl Refusal {
    /// The JSON fields after `"error"`: `scope`, and for a message its
    /// index, code and answer.
    fn fields(self) -> Vec<(&'static str, Json)> {
        match self {
            Self::Transmission => vec![("scope", json!("transmission"))],
            Self::Message {
                index,
                code,
                answer,
            } => vec![
                ("scope", json!("message")),
                ("message", json!(index)),
                ("code", json!(code)),
                (
                    "answer",
                    json!(match answer {
                        Answer::Nack => "NACK",
                        Answer::None => "none",
                    }),
                ),
            ],
        }
    }

    /// The refusal in words, for the README's index.
    fn words(self) -> String {
        match self {
            Self::Transmission => "transmission: close".into(),
            Self::Message {
                index,
                code,
                answer: Answer::Nack,
            } => format!("message {index}: NACK {code}"),
            Self::Message {
                index,
                code,
                answer: Answer::None,
            } => format!("message {index}: dropped ({code})"),
        }
    }
}

/// An invalid vector: bytes a receiver must reject, and the error's name.
#[derive(Debug)]
pub(super) struct Invalid {
    pub(super) name: String,
    pub(super) description: String,
    pub(super) bytes: Vec<u8>,
    pub(super) error: &'static str,
    pub(super) breaks: Breaks,
}

/// Every file of the vector tree, after checking every vector against the
/// decoder and the cryptography. `fixtures` is the contents of the fixture
/// keys' `public.json`; `keys_dir` holds the fixture private keys.
pub(super) fn generate(fixtures: &Json, keys_dir: &Path) -> Result<Files> {
    let mut files = Files::new();
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
            let refusal = check_invalid(&keys, &vector)
                .with_context(|| format!("{}/invalid/{}", profile, vector.name))?;
            let mut doc = serde_json::Map::new();
            doc.insert("description".into(), json!(vector.description));
            doc.insert("profile".into(), json!(profile.name()));
            doc.insert("error".into(), json!(vector.error));
            for (key, value) in refusal.fields() {
                doc.insert(key.into(), value);
            }
            let doc = Json::Object(doc);
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
                what: format!("`{}` | {}", vector.error, refusal.words()),
                description: vector.description.clone(),
            });
        }
        let vector = handshake::vector(&keys).with_context(|| format!("{profile}/handshake"))?;
        files.insert(dir.join(handshake::JSON_FILE), json_file(&vector.json)?);
        let streams = dir.join(handshake::STREAM_DIR);
        files.insert(
            streams.join("initiator.hex"),
            hex_file(&vector.initiator_stream),
        );
        files.insert(
            streams.join("responder.hex"),
            hex_file(&vector.responder_stream),
        );
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

/// A `.hex` file: one line of lowercase hex.
fn hex_file(bytes: &[u8]) -> Vec<u8> {
    let mut text = hex(bytes);
    text.push('\n');
    text.into_bytes()
}

/// A `.json` file: pretty-printed with two-space indents, ending in a
/// newline.
pub(super) fn json_file(doc: &Json) -> Result<Vec<u8>> {
    let mut text = serde_json::to_string_pretty(doc)?;
    text.push('\n');
    Ok(text.into_bytes())
}

/// One vector in the README's index.
#[derive(Debug)]
struct Row {
    name: String,
    /// The compression of a valid vector; the error and refusal cells of an
    /// invalid one.
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
            "\n### Invalid vectors (`invalid/`)\n\n| name | error | refusal | description \
             |\n|---|---|---|---|\n",
        );
        for row in invalid {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
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
    use super::super::keys::tests::{fixtures, keys_dir};
    use super::*;

    /// RSA-PSS salts and blinding, OAEP padding and the ephemeral keys all
    /// come from the seeded generator, so two runs write the same bytes.
    #[test]
    fn generation_is_deterministic() -> Result<()> {
        let fixtures = fixtures();
        let first = generate(&fixtures, &keys_dir())?;
        assert_eq!(first, generate(&fixtures, &keys_dir())?);
        for profile in Profile::ALL {
            for name in ["find_node.json", "handshake.json"] {
                let json = &first[&PathBuf::from(format!("{profile}/{name}"))];
                let doc: Json = serde_json::from_slice(json)?;
                assert_eq!(doc["profile"], profile.name());
            }
            let stream = |side| &first[&PathBuf::from(format!("{profile}/handshake/{side}.hex"))];
            assert!(stream("initiator").ends_with(b"\n") && stream("responder").len() > 100);
        }
        let readme = std::str::from_utf8(&first[Path::new("README.md")])?;
        assert!(readme.starts_with(README_HEAD));
        assert!(readme.contains("| `batch_lzma` | lzma | "), "{readme}");
        Ok(())
    }

    #[test]
    fn index_cells_escape_pipes_and_newlines() {
        assert_eq!(cell("a | b\nc"), "a \\| b c");
    }
}
