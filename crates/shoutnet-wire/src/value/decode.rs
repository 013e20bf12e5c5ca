//! Decoding one restricted msgpack value with every limit checked before
//! allocating (docs/PROTOCOL.md §7).

use bytes::Bytes;

use super::{Integer, Value};
use crate::{ValueError, ValueLimits};

/// Maps at most this big look for duplicate keys pairwise; bigger ones sort.
const PAIRWISE_DUPLICATE_CHECK_MAX: usize = 16;

impl Value {
    /// Decodes `content` as exactly one restricted value: no ext types, string
    /// keys only and distinct, valid UTF-8, within `limits`, nothing after it.
    ///
    /// Never panics; allocates at most a fixed multiple of
    /// `min(content.len(), limits.max_values)` values.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use shoutnet_wire::{Value, ValueError, ValueLimits};
    ///
    /// let limits = ValueLimits::default();
    /// assert_eq!(Value::decode(&Bytes::from_static(&[0x93, 1, 2, 3]), &limits).unwrap().as_array().map(<[_]>::len), Some(3));
    /// assert_eq!(
    ///     Value::decode(&Bytes::from_static(&[0xc0, 0xc0]), &limits),
    ///     Err(ValueError::TrailingBytes { offset: 1, extra: 1 })
    /// );
    /// ```
    pub fn decode(content: &Bytes, limits: &ValueLimits) -> Result<Self, ValueError> {
        let mut decoder = Decoder {
            src: content,
            pos: 0,
            limits,
            values: 0,
        };
        let value = decoder.value(0)?;
        if decoder.pos != content.len() {
            return Err(ValueError::TrailingBytes {
                offset: decoder.pos,
                extra: content.len() - decoder.pos,
            });
        }
        Ok(value)
    }
}

struct Decoder<'a> {
    src: &'a Bytes,
    pos: usize,
    limits: &'a ValueLimits,
    /// Values decoded so far, against `limits.max_values`.
    values: usize,
}

