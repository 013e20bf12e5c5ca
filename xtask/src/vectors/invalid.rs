//! The invalid test vectors (docs/PROTOCOL.md §13): one per framing error of
//! §4 and §5.2 and per value error of §7 that the decoder tells apart, and
//! one per crypto failure of §5.3 and §5.4, each made from a valid vector by
//! breaking exactly one thing. How each is refused (the transmission, or
//! one message with a §10 code) is read off the decoder by `verify.rs`.
//!
//! `TooManyMessages` and `TooManyValues` are left out: with the default
//! limits of §11 they need megabytes of input. `UnnegotiatedCompression`
//! depends on connection state, which a lone transmission does not have.

use std::collections::BTreeMap;

use anyhow::{Context, Result, anyhow, ensure};
use bytes::Bytes;
use shoutnet_wire::{
    Message, Method, Opcode, Payload, Ping, Profile, TRANSMISSION_HEADER_LEN, Value,
    encode_transmission,
};

use super::generate::{Breaks, Invalid};
use super::keys::Keys;

/// Offset of the body length field in the transmission header.
const LENGTH_AT: usize = 2;

/// Builds invalid vectors from the encoded valid ones.
struct Maker<'a> {
    profile: Profile,
    wires: &'a BTreeMap<&'static str, Vec<u8>>,
    out: Vec<Invalid>,
}

impl Maker<'_> {
    /// The bytes of valid vector `name`.
    fn base(&self, name: &str) -> Result<Vec<u8>> {
        self.wires
            .get(name)
            .cloned()
            .ok_or_else(|| anyhow!("no valid vector {name}"))
    }

    fn framing(&mut self, name: &str, error: &'static str, description: String, bytes: Vec<u8>) {
        self.out.push(Invalid {
            name: name.to_owned(),
            description,
            bytes,
            error,
            breaks: Breaks::Framing,
        });
    }

    /// Offset of the first message's opcode byte; the flags byte follows it,
    /// then the payload length.
    fn opcode_at(&self) -> usize {
        TRANSMISSION_HEADER_LEN + 2 * self.profile.key_len()
    }
}

/// Sets the transmission header's body length to `len`.
fn set_length(bytes: &mut [u8], len: usize) -> Result<()> {
    let len = u32::try_from(len)?.to_be_bytes();
    bytes
        .get_mut(LENGTH_AT..LENGTH_AT + 4)
        .ok_or_else(|| anyhow!("no transmission header"))?
        .copy_from_slice(&len);
    Ok(())
}

/// Applies `change` to byte `at`.
fn poke(mut bytes: Vec<u8>, at: usize, change: impl FnOnce(u8) -> u8) -> Result<Vec<u8>> {
    let byte = bytes
        .get_mut(at)
        .ok_or_else(|| anyhow!("no byte at offset {at}"))?;
    *byte = change(*byte);
    Ok(bytes)
}

/// Replaces the body of `bytes` with `body`, fixing the length field.
fn with_body(mut bytes: Vec<u8>, body: &[u8]) -> Result<Vec<u8>> {
    bytes.truncate(TRANSMISSION_HEADER_LEN);
    bytes.extend_from_slice(body);
    set_length(&mut bytes, body.len())?;
    Ok(bytes)
}

/// The body (after the transmission header) of `bytes`.
fn body(bytes: &[u8]) -> &[u8] {
    bytes.get(TRANSMISSION_HEADER_LEN..).unwrap_or_default()
}

/// Every invalid vector of `keys.profile`, in a fixed order. `wires` holds
/// the encoded valid vectors by name.
pub(super) fn vectors(
    keys: &Keys,
    wires: &BTreeMap<&'static str, Vec<u8>>,
) -> Result<Vec<Invalid>> {
    let mut m = Maker {
        profile: keys.profile,
        wires,
        out: Vec::new(),
    };
    header_vectors(&mut m)?;
    body_vectors(&mut m)?;
    decompress_vectors(&mut m)?;
    message_vectors(&mut m)?;
    value_vectors(&mut m, keys)?;
    crypto_vectors(&mut m)?;
    Ok(m.out)
}

