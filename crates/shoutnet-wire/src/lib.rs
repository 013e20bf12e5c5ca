//! The shoutnet wire format (docs/PROTOCOL.md §4–§8): sans-IO encoding and
//! decoding of transmissions, messages and payloads.
#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod batch;
mod error;
pub mod fuzzing;
mod header;
mod hello;
#[cfg(feature = "json")]
pub mod json;
mod limits;
mod message;
mod opcode;
mod payload;
mod profile;
mod stream;
mod value;

pub use batch::{
    BatchEncoder, DEFAULT_BATCH_CAPACITY, Frame, Transmission, decode_transmission,
    encode_transmission,
};
pub use error::{DecodeError, EncodeError, Error, PayloadError, Refused, ValueError};
pub use header::{
    Flags, TRANSMISSION_HEADER_LEN, TransmissionHeader, covered_header_len, header_without_length,
};
pub use hello::{Hello, HelloError, MAX_HELLO};
pub use limits::{Limits, ValueLimits};
pub use message::{Message, MessageRef};
pub use opcode::{Opcode, UnknownOpcode};
pub use payload::{
    Ack, AckResult, Broadcast, Custom, FindNode, FindValue, Lock, MAX_COMPRESSION_IDS,
    MAX_CUSTOM_NAME, MAX_DHT_KEY, MAX_DHT_VALUE, MAX_LISTEN_ADDRS, MAX_NACK_REASON,
    MAX_NODES_PER_REPLY, MAX_RELAYS, Metadata, Nack, NackCode, NodeInfo, NodesFor,
    PROTOCOL_VERSION, Payload, Ping, SetConnectionOpt, Store, Whisper,
};
pub use profile::{Profile, UnknownProfile};
/// The compression methods, re-exported so users need only this crate.
pub use shoutnet_compress::{Method, MethodSet};
pub use stream::{INITIAL_BODY_RESERVE, StreamDecoder};
pub use value::{Integer, SerdeError, Value, from_value, to_value};
