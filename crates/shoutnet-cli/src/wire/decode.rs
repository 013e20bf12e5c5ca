//! `shoutnet wire decode`: one transmission (docs/PROTOCOL.md §4–§7) to the
//! JSON form of §13, one line per message.
//!
//! Every rejection names its byte offset and the rule it breaks. Offsets
//! count from 0 at the first byte of the transmission header; in a
//! compressed transmission, offsets past the 6-byte header count into the
//! decompressed body, as `DecodeError`'s do.

use std::fmt;
use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};
use bytes::Bytes;
use clap::Args;
use serde_json::Value as Json;
use shoutnet_wire::json::message_to_json;
use shoutnet_wire::{
    DecodeError, Limits, Message, Method, MethodSet, PayloadError, Profile,
    TRANSMISSION_HEADER_LEN, TransmissionHeader, decode_transmission,
};

use super::{ProfileArg, read_input};

/// Arguments of `shoutnet wire decode`.
#[derive(Debug, Args)]
pub(crate) struct DecodeArgs {
    /// File holding one transmission; `-` or nothing reads standard input.
    file: Option<PathBuf>,
    /// Key profile of the network (docs/PROTOCOL.md §2).
    #[arg(long, value_enum, default_value_t = ProfileArg::Ed25519)]
    profile: ProfileArg,
    /// Read the input as hex digits (whitespace around them is ignored).
    /// Without --hex or --binary, input that is all hex digits is hex.
    #[arg(long, conflicts_with = "binary")]
    hex: bool,
    /// Read the input as raw bytes.
    #[arg(long)]
    binary: bool,
    /// Indent the JSON of each message over several lines.
    #[arg(long)]
    pretty: bool,
    /// Also check each plain message's payload against its opcode's schema
    /// (docs/PROTOCOL.md §8). Reserved opcodes have no schema and pass.
    #[arg(long)]
    check_schema: bool,
}

/// How the input of `decode` spells the transmission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Hex,
    Binary,
}

/// Why a transmission, or one message in it, was rejected: where, what, and
/// the spec's name for the rule (docs/PROTOCOL.md §4, §7, §8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rejection {
    /// Byte offset from the start of the transmission, if known.
    offset: Option<usize>,
    /// Whether `offset` counts into the decompressed body.
    decompressed: bool,
    /// What is wrong, in words.
    what: String,
    /// The error's name, e.g. `ReservedBitsSet`.
    name: &'static str,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(offset) = self.offset {
            write!(f, "byte {offset}")?;
            if self.decompressed {
                f.write_str(" (in the decompressed body)")?;
            }
            f.write_str(": ")?;
        }
        write!(f, "{} ({})", self.what, self.name)
    }
}

impl std::error::Error for Rejection {}

