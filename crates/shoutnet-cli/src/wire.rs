//! The `shoutnet wire decode` and `shoutnet wire encode` commands: one
//! transmission (docs/PROTOCOL.md §4–§7) to and from the JSON form of §13.
//! This module holds what both share; `decode` and `encode` hold the rest.

pub(crate) mod decode;
pub(crate) mod encode;

use std::fs;
use std::io::{self, Read};
use std::path::Path;

use anyhow::{Context, Result};
use clap::ValueEnum;
use shoutnet_wire::{Method, Profile};

/// A key profile on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ProfileArg {
    Ed25519,
    Rsa2048,
}

impl From<ProfileArg> for Profile {
    fn from(p: ProfileArg) -> Self {
        match p {
            ProfileArg::Ed25519 => Self::Ed25519,
            ProfileArg::Rsa2048 => Self::Rsa2048,
        }
    }
}

/// A compression method on the command line (docs/PROTOCOL.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum CompressionArg {
    None,
    Bz2,
    Gzip,
    Lzma,
    Zlib,
    Snappy,
}

impl From<CompressionArg> for Method {
    fn from(c: CompressionArg) -> Self {
        match c {
            CompressionArg::None => Self::None,
            CompressionArg::Bz2 => Self::Bz2,
            CompressionArg::Gzip => Self::Gzip,
            CompressionArg::Lzma => Self::Lzma,
            CompressionArg::Zlib => Self::Zlib,
            CompressionArg::Snappy => Self::Snappy,
        }
    }
}

/// Reads `file`, or standard input for `None` and `-`.
pub(crate) fn read_input(file: Option<&Path>) -> Result<Vec<u8>> {
    match file {
        Some(path) if path != Path::new("-") => {
            fs::read(path).with_context(|| format!("reading {}", path.display()))
        }
        _ => {
            let mut buf = Vec::new();
            io::stdin()
                .read_to_end(&mut buf)
                .context("reading standard input")?;
            Ok(buf)
        }
    }
}

/// Messages and transmissions shared by the `decode` and `encode` tests.
#[cfg(test)]
mod test_support {
    use bytes::Bytes;
    use shoutnet_wire::{Message, Method, Opcode, Profile};

    pub(super) fn key(byte: u8) -> Bytes {
        Bytes::from(vec![byte; 32])
    }

    /// A CUSTOM message from key 1 to key 2 with raw `content`.
    pub(super) fn custom(content: &'static [u8]) -> Message {
        Message::new(key(1), key(2), Opcode::Custom, Bytes::from_static(content))
    }

    /// `messages` as one ed25519 transmission.
    pub(super) fn encode(messages: &[Message], method: Method) -> Bytes {
        shoutnet_wire::encode_transmission(Profile::Ed25519, messages, method).unwrap()
    }
}