/// Errors found on the 6 transmission header bytes (§4 step 1).
fn header_vectors(m: &mut Maker<'_>) -> Result<()> {
    let ping = m.base("ping_keepalive")?;
    m.framing(
        "reserved_bits_tx_byte0",
        "ReservedBitsSet",
        "ping_keepalive with bit 0 (0x80 of byte 0) of the transmission header set; \
         bits 0-12 are reserved (§4)"
            .into(),
        poke(ping.clone(), 0, |b| b | 0x80)?,
    );
    m.framing(
        "reserved_bits_tx_byte1",
        "ReservedBitsSet",
        "ping_keepalive with bit 12 (0x08 of byte 1) of the transmission header set, the \
         reserved bit next to the compression id (§4)"
            .into(),
        poke(ping.clone(), 1, |b| b | 0x08)?,
    );
    for id in [6u8, 7] {
        m.framing(
            &format!("unknown_compression_{id}"),
            "UnknownCompression",
            format!("ping_keepalive with compression id {id}, which is reserved (§3, §4)"),
            poke(ping.clone(), 1, |_| id)?,
        );
    }
    let mut empty = ping.clone();
    set_length(&mut empty, 0)?;
    m.framing(
        "empty_transmission",
        "EmptyTransmission",
        "ping_keepalive with the body length set to 0: refused on the header, before the \
         body is read (§4)"
            .into(),
        empty,
    );
    let mut large = ping;
    set_length(&mut large, (16 << 20) + 1)?;
    m.framing(
        "transmission_too_large",
        "TransmissionTooLarge",
        "ping_keepalive with the body length set to 16 MiB + 1 (0x01000001), one over \
         max_transmission, and the original short body: refused on the header, before the \
         body is read (§4, §11)"
            .into(),
        large,
    );
    Ok(())
}

/// Errors of the transmission's extent (§4 step 2).
fn body_vectors(m: &mut Maker<'_>) -> Result<()> {
    let ping = m.base("ping_keepalive")?;
    m.framing(
        "truncated_transmission_header",
        "Truncated",
        "the first 4 bytes of ping_keepalive: the data ends inside the 6-byte transmission \
         header (§4)"
            .into(),
        ping.get(..4).unwrap_or_default().to_vec(),
    );
    let mut short = ping.clone();
    short.pop();
    m.framing(
        "truncated_body",
        "Truncated",
        "ping_keepalive without its last byte: the data ends before the announced body does \
         (§4)"
            .into(),
        short,
    );
    let mut long = ping;
    long.push(0);
    m.framing(
        "bytes_after_transmission",
        "BytesAfterTransmission",
        "ping_keepalive followed by one zero byte. On a stream that byte would begin the \
         next transmission; a transmission decoded on its own (as from this file) must end \
         where its body does (§4)"
            .into(),
        long,
    );
    Ok(())
}