impl Decoder<'_> {
    fn value(&mut self, depth: usize) -> Result<Value, ValueError> {
        let offset = self.pos;
        if self.values == self.limits.max_values {
            return Err(ValueError::TooManyValues {
                offset,
                max: self.limits.max_values,
            });
        }
        self.values += 1;
        let marker = self.u8()?;
        Ok(match marker {
            0x00..=0x7f => Value::from(marker),
            0x80..=0x8f => self.map(usize::from(marker & 0x0f), depth, offset)?,
            0x90..=0x9f => self.array(usize::from(marker & 0x0f), depth, offset)?,
            0xa0..=0xbf => self.str(usize::from(marker & 0x1f), offset)?,
            0xc0 => Value::Nil,
            0xc1 => return Err(ValueError::ReservedMarker { offset }),
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4 => {
                let len = usize::from(self.u8()?);
                Value::Bin(self.take(len)?)
            }
            0xc5 => {
                let len = usize::from(self.u16()?);
                Value::Bin(self.take(len)?)
            }
            0xc6 => {
                let len = self.u32()?;
                Value::Bin(self.take(len)?)
            }
            0xc7..=0xc9 | 0xd4..=0xd8 => return Err(ValueError::ExtType { offset, marker }),
            0xca => Value::Float(f64::from(f32::from_bits(self.u32()? as u32))),
            0xcb => Value::Float(f64::from_bits(self.u64()?)),
            0xcc => Value::from(self.u8()?),
            0xcd => Value::from(self.u16()?),
            0xce => Value::from(self.u32()? as u32),
            0xcf => Value::from(self.u64()?),
            0xd0 => Value::from(self.u8()? as i8),
            0xd1 => Value::from(self.u16()? as i16),
            0xd2 => Value::from(self.u32()? as u32 as i32),
            0xd3 => Value::from(self.u64()? as i64),
            0xd9 => {
                let len = usize::from(self.u8()?);
                self.str(len, offset)?
            }
            0xda => {
                let len = usize::from(self.u16()?);
                self.str(len, offset)?
            }
            0xdb => {
                let len = self.u32()?;
                self.str(len, offset)?
            }
            0xdc => {
                let len = usize::from(self.u16()?);
                self.array(len, depth, offset)?
            }
            0xdd => {
                let len = self.u32()?;
                self.array(len, depth, offset)?
            }
            0xde => {
                let len = usize::from(self.u16()?);
                self.map(len, depth, offset)?
            }
            0xdf => {
                let len = self.u32()?;
                self.map(len, depth, offset)?
            }
            0xe0..=0xff => Value::Int(Integer::from(marker as i8)),
        })
    }

    fn array(&mut self, len: usize, depth: usize, offset: usize) -> Result<Value, ValueError> {
        self.enter(depth, offset)?;
        let mut items = Vec::with_capacity(self.capacity_for(len, 1));
        for _ in 0..len {
            items.push(self.value(depth + 1)?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, len: usize, depth: usize, offset: usize) -> Result<Value, ValueError> {
        self.enter(depth, offset)?;
        let capacity = self.capacity_for(len, 2);
        let mut entries = Vec::with_capacity(capacity);
        let mut key_offsets = Vec::with_capacity(capacity);
        for _ in 0..len {
            let key_offset = self.pos;
            let Value::Str(key) = self.value(depth + 1)? else {
                return Err(ValueError::NonStringKey { offset: key_offset });
            };
            let value = self.value(depth + 1)?;
            entries.push((key, value));
            key_offsets.push(key_offset);
        }
        if let Some(dup) = first_duplicate(&entries) {
            let offset = key_offsets.get(dup).copied().unwrap_or(offset);
            return Err(ValueError::DuplicateKey { offset });
        }
        Ok(Value::Map(entries))
    }

    fn str(&mut self, len: usize, offset: usize) -> Result<Value, ValueError> {
        let bytes = self.take(len)?;
        match std::str::from_utf8(&bytes) {
            Ok(s) => Ok(Value::Str(s.to_owned())),
            Err(_) => Err(ValueError::InvalidUtf8 { offset }),
        }
    }

    /// Checks that a container at `depth` stays within `max_depth` levels.
    fn enter(&self, depth: usize, offset: usize) -> Result<(), ValueError> {
        if depth >= self.limits.max_depth {
            return Err(ValueError::TooDeep {
                offset,
                max: self.limits.max_depth,
            });
        }
        Ok(())
    }

    /// How much to reserve for `len` items of at least `min_bytes` each: never
    /// more than the remaining input or value budget could hold, so a
    /// declared length of 2^32 costs nothing.
    fn capacity_for(&self, len: usize, min_bytes: usize) -> usize {
        let remaining = (self.src.len() - self.pos) / min_bytes;
        let budget = self.limits.max_values - self.values;
        len.min(remaining).min(budget)
    }

    fn take(&mut self, len: usize) -> Result<Bytes, ValueError> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|end| *end <= self.src.len())
            .ok_or(ValueError::UnexpectedEnd {
                offset: self.src.len(),
            })?;
        let bytes = self.src.slice(self.pos..end);
        self.pos = end;
        Ok(bytes)
    }

    fn array_of<const N: usize>(&mut self) -> Result<[u8; N], ValueError> {
        let bytes = self
            .src
            .get(self.pos..)
            .and_then(|rest| rest.get(..N))
            .and_then(|b| <[u8; N]>::try_from(b).ok())
            .ok_or(ValueError::UnexpectedEnd {
                offset: self.src.len(),
            })?;
        self.pos += N;
        Ok(bytes)
    }

    fn u8(&mut self) -> Result<u8, ValueError> {
        let [b] = self.array_of::<1>()?;
        Ok(b)
    }

    fn u16(&mut self) -> Result<u16, ValueError> {
        Ok(u16::from_be_bytes(self.array_of()?))
    }

    /// A 32-bit big-endian length or value, widened to `usize`.
    fn u32(&mut self) -> Result<usize, ValueError> {
        Ok(u32::from_be_bytes(self.array_of()?) as usize)
    }

    fn u64(&mut self) -> Result<u64, ValueError> {
        Ok(u64::from_be_bytes(self.array_of()?))
    }
}

