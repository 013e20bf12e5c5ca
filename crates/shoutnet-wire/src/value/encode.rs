//! Encoding a value in its shortest msgpack form (docs/PROTOCOL.md §7).

use std::convert::Infallible;

use bytes::Bytes;
use rmp::encode::{self as rmp_encode, ByteBuf, ValueWriteError};

use super::Value;
use crate::{EncodeError, ValueLimits};

impl Value {
    /// Encodes the value in its shortest form (integers and lengths),
    /// floats as float 64, maps in their order.
    ///
    /// Fails when the value nests deeper than the default `max_depth` (64),
    /// which no receiver would accept, or a string, binary, array or map has
    /// 2^32 or more items.
    ///
    /// ```
    /// use shoutnet_wire::Value;
    /// assert_eq!(&Value::from(300u16).encode().unwrap()[..], &[0xcd, 0x01, 0x2c]);
    /// assert_eq!(&Value::from(-1i64).encode().unwrap()[..], &[0xff]);
    /// ```
    pub fn encode(&self) -> Result<Bytes, EncodeError> {
        let mut buf = Vec::new();
        self.encode_into(&mut buf)?;
        Ok(Bytes::from(buf))
    }

    /// Length of the shortest encoding, computed without encoding.
    ///
    /// ```
    /// use shoutnet_wire::Value;
    /// let v = Value::Array(vec![Value::from(300u16), Value::from("hi")]);
    /// assert_eq!(v.encoded_len(), v.encode().unwrap().len());
    /// ```
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Nil | Self::Bool(_) => 1,
            Self::Int(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => uint_len(u),
                (None, Some(i)) => sint_len(i),
                (None, None) => 9,
            },
            Self::Float(_) => 9,
            Self::Str(s) => str_header_len(s.len()) + s.len(),
            Self::Bin(b) => bin_header_len(b.len()) + b.len(),
            Self::Array(items) => {
                container_header_len(items.len())
                    + items.iter().map(Self::encoded_len).sum::<usize>()
            }
            Self::Map(entries) => {
                container_header_len(entries.len())
                    + entries
                        .iter()
                        .map(|(k, v)| str_header_len(k.len()) + k.len() + v.encoded_len())
                        .sum::<usize>()
            }
        }
    }

    /// Appends the encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let mut buf = ByteBuf::from_vec(std::mem::take(out));
        let result = write(&mut buf, self, 0);
        *out = buf.into_vec();
        result
    }
}

fn write(buf: &mut ByteBuf, value: &Value, depth: usize) -> Result<(), EncodeError> {
    match value {
        Value::Nil => infallible(rmp_encode::write_nil(buf)),
        Value::Bool(b) => infallible(rmp_encode::write_bool(buf, *b)),
        Value::Int(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => written(rmp_encode::write_uint(buf, u).map(drop)),
            (None, Some(i)) => written(rmp_encode::write_sint(buf, i).map(drop)),
            // Integer's invariant keeps it within u64 or i64.
            (None, None) => Ok(()),
        },
        Value::Float(f) => written(rmp_encode::write_f64(buf, *f)),
        Value::Str(s) => {
            length(s.len())?;
            written(rmp_encode::write_str(buf, s))
        }
        Value::Bin(b) => {
            length(b.len())?;
            written(rmp_encode::write_bin(buf, b))
        }
        Value::Array(items) => {
            enter(depth)?;
            written(rmp_encode::write_array_len(buf, length(items.len())?).map(drop))?;
            items
                .iter()
                .try_for_each(|item| write(buf, item, depth + 1))
        }
        Value::Map(entries) => {
            enter(depth)?;
            written(rmp_encode::write_map_len(buf, length(entries.len())?).map(drop))?;
            entries.iter().try_for_each(|(k, v)| {
                length(k.len())?;
                written(rmp_encode::write_str(buf, k))?;
                write(buf, v, depth + 1)
            })
        }
    }
}

const fn uint_len(u: u64) -> usize {
    match u {
        0..=0x7f => 1,
        0x80..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

const fn sint_len(i: i64) -> usize {
    match i {
        -32..=-1 => 1,
        -128..=-33 => 2,
        -32_768..=-129 => 3,
        -2_147_483_648..=-32_769 => 5,
        _ => 9,
    }
}

const fn str_header_len(len: usize) -> usize {
    match len {
        0..=31 => 1,
        32..=0xff => 2,
        0x100..=0xffff => 3,
        _ => 5,
    }
}

const fn bin_header_len(len: usize) -> usize {
    match len {
        0..=0xff => 2,
        0x100..=0xffff => 3,
        _ => 5,
    }
}

const fn container_header_len(len: usize) -> usize {
    match len {
        0..=15 => 1,
        16..=0xffff => 3,
        _ => 5,
    }
}

fn enter(depth: usize) -> Result<(), EncodeError> {
    let max = ValueLimits::DEFAULT.max_depth;
    if depth >= max {
        return Err(EncodeError::TooDeep { max });
    }
    Ok(())
}

fn length(len: usize) -> Result<u32, EncodeError> {
    u32::try_from(len).map_err(|_| EncodeError::TooLong { len })
}

/// Writing into a `ByteBuf` cannot fail: its error type is uninhabited.
fn written(result: Result<(), ValueWriteError<Infallible>>) -> Result<(), EncodeError> {
    match result {
        Ok(()) => Ok(()),
        Err(ValueWriteError::InvalidMarkerWrite(e) | ValueWriteError::InvalidDataWrite(e)) => {
            match e {}
        }
    }
}

fn infallible(result: Result<(), Infallible>) -> Result<(), EncodeError> {
    match result {
        Ok(()) => Ok(()),
        Err(e) => match e {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Integer;

    #[test]
    fn shortest_forms() {
        let cases: &[(Value, &[u8])] = &[
            (Value::from(0u8), &[0x00]),
            (Value::from(127u8), &[0x7f]),
            (Value::from(128u8), &[0xcc, 0x80]),
            (Value::from(-32i8), &[0xe0]),
            (Value::from(-33i8), &[0xd0, 0xdf]),
            (
                Value::Int(Integer::MAX),
                &[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            ),
            (Value::Int(Integer::MIN), &[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            (Value::Float(1.0), &[0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]),
            (Value::from(""), &[0xa0]),
            (Value::bin(vec![1u8]), &[0xc4, 1, 1]),
            (Value::Array(vec![]), &[0x90]),
            (Value::map([("a", Value::Nil)]), &[0x81, 0xa1, b'a', 0xc0]),
        ];
        for (value, bytes) in cases {
            assert_eq!(&value.encode().unwrap()[..], *bytes, "{value:?}");
        }
    }

    #[test]
    fn too_deep_values_are_refused() {
        let mut v = Value::Nil;
        for _ in 0..64 {
            v = Value::Array(vec![v]);
        }
        assert!(v.encode().is_ok());
        let v = Value::Array(vec![v]);
        assert_eq!(v.encode(), Err(EncodeError::TooDeep { max: 64 }));
    }
}
