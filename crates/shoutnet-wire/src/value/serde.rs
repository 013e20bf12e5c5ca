//! Converting application types to and from values with serde, through
//! `rmp-serde` (docs/PROTOCOL.md §7).

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Value;
use crate::ValueLimits;

/// An application type could not be converted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SerdeError {
    /// serde could not serialize the type to msgpack.
    #[error("cannot serialize: {0}")]
    Serialize(#[from] rmp_serde::encode::Error),
    /// The msgpack it produced is outside the restricted value (for example
    /// a map with integer keys).
    #[error("serialized form is not a restricted value: {0}")]
    Restricted(#[from] crate::ValueError),
    /// The value could not be encoded.
    #[error("cannot encode the value: {0}")]
    Encode(#[from] crate::EncodeError),
    /// The value does not have the shape of the type.
    #[error("cannot deserialize: {0}")]
    Deserialize(#[from] rmp_serde::decode::Error),
}

/// Converts any `Serialize` type to a value. Structs become maps keyed by
/// field name, so both ends can evolve independently.
///
/// ```
/// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
/// struct Chat { room: String, text: String }
///
/// let chat = Chat { room: "lobby".into(), text: "hi".into() };
/// let value = shoutnet_wire::to_value(&chat).unwrap();
/// assert_eq!(value.get("room").and_then(|v| v.as_str()), Some("lobby"));
/// let back: Chat = shoutnet_wire::from_value(&value).unwrap();
/// assert_eq!(back, chat);
/// ```
pub fn to_value<T: Serialize + ?Sized>(data: &T) -> Result<Value, SerdeError> {
    let bytes = rmp_serde::to_vec_named(data)?;
    Ok(Value::decode(&Bytes::from(bytes), &ValueLimits::DEFAULT)?)
}

/// Converts a value to any `DeserializeOwned` type.
pub fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, SerdeError> {
    let bytes = value.encode()?;
    Ok(rmp_serde::from_slice(&bytes)?)
}