/// Errors of decompression (§3, §4 step 3).
fn decompress_vectors(m: &mut Maker<'_>) -> Result<()> {
    let zlib = m.base("batch_zlib")?;
    m.framing(
        "decompress_zlib_bad_header",
        "Decompress",
        "batch_zlib with the zlib header's compression method set to 15 (only 8, deflate, \
         exists): the body is not a zlib stream (§3)"
            .into(),
        poke(zlib.clone(), TRANSMISSION_HEADER_LEN, |b| b | 0x0f)?,
    );
    let last = zlib.len() - 1;
    m.framing(
        "decompress_zlib_checksum",
        "Decompress",
        "batch_zlib with the last byte of the zlib stream's Adler-32 checksum flipped (§3)".into(),
        poke(zlib.clone(), last, |b| b ^ 0xff)?,
    );
    let mut trailing = body(&zlib).to_vec();
    trailing.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    m.framing(
        "decompress_zlib_trailing",
        "Decompress",
        "batch_zlib with 4 bytes after the end of the zlib stream, counted in the body \
         length: a compressed body must be exactly one stream with nothing after it (§3)"
            .into(),
        with_body(zlib.clone(), &trailing)?,
    );
    let lzma = m.base("batch_lzma")?;
    let mut padded = body(&lzma).to_vec();
    padded.extend_from_slice(&[0; 4]);
    m.framing(
        "decompress_lzma_padding",
        "Decompress",
        "batch_lzma with 4 zero bytes of xz stream padding after the stream footer, counted \
         in the body length: the xz format allows padding between and after streams, but a \
         compressed body is exactly one stream with nothing after it, padding included (§3)"
            .into(),
        with_body(lzma, &padded)?,
    );
    let snappy = m.base("batch_snappy")?;
    let declared = varint_len(body(&snappy))?;
    let mut huge = vec![0xff, 0xff, 0xff, 0xff, 0x0f];
    huge.extend_from_slice(body(&snappy).get(declared..).unwrap_or_default());
    m.framing(
        "decompress_snappy_length",
        "Decompress",
        "batch_snappy with the snappy block's declared length replaced by 2^32 - 1 (about \
         4 GiB), past max_decompressed: a receiver refuses it before allocating (§3, §11)"
            .into(),
        with_body(snappy, &huge)?,
    );
    let empty = shoutnet_compress::compress(Method::Zlib, &[])?;
    m.framing(
        "empty_decompressed_body",
        "EmptyTransmission",
        "batch_zlib with its body replaced by a zlib stream of zero bytes: the body \
         decompresses to nothing (§4)"
            .into(),
        with_body(zlib, &empty)?,
    );
    Ok(())
}

/// Length of the varint at the start of `data` (snappy's declared length).
fn varint_len(data: &[u8]) -> Result<usize> {
    data.iter()
        .position(|b| b & 0x80 == 0)
        .map(|i| i + 1)
        .ok_or_else(|| anyhow!("no varint"))
}

/// Errors in the message headers of the body (§4 step 4, §5, §5.2).
fn message_vectors(m: &mut Maker<'_>) -> Result<()> {
    let opcode_at = m.opcode_at();
    let flags_at = opcode_at + 1;
    let payload_len_at = opcode_at + 2;
    let find_node = m.base("find_node")?;
    m.framing(
        "reserved_bits_opcode",
        "ReservedBitsSet",
        "find_node with the low bit of the message header's opcode byte set; its low 4 \
         bits are reserved (§5)"
            .into(),
        poke(find_node.clone(), opcode_at, |b| b | 0x01)?,
    );
    m.framing(
        "reserved_bits_flags",
        "ReservedBitsSet",
        "find_node with bit 0x04 of the message header's flags byte set; only 0x01 \
         (encrypted) and 0x02 (signed) are defined (§5)"
            .into(),
        poke(find_node.clone(), flags_at, |b| b | 0x04)?,
    );
    let batch = m.base("batch_none")?;
    let first_len = payload_len(&batch, payload_len_at)?;
    let cut = m.profile.header_len() + first_len + 10;
    let mut truncated = batch
        .get(..TRANSMISSION_HEADER_LEN + cut)
        .unwrap_or_default()
        .to_vec();
    set_length(&mut truncated, cut)?;
    m.framing(
        "truncated_message_header",
        "Truncated",
        "batch_none cut 10 bytes into its second message header, with the body length \
         matching: the body ends inside a message header (§4)"
            .into(),
        truncated,
    );
    let len = payload_len(&find_node, payload_len_at)?;
    let mut past_end = find_node.clone();
    set_u32(&mut past_end, payload_len_at, len + 1)?;
    m.framing(
        "payload_past_end",
        "PayloadPastEnd",
        "find_node with its payload length one more than the bytes left in the body (§4)".into(),
        past_end,
    );
    let mut too_large = find_node;
    set_u32(&mut too_large, payload_len_at, (16 << 20) + 1)?;
    m.framing(
        "payload_too_large",
        "PayloadTooLarge",
        "find_node with its payload length set to 16 MiB + 1, one over max_payload: refused \
         on the length, whatever the body holds (§4, §11)"
            .into(),
        too_large,
    );
    let ping = m.base("ping_keepalive")?;
    let sig_len = m.profile.signature_len();
    m.framing(
        "missing_signature",
        "MissingSignature",
        format!(
            "ping_keepalive with the signed flag set: its 2-byte body is shorter than a \
             {sig_len}-byte signature (§5.2)"
        ),
        poke(ping, flags_at, |b| b | 0x02)?,
    );
    Ok(())
}