/// Runs `shoutnet wire decode`.
pub(crate) fn run(args: &DecodeArgs) -> Result<()> {
    let input = read_input(args.file.as_deref())?;
    let format = if args.hex {
        Format::Hex
    } else if args.binary {
        Format::Binary
    } else {
        detect_format(&input)
    };
    let data = match format {
        Format::Hex => parse_hex(&input)?,
        Format::Binary => input,
    };
    let messages = decode_to_json(Bytes::from(data), args.profile.into(), args.check_schema)?;
    let mut text = String::new();
    for msg in &messages {
        let line = if args.pretty {
            serde_json::to_string_pretty(msg)?
        } else {
            serde_json::to_string(msg)?
        };
        text.push_str(&line);
        text.push('\n');
    }
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Hex when the input, without surrounding whitespace, is a non-empty, even
/// number of hex digits; raw bytes otherwise. A transmission starts with a
/// zero byte, which is no hex digit, so real binary input is never taken
/// for hex.
fn detect_format(input: &[u8]) -> Format {
    let digits = input.trim_ascii();
    if !digits.is_empty()
        && digits.len().is_multiple_of(2)
        && digits.iter().all(u8::is_ascii_hexdigit)
    {
        Format::Hex
    } else {
        Format::Binary
    }
}

/// The bytes of hex digits (either case) with optional whitespace around
/// them. Errors name the offending character's offset, counting from 0 at
/// the first character of the input.
fn parse_hex(input: &[u8]) -> Result<Vec<u8>> {
    let text = String::from_utf8_lossy(input);
    let body = text.trim();
    let lead = text[..text.len() - text.trim_start().len()].chars().count();
    if body.is_empty() {
        bail!("the input holds no hex digits");
    }
    let mut out = Vec::with_capacity(body.len() / 2);
    let mut high: Option<u8> = None;
    let mut count = 0;
    for (i, c) in body.chars().enumerate() {
        let digit = c
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
            .ok_or_else(|| anyhow!("character {}: {c:?} is not a hex digit", lead + i))?;
        high = match high {
            None => Some(digit),
            Some(h) => {
                out.push(h << 4 | digit);
                None
            }
        };
        count = i + 1;
    }
    if high.is_some() {
        bail!(
            "character {}: odd number of hex digits ({count}); the last byte is incomplete",
            lead + count - 1
        );
    }
    Ok(out)
}

/// Decodes one transmission and returns the JSON form of each message
/// (docs/PROTOCOL.md §13), or the first rejection.
pub(crate) fn decode_to_json(
    data: Bytes,
    profile: Profile,
    check_schema: bool,
) -> Result<Vec<Json>, Rejection> {
    let limits = Limits::default();
    let decompressed = reaches_decompression(&data, &limits);
    let tx = decode_transmission(data, profile, &limits, MethodSet::all())
        .map_err(|e| framing_rejection(&e, decompressed))?;
    let decompressed = tx.compression != Method::None;
    let mut out = Vec::with_capacity(tx.len());
    for (index, view) in tx.iter().enumerate() {
        let msg = view.to_message();
        let start = view.content_offset();
        let json = message_to_json(&msg, &limits.value)
            .map_err(|e| payload_rejection(&e, &msg, index, start, decompressed))?;
        if check_schema && !msg.encrypted && !msg.opcode.is_reserved() {
            view.payload(&limits.value)
                .map_err(|e| payload_rejection(&e, &msg, index, start, decompressed))?;
        }
        out.push(json);
    }
    Ok(out)
}

/// Whether decoding `data` gets as far as decompressing a compressed body:
/// then every offset past the transmission header in a later error counts
/// into the decompressed body.
fn reaches_decompression(data: &[u8], limits: &Limits) -> bool {
    let Some(header) = data
        .get(..TRANSMISSION_HEADER_LEN)
        .and_then(|h| <[u8; TRANSMISSION_HEADER_LEN]>::try_from(h).ok())
        .and_then(|h| TransmissionHeader::parse(h, limits, MethodSet::all()).ok())
    else {
        return false;
    };
    header.compression != Method::None && data.len() == TRANSMISSION_HEADER_LEN + header.body_len
}

/// A framing error (docs/PROTOCOL.md §4, §5) with its offset. `decompressed`
/// says whether the body was decompressed before the error was found.
fn framing_rejection(e: &DecodeError, decompressed: bool) -> Rejection {
    let offset = e.offset();
    let in_body = offset >= TRANSMISSION_HEADER_LEN && !matches!(e, DecodeError::Decompress(_));
    Rejection {
        offset: Some(offset),
        decompressed: decompressed && in_body,
        what: e.to_string(),
        name: e.name(),
    }
}

/// A message whose content is not a restricted value (§7) or, with
/// `--check-schema`, breaks its opcode's schema (§8). `start` is the offset
/// of the content.
fn payload_rejection(
    e: &PayloadError,
    msg: &Message,
    index: usize,
    start: usize,
    decompressed: bool,
) -> Rejection {
    let (offset, what) = match e {
        PayloadError::Value(v) => (
            start + v.offset(),
            format!(
                "message {index} ({}), whose content starts at byte {start}: {v}",
                msg.opcode
            ),
        ),
        other => (
            start,
            format!(
                "message {index} ({}) breaks its payload schema: {other}",
                msg.opcode
            ),
        ),
    };
    Rejection {
        offset: Some(offset),
        decompressed,
        what,
        name: e.name(),
    }
}

#[cfg(test)]
mod tests {
    use shoutnet_wire::{FindNode, Opcode, Payload, Value};

    use super::*;
    use crate::wire::test_support::{custom, encode, key};

    #[test]
    fn hex_is_detected_only_for_an_even_run_of_hex_digits() {
        let cases: &[(&[u8], Format)] = &[
            (b"00ff", Format::Hex),
            (b"  00FFab\n", Format::Hex),
            (b"\n0000000000010c\r\n", Format::Hex),
            (b"00f", Format::Binary),
            (b"00fg", Format::Binary),
            (b"00 ff", Format::Binary),
            (b"", Format::Binary),
            (b" \n", Format::Binary),
            (&[0, 0, 0, 0, 0, 1, 0xc0], Format::Binary),
        ];
        for (input, expected) in cases {
            assert_eq!(
                detect_format(input),
                *expected,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn hex_errors_name_the_character_offset() {
        assert_eq!(parse_hex(b" 00aB\n").unwrap(), [0x00, 0xab]);
        let cases: &[(&[u8], &str)] = &[
            (b"00zz", "character 2: 'z' is not a hex digit"),
            (b"\n\t0g", "character 3: 'g' is not a hex digit"),
            (b"0011 22", "character 4: ' ' is not a hex digit"),
            (b"abc", "character 2: odd number of hex digits (3)"),
            ("é0".as_bytes(), "character 0: 'é' is not a hex digit"),
            (b"  ", "no hex digits"),
        ];
        for (input, expected) in cases {
            let e = parse_hex(input).unwrap_err().to_string();
            assert!(e.contains(expected), "{e:?} should contain {expected:?}");
        }
    }

    #[test]
    fn a_bad_value_is_reported_at_its_absolute_offset() {
        // Message 1's content is `[1, 2` with its last element missing.
        let messages = [custom(&[0xc0]), custom(&[0x93, 0x01, 0x02])];
        let e =
            decode_to_json(encode(&messages, Method::None), Profile::Ed25519, false).unwrap_err();
        let start = 6 + 71 + 70;
        assert_eq!(e.offset, Some(start + 3));
        assert!(!e.decompressed);
        assert_eq!(e.name, "UnexpectedEnd");
        let shown = e.to_string();
        assert!(
            shown.starts_with(&format!("byte {}: message 1 (CUSTOM)", start + 3)),
            "{shown}"
        );
        assert!(shown.ends_with("(UnexpectedEnd)"), "{shown}");

        let e =
            decode_to_json(encode(&messages, Method::Zlib), Profile::Ed25519, false).unwrap_err();
        assert_eq!(e.offset, Some(start + 3));
        assert!(e.to_string().contains("(in the decompressed body)"), "{e}");
    }

    #[test]
    fn framing_errors_name_their_byte() {
        let msg = custom(&[0xc0]);
        let wire = encode(std::slice::from_ref(&msg), Method::None).to_vec();
        let decode = |bytes: Vec<u8>| {
            decode_to_json(Bytes::from(bytes), Profile::Ed25519, false).unwrap_err()
        };

        let mut flags = wire.clone();
        flags[6 + 65] |= 0x04;
        let e = decode(flags);
        assert_eq!((e.offset, e.name), (Some(71), "ReservedBitsSet"));
        assert_eq!(
            e.to_string(),
            "byte 71: reserved bits 0x04 set in the byte at offset 71 (ReservedBitsSet)"
        );

        let mut unknown = wire.clone();
        unknown[1] = 7;
        assert_eq!(decode(unknown).offset, Some(1));

        let mut cut = wire.clone();
        cut.truncate(4);
        let e = decode(cut);
        assert_eq!((e.offset, e.name), (Some(4), "Truncated"));

        let mut past_end = wire.clone();
        past_end[6 + 69] += 1;
        let e = decode(past_end);
        assert_eq!((e.offset, e.name), (Some(6), "PayloadPastEnd"));
    }

    #[test]
    fn framing_errors_after_decompression_say_so() {
        let msg = custom(&[0xc0]);
        // A zlib body whose message claims one byte more than it has.
        let mut body = encode(std::slice::from_ref(&msg), Method::None)
            .split_off(6)
            .to_vec();
        body[69] += 1;
        let deflated = shoutnet_compress::compress(Method::Zlib, &body).unwrap();
        let mut wire = vec![0, Method::Zlib.id()];
        wire.extend_from_slice(&u32::try_from(deflated.len()).unwrap().to_be_bytes());
        wire.extend_from_slice(&deflated);
        let e = decode_to_json(Bytes::from(wire.clone()), Profile::Ed25519, false).unwrap_err();
        assert_eq!(
            (e.offset, e.decompressed, e.name),
            (Some(6), true, "PayloadPastEnd")
        );
        assert!(
            e.to_string()
                .starts_with("byte 6 (in the decompressed body): "),
            "{e}"
        );

        // A body that does not decompress is reported at its first byte.
        wire[7] ^= 0xff;
        let e = decode_to_json(Bytes::from(wire), Profile::Ed25519, false).unwrap_err();
        assert_eq!(
            (e.offset, e.decompressed, e.name),
            (Some(6), false, "Decompress")
        );
    }

    #[test]
    fn schema_errors_name_the_field() {
        let p = Profile::Ed25519;
        let bad = Value::Array(vec![Value::from(1u8), Value::bin(vec![0; 31])]);
        let msg = Message::new(key(1), key(2), Opcode::FindNode, bad.encode().unwrap());
        let good = Message::from_payload(
            p,
            key(1),
            key(2),
            &Payload::FindNode(FindNode {
                request_id: 1,
                target: [0; 32],
            }),
        )
        .unwrap();
        let wire = encode(&[good, msg], Method::None);
        assert!(decode_to_json(wire.clone(), p, false).is_ok());
        let e = decode_to_json(wire, p, true).unwrap_err();
        assert_eq!((e.offset, e.name), (Some(6 + 70 + 36 + 70), "Field"));
        assert!(
            e.what.contains("`target`") && e.what.contains("bin(32)"),
            "{e}"
        );
    }
}
