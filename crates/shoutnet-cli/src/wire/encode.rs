//! `shoutnet wire encode`: JSON messages in the form of docs/PROTOCOL.md §13
//! to one transmission (§4–§6).

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use clap::Args;
use serde_json::{Map, Value as Json};
use shoutnet_wire::json::{hex, message_from_json};
use shoutnet_wire::{BatchEncoder, Method, Profile};

use super::{CompressionArg, ProfileArg, read_input};

/// Arguments of `shoutnet wire encode`.
#[derive(Debug, Args)]
pub(crate) struct EncodeArgs {
    /// JSON Lines of messages as `decode` prints them, or one test vector
    /// object (`{"profile", "compression", "messages"}`); `-` or nothing
    /// reads standard input.
    file: Option<PathBuf>,
    /// Key profile [default: the vector's, else ed25519].
    #[arg(long, value_enum)]
    profile: Option<ProfileArg>,
    /// Compression of the body [default: the vector's, else none].
    #[arg(long, value_enum)]
    compression: Option<CompressionArg>,
    /// Write one line of lowercase hex (the default).
    #[arg(long, conflicts_with = "binary")]
    hex: bool,
    /// Write the raw bytes of the transmission.
    #[arg(long)]
    binary: bool,
}

/// Runs `shoutnet wire encode`.
pub(crate) fn run(args: &EncodeArgs) -> Result<()> {
    let input = read_input(args.file.as_deref())?;
    let text = std::str::from_utf8(&input).context("the input is not UTF-8 text")?;
    let wire = encode_json(
        text,
        args.profile.map(Profile::from),
        args.compression.map(Method::from),
    )?;
    let mut out = io::stdout().lock();
    if args.binary {
        out.write_all(&wire)?;
    } else {
        writeln!(out, "{}", hex(&wire))?;
    }
    out.flush()?;
    Ok(())
}

/// Encodes JSON messages into one transmission. `text` holds either one
/// test vector object (§13), whose `profile` and `compression` apply unless
/// given here, or a sequence of message objects (JSON Lines, or indented).
pub(crate) fn encode_json(
    text: &str,
    profile: Option<Profile>,
    compression: Option<Method>,
) -> Result<Bytes> {
    let documents = json_documents(text)?;
    let (profile, compression, messages) = match documents.as_slice() {
        [(_, Json::Object(doc))] if doc.contains_key("messages") => {
            let profile = match profile {
                Some(p) => p,
                None => named(doc, "profile", Profile::default())?,
            };
            let compression = match compression {
                Some(c) => c,
                None => named(doc, "compression", Method::None)?,
            };
            let list = doc
                .get("messages")
                .and_then(Json::as_array)
                .ok_or_else(|| anyhow!("$.messages: a vector's messages are a JSON array"))?;
            let messages: Vec<_> = list
                .iter()
                .enumerate()
                .map(|(i, m)| (None, format!("$.messages[{i}]"), m))
                .collect();
            (profile, compression, messages)
        }
        _ => {
            let messages = documents
                .iter()
                .map(|(line, m)| (Some(*line), "$".to_owned(), m))
                .collect();
            (
                profile.unwrap_or_default(),
                compression.unwrap_or(Method::None),
                messages,
            )
        }
    };
    if messages.is_empty() {
        bail!("the input holds no messages");
    }
    let mut batch = BatchEncoder::new(profile);
    for (line, path, json) in messages {
        let at = |e: String| match line {
            Some(line) => anyhow!("line {line}: {e}"),
            None => anyhow!("{e}"),
        };
        let msg = message_from_json(json, &path).map_err(|e| at(e.to_string()))?;
        batch
            .push(&msg)
            .map_err(|e| at(format!("{path}: {e} (profile {profile})")))?;
    }
    batch
        .finish(compression)
        .with_context(|| format!("compressing the body with {compression}"))
}

/// The `key` of a vector object, parsed by name, or `default` if absent.
fn named<T: std::str::FromStr>(doc: &Map<String, Json>, key: &str, default: T) -> Result<T> {
    match doc.get(key) {
        None => Ok(default),
        Some(Json::String(s)) => s
            .parse()
            .map_err(|_| anyhow!("$.{key}: {s:?} is not a known {key} name")),
        Some(_) => bail!("$.{key}: a {key} is named by a string"),
    }
}

/// Every JSON value in `text`, each with the line it starts on (from 1).
fn json_documents(text: &str) -> Result<Vec<(usize, Json)>> {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Json>();
    let mut out = Vec::new();
    loop {
        let from = stream.byte_offset();
        match stream.next() {
            None => return Ok(out),
            Some(Ok(value)) => out.push((line_of(text, from), value)),
            Some(Err(e)) => return Err(e).context("the input is not valid JSON"),
        }
    }
}

/// The line (from 1) of the first non-whitespace character at or after
/// byte `from` of `text`.
fn line_of(text: &str, from: usize) -> usize {
    let rest = text.get(from..).unwrap_or_default();
    let start = from + (rest.len() - rest.trim_start().len());
    text.get(..start).unwrap_or_default().matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::test_support::{custom, encode};

    #[test]
    fn encode_reads_json_lines_and_vectors() {
        let line = r#"{"from":"0101010101010101010101010101010101010101010101010101010101010101","to":"0202020202020202020202020202020202020202020202020202020202020202","opcode":"CUSTOM","encrypted":false,"signed":false,"payload":null}"#;
        let one = encode_json(line, None, None).unwrap();
        assert_eq!(one, encode(&[custom(&[0xc0])], Method::None));
        let two = encode_json(&format!("{line}\n\n{line}\n"), None, Some(Method::Zlib)).unwrap();
        assert_eq!(
            two,
            encode(&[custom(&[0xc0]), custom(&[0xc0])], Method::Zlib)
        );
        let vector = format!(r#"{{"profile":"ed25519","compression":"gzip","messages":[{line}]}}"#);
        assert_eq!(
            encode_json(&vector, None, None).unwrap(),
            encode(&[custom(&[0xc0])], Method::Gzip)
        );
        assert_eq!(
            encode_json(&vector, None, Some(Method::None)).unwrap(),
            encode(&[custom(&[0xc0])], Method::None)
        );
        let e = encode_json(&vector, Some(Profile::Rsa2048), None).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("$.messages[0]: from key is 32 bytes"),
            "{e}"
        );
    }

    #[test]
    fn encode_errors_name_the_line_and_path() {
        let bad = r#"{"from":"01","to":"02","opcode":"CUSTOM","payload":[1.5]}"#;
        let e = encode_json(&format!("\n{bad}"), None, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2: $.payload[0]: plain numbers must be integers; write floats as {\"$float\": x}"
        );
        let e = encode_json("{\"opcode\": ", None, None).unwrap_err();
        assert!(
            format!("{e:#}").starts_with("the input is not valid JSON: "),
            "{e:#}"
        );
        assert!(encode_json("  \n", None, None).is_err());
        let e = encode_json(r#"{"profile":"dsa","messages":[]}"#, None, None).unwrap_err();
        assert!(e.to_string().starts_with("$.profile:"), "{e}");
    }

    #[test]
    fn lines_are_counted_from_one_at_the_value() {
        let text = "{}\n\n  {}\n";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 2), 3);
    }
}