fn payload_len(bytes: &[u8], at: usize) -> Result<usize> {
    let field: [u8; 4] = bytes
        .get(at..at + 4)
        .and_then(|f| f.try_into().ok())
        .ok_or_else(|| anyhow!("no payload length at {at}"))?;
    Ok(u32::from_be_bytes(field) as usize)
}

fn set_u32(bytes: &mut [u8], at: usize, value: usize) -> Result<()> {
    bytes
        .get_mut(at..at + 4)
        .ok_or_else(|| anyhow!("no field at {at}"))?
        .copy_from_slice(&u32::try_from(value)?.to_be_bytes());
    Ok(())
}

/// One value vector: the CUSTOM content `[12, "echo", data]` whose `data`
/// encoding is changed by `corrupt`.
struct ValueCase {
    name: &'static str,
    error: &'static str,
    what: &'static str,
    data: Value,
    corrupt: fn(Vec<u8>) -> Vec<u8>,
}

/// Content errors (§7): the transmission frames, but the second of its two
/// messages (after a keepalive PING) is not a restricted value.
fn value_vectors(m: &mut Maker<'_>, keys: &Keys) -> Result<()> {
    let nested = |levels: usize| (0..levels).fold(Value::Nil, |v, _| Value::Array(vec![v]));
    let cases = [
        ValueCase {
            name: "value_unexpected_end",
            error: "UnexpectedEnd",
            what: "data \"hello\" without its last byte: the string runs past the end",
            data: Value::from("hello"),
            corrupt: |mut d| {
                d.pop();
                d
            },
        },
        ValueCase {
            name: "value_reserved_marker",
            error: "ReservedMarker",
            what: "data nil (0xc0) changed to the never-used marker 0xc1",
            data: Value::Nil,
            corrupt: |_| vec![0xc1],
        },
        ValueCase {
            name: "value_ext_type",
            error: "ExtType",
            what: "data nil replaced by a fixext 1 value (0xd4 0x01 0x2a), an ext type",
            data: Value::Nil,
            corrupt: |_| vec![0xd4, 0x01, 0x2a],
        },
        ValueCase {
            name: "value_non_string_key",
            error: "NonStringKey",
            what: "data {\"a\": true} with the key changed to the integer 1",
            data: Value::map([("a", Value::from(true))]),
            corrupt: |_| vec![0x81, 0x01, 0xc3],
        },
        ValueCase {
            name: "value_duplicate_key",
            error: "DuplicateKey",
            what: "data {\"a\": 1, \"b\": 2} with the second key changed to \"a\"",
            data: Value::map([("a", Value::from(1u8)), ("b", Value::from(2u8))]),
            corrupt: |d| {
                d.into_iter()
                    .map(|b| if b == b'b' { b'a' } else { b })
                    .collect()
            },
        },
        ValueCase {
            name: "value_invalid_utf8",
            error: "InvalidUtf8",
            what: "data \"hi!\" with the \"!\" changed to 0xff, which is not UTF-8",
            data: Value::from("hi!"),
            corrupt: |mut d| {
                if let Some(last) = d.last_mut() {
                    *last = 0xff;
                }
                d
            },
        },
        ValueCase {
            name: "value_too_deep",
            error: "TooDeep",
            what: "data of 63 nested arrays (64 levels with the payload's own array, the \
                   most max_depth allows) wrapped in one more array: 65 levels",
            data: nested(63),
            corrupt: |d| [0x91].into_iter().chain(d).collect(),
        },
        ValueCase {
            name: "value_trailing_bytes",
            error: "TrailingBytes",
            what: "data nil, and one more nil after the whole content: bytes after the value",
            data: Value::Nil,
            corrupt: |mut d| {
                d.push(0xc0);
                d
            },
        },
    ];
    let ping = Payload::Ping(Ping { request_id: 30 });
    let first = Message::from_payload(keys.profile, keys.key(1), keys.key(2), &ping)?;
    for case in cases {
        let data = case.data.encode()?.to_vec();
        let content = Value::Array(vec![
            Value::from(31u8),
            Value::from("echo"),
            case.data.clone(),
        ])
        .encode()?;
        let prefix = content
            .len()
            .checked_sub(data.len())
            .and_then(|at| content.get(..at))
            .context("the data ends the content")?;
        ensure!(content.ends_with(&data), "the data ends the content");
        let mut bad = prefix.to_vec();
        bad.extend((case.corrupt)(data));
        let second = Message::new(keys.key(1), keys.key(2), Opcode::Custom, Bytes::from(bad));
        let bytes = encode_transmission(keys.profile, &[first.clone(), second], Method::None)?;
        m.out.push(Invalid {
            name: case.name.to_owned(),
            description: format!(
                "a keepalive PING, then CUSTOM [31, \"echo\", data] with {}. The \
                 transmission frames; only the second message's content breaks §7, so a \
                 receiver refuses that message (NACK MALFORMED), not the connection",
                case.what
            ),
            bytes: bytes.to_vec(),
            error: case.error,
            breaks: Breaks::Value,
        });
    }
    Ok(())
}