/// Index of the first key (in wire order) that repeats an earlier one.
fn first_duplicate(entries: &[(String, Value)]) -> Option<usize> {
    if entries.len() <= PAIRWISE_DUPLICATE_CHECK_MAX {
        return (1..entries.len()).find(|&i| {
            let key = entries.get(i).map(|(k, _)| k);
            entries.iter().take(i).any(|(k, _)| Some(k) == key)
        });
    }
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by(|&a, &b| {
        let key = |i: usize| entries.get(i).map(|(k, _)| k.as_str());
        key(a).cmp(&key(b)).then(a.cmp(&b))
    });
    order
        .windows(2)
        .filter_map(|w| match w {
            [a, b] if entries.get(*a).map(|e| &e.0) == entries.get(*b).map(|e| &e.0) => Some(*b),
            _ => None,
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8], expected: Result<Value, ValueError>) {
        let got = Value::decode(&Bytes::copy_from_slice(bytes), &ValueLimits::default());
        assert_eq!(got, expected, "decoding {bytes:02x?}");
    }

    #[test]
    fn scalars_in_every_width() {
        check(&[0x05], Ok(Value::from(5u8)));
        check(&[0xff], Ok(Value::from(-1i8)));
        check(&[0xcc, 0xff], Ok(Value::from(255u8)));
        check(&[0xcd, 1, 0], Ok(Value::from(256u16)));
        check(&[0xce, 0, 1, 0, 0], Ok(Value::from(65536u32)));
        check(
            &[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            Ok(Value::from(u64::MAX)),
        );
        check(&[0xd0, 0x80], Ok(Value::from(-128i8)));
        check(&[0xd1, 0x80, 0], Ok(Value::from(i16::MIN)));
        check(&[0xd2, 0x80, 0, 0, 0], Ok(Value::from(i32::MIN)));
        check(
            &[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0],
            Ok(Value::from(i64::MIN)),
        );
        // Non-minimal encodings are accepted.
        check(&[0xd3, 0, 0, 0, 0, 0, 0, 0, 7], Ok(Value::from(7u8)));
        check(&[0xca, 0x3f, 0xc0, 0, 0], Ok(Value::Float(1.5)));
        check(
            &[0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0],
            Ok(Value::Float(f64::INFINITY)),
        );
        check(&[0xc0], Ok(Value::Nil));
        check(&[0xc3], Ok(Value::Bool(true)));
        check(&[0xa2, b'h', b'i'], Ok(Value::from("hi")));
        check(&[0xd9, 1, b'x'], Ok(Value::from("x")));
        check(&[0xc4, 2, 0, 1], Ok(Value::bin(vec![0, 1])));
        check(&[0xc5, 0, 1, 9], Ok(Value::bin(vec![9])));
    }

    #[test]
    fn each_violation_is_its_own_error() {
        check(&[0xc1], Err(ValueError::ReservedMarker { offset: 0 }));
        check(
            &[0x91, 0xd4, 1, 2],
            Err(ValueError::ExtType {
                offset: 1,
                marker: 0xd4,
            }),
        );
        check(
            &[0xc7, 0, 1],
            Err(ValueError::ExtType {
                offset: 0,
                marker: 0xc7,
            }),
        );
        check(&[0x81, 1, 2], Err(ValueError::NonStringKey { offset: 1 }));
        check(
            &[0x82, 0xa1, b'a', 1, 0xa1, b'a', 2],
            Err(ValueError::DuplicateKey { offset: 4 }),
        );
        check(
            &[0xa2, 0xff, 0xfe],
            Err(ValueError::InvalidUtf8 { offset: 0 }),
        );
        check(&[0xa5, b'a'], Err(ValueError::UnexpectedEnd { offset: 2 }));
        check(&[0xcd, 1], Err(ValueError::UnexpectedEnd { offset: 2 }));
        check(&[], Err(ValueError::UnexpectedEnd { offset: 0 }));
        check(
            &[0xc0, 0xc0],
            Err(ValueError::TrailingBytes {
                offset: 1,
                extra: 1,
            }),
        );
    }

    #[test]
    fn declared_lengths_past_the_data_cost_nothing() {
        check(
            &[0xdd, 0xff, 0xff, 0xff, 0xff],
            Err(ValueError::UnexpectedEnd { offset: 5 }),
        );
        check(
            &[0xdf, 0xff, 0xff, 0xff, 0xff, 0xa0],
            Err(ValueError::UnexpectedEnd { offset: 6 }),
        );
        check(
            &[0xc6, 0xff, 0xff, 0xff, 0xff, 1],
            Err(ValueError::UnexpectedEnd { offset: 6 }),
        );
        check(
            &[0xdb, 0xff, 0xff, 0xff, 0xff],
            Err(ValueError::UnexpectedEnd { offset: 5 }),
        );
    }

    #[test]
    fn depth_limit_counts_containers() {
        let limits = ValueLimits::default();
        let nested = |levels: usize| {
            let mut bytes = vec![0x91; levels];
            bytes.push(0xc0);
            Bytes::from(bytes)
        };
        assert!(Value::decode(&nested(limits.max_depth), &limits).is_ok());
        assert_eq!(
            Value::decode(&nested(limits.max_depth + 1), &limits),
            Err(ValueError::TooDeep {
                offset: 64,
                max: 64
            })
        );
    }

    #[test]
    fn value_count_limit() {
        let limits = ValueLimits {
            max_values: 3,
            ..ValueLimits::default()
        };
        let ok = Bytes::from_static(&[0x92, 0xc0, 0xc0]);
        assert!(Value::decode(&ok, &limits).is_ok());
        let over = Bytes::from_static(&[0x93, 0xc0, 0xc0, 0xc0]);
        assert_eq!(
            Value::decode(&over, &limits),
            Err(ValueError::TooManyValues { offset: 3, max: 3 })
        );
    }

    #[test]
    fn duplicate_keys_in_large_maps_report_the_first_repeat() {
        let mut bytes = vec![0xde, 0, 20];
        for i in 0..20u8 {
            let key = if i == 17 { b'c' } else { b'a' + i };
            bytes.extend([0xa1, key, 0xc0]);
        }
        // Keys are a..t with the 18th replaced by 'c', which repeats the third.
        check(&bytes, Err(ValueError::DuplicateKey { offset: 3 + 17 * 3 }));
    }
}