/// Crypto failures (§5.3, §5.4, §10): the transmission frames and decodes,
/// but a signature does not verify or a ciphertext does not decrypt.
fn crypto_vectors(m: &mut Maker<'_>) -> Result<()> {
    let sig_len = m.profile.signature_len();
    let signed = m.base("signed")?;
    // The one message's signature ends the transmission.
    let signature_at = signed
        .len()
        .checked_sub(sig_len)
        .context("the signed vector is shorter than a signature")?;
    m.out.push(Invalid {
        name: "bad_signature".into(),
        description: format!(
            "the `signed` vector with the first byte of its {sig_len}-byte signature flipped \
             (xor 0x01): it frames and decodes, but the signature does not verify, so the \
             receiver refuses the SHOUT with BAD_SIGNATURE; a SHOUT is never answered, so it \
             is dropped and counted, not forwarded (§5.3, §8.5, §10)"
        ),
        bytes: poke(signed, signature_at, |b| b ^ 0x01)?,
        error: "BAD_SIGNATURE",
        breaks: Breaks::Crypto,
    });
    let encrypted = m.base("encrypted")?;
    // The content follows the message header; the ciphertext follows the
    // ephemeral key E (ed25519) or the wrapped key W (rsa2048).
    let key_part = shoutnet_crypto::overhead(m.profile) - 16;
    let ciphertext_at = TRANSMISSION_HEADER_LEN + m.profile.header_len() + key_part;
    m.out.push(Invalid {
        name: "decrypt_failed".into(),
        description: format!(
            "the `encrypted` vector with the first ciphertext byte (after the {key_part}-byte \
             {}) flipped (xor 0x01): it frames and decodes, but the Poly1305 tag does not \
             verify, so the receiver answers the WHISPER with NACK DECRYPT_FAILED, its \
             request id nil: the id is inside the ciphertext (§5.4, §8.3, §10)",
            match m.profile {
                Profile::Ed25519 => "ephemeral key E",
                Profile::Rsa2048 => "wrapped key W",
            }
        ),
        bytes: poke(encrypted, ciphertext_at, |b| b ^ 0x01)?,
        error: "DECRYPT_FAILED",
        breaks: Breaks::Crypto,
    });
    Ok(())
}
