//! Decoding one restricted msgpack value with every limit checked before
//! allocating (docs/PROTOCOL.md §7, §11).
//!
//! Memory: every container reserves room for its elements up front only
//! from a budget shared by the whole value (`Decoder::reserve_budget`):
//! `min(content length, max_values)` slots, a slot being one element of an
//! array (one [`Value`], at most `RESERVED_BYTES_PER_SLOT` bytes) or half
//! a map entry (a map entry and its key offset take two slots). A container
//! whose declared length the budget cannot cover starts with what is left
//! and grows only with the elements actually decoded, so nested containers
//! that each declare 2^32 − 1 elements reserve, all together, no more than
//! one honest value of the same length would.

use bytes::Bytes;

use super::{Integer, Value};
use crate::{ValueError, ValueLimits};

/// Maps at most this big look for duplicate keys pairwise; bigger ones sort.
const PAIRWISE_DUPLICATE_CHECK_MAX: usize = 16;

/// Most bytes one reserved slot costs on a 64-bit target: an array element
/// (a [`Value`], 48 bytes) or half of a map entry (a `(String, Value)` of
/// 80 bytes plus its 8-byte key offset). The up-front reservations of one
/// decode total at most `min(content length, max_values)` slots, so at most
/// this many bytes per slot (docs/PROTOCOL.md §11). The tests hold the types
/// to it.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const RESERVED_BYTES_PER_SLOT: usize = 48;

/// How many of the top-level array's first elements [`Head`] measures: the
/// longest payload schema has 5 (docs/PROTOCOL.md §8).
pub(crate) const HEAD_ELEMENTS: usize = 5;

/// What a decode noted about the first elements of a top-level array, kept
/// even when a later fault ends the decode: where request ids are read
/// (docs/PROTOCOL.md §8.3) and how long each element's encoding was as
/// received (§8.7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Head {
    /// Element `i`, if it was decoded whole and is an unsigned integer.
    uints: [Option<u64>; HEAD_ELEMENTS],
    /// Length in bytes of element `i`'s encoding as received, if it was
    /// decoded whole.
    lens: [Option<usize>; HEAD_ELEMENTS],
}

impl Head {
    /// Element `index` of the top-level array, if it was decoded whole (even
    /// if something after it was not) and is an unsigned integer.
    pub(crate) fn uint(&self, index: usize) -> Option<u64> {
        self.uints.get(index).copied().flatten()
    }

    /// The length of element `index`'s encoding as received.
    pub(crate) fn len(&self, index: usize) -> Option<usize> {
        self.lens.get(index).copied().flatten()
    }
}

/// What one decode produced: the value or its first fault, what it noted
/// about the top-level array, and (for tests) how many slots it reserved.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub(crate) value: Result<Value, ValueError>,
    pub(crate) head: Head,
    /// Slots reserved up front, all containers together; never more than
    /// `min(content length, max_values)`.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) reserved: usize,
}

#[cfg(test)]
thread_local! {
    /// Decodes run on this thread, so tests can prove a path decodes once.
    pub(crate) static DECODES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl Value {
    /// Decodes `content` as exactly one restricted value: no ext types, string
    /// keys only and distinct, valid UTF-8, within `limits`, nothing after it.
    ///
    /// Never panics. Up-front reservations total at most
    /// `min(content.len(), limits.max_values)` slots of at most 48 bytes
    /// each, however the containers nest (docs/PROTOCOL.md §11); all the
    /// memory a decode holds is a fixed multiple of that.
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
        Self::decode_noting(content, limits).value
    }

    /// Decodes like [`decode`](Self::decode), noting the top-level array's
    /// first elements on the way.
    pub(crate) fn decode_noting(content: &Bytes, limits: &ValueLimits) -> Decoded {
        #[cfg(test)]
        DECODES.with(|n| n.set(n.get() + 1));
        let budget = content.len().min(limits.max_values);
        let mut decoder = Decoder {
            src: content,
            pos: 0,
            limits,
            values: 0,
            reserve_budget: budget,
            head: Head::default(),
        };
        let value = decoder.value(0).and_then(|value| {
            if decoder.pos == content.len() {
                Ok(value)
            } else {
                Err(ValueError::TrailingBytes {
                    offset: decoder.pos,
                    extra: content.len() - decoder.pos,
                })
            }
        });
        Decoded {
            value,
            head: decoder.head,
            reserved: budget - decoder.reserve_budget,
        }
    }
}

struct Decoder<'a> {
    src: &'a Bytes,
    pos: usize,
    limits: &'a ValueLimits,
    /// Values decoded so far, against `limits.max_values`.
    values: usize,
    /// Slots containers may still reserve up front, for the whole value:
    /// starts at `min(src.len(), limits.max_values)`.
    reserve_budget: usize,
    /// The top-level array's first elements.
    head: Head,
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
        let mut items = Vec::with_capacity(self.reserve(len, 1));
        for index in 0..len {
            let start = self.pos;
            let item = self.value(depth + 1)?;
            if depth == 0 {
                self.note_head(index, start, &item);
            }
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    /// Notes element `index` of the top-level array, which started at `start`.
    fn note_head(&mut self, index: usize, start: usize, item: &Value) {
        if let Some(len) = self.head.lens.get_mut(index) {
            *len = Some(self.pos - start);
        }
        if let Some(uint) = self.head.uints.get_mut(index) {
            *uint = item.as_u64();
        }
    }

    fn map(&mut self, len: usize, depth: usize, offset: usize) -> Result<Value, ValueError> {
        self.enter(depth, offset)?;
        // An entry is two values: its key and its value.
        let capacity = self.reserve(len, 2);
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

    /// How many of `len` declared items, each of `slots` values, to reserve
    /// room for up front, taken from the decode-wide budget: never more than
    /// the remaining input could hold (every value takes a byte), the value
    /// budget allows, or the reservation budget has left. So a declared
    /// length of 2^32 costs nothing, and 64 nested containers that each
    /// declare one cost no more than one.
    fn reserve(&mut self, len: usize, slots: usize) -> usize {
        let remaining = (self.src.len() - self.pos) / slots;
        let values = (self.limits.max_values - self.values) / slots;
        let items = len
            .min(remaining)
            .min(values)
            .min(self.reserve_budget / slots);
        self.reserve_budget -= items * slots;
        items
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

impl Value {
    /// Whether a receiver with `limits` accepts this value's encoding: at
    /// most `max_values` values, at most `max_depth` levels, distinct keys
    /// in every map. (Strings are UTF-8 and ext types cannot be built, so
    /// nothing else of §7 can fail.) It walks the value; it does not encode
    /// or decode it.
    pub(crate) fn is_receivable(&self, limits: &ValueLimits) -> bool {
        let mut values = 0;
        receivable(self, limits, 0, &mut values)
    }
}

fn receivable(value: &Value, limits: &ValueLimits, depth: usize, values: &mut usize) -> bool {
    *values += 1;
    if *values > limits.max_values {
        return false;
    }
    match value {
        Value::Array(items) => {
            depth < limits.max_depth
                && items
                    .iter()
                    .all(|item| receivable(item, limits, depth + 1, values))
        }
        Value::Map(entries) => {
            depth < limits.max_depth
                && entries.iter().all(|(_, v)| {
                    // The key is a value too.
                    *values += 1;
                    *values <= limits.max_values && receivable(v, limits, depth + 1, values)
                })
                && first_duplicate(entries).is_none()
        }
        _ => true,
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
    fn a_slot_costs_at_most_the_documented_bytes() {
        use std::mem::size_of;
        assert!(size_of::<Value>() <= RESERVED_BYTES_PER_SLOT);
        // A map entry takes two slots: the entry and its key's offset.
        assert!(size_of::<(String, Value)>() + size_of::<usize>() <= 2 * RESERVED_BYTES_PER_SLOT);
    }

    /// 64 containers nested through their first element, each declaring
    /// 2^32 − 1 elements, around a binary of `filler` bytes.
    fn nested_attack(map: bool, filler: usize) -> Bytes {
        let mut content = Vec::new();
        for _ in 0..64 {
            if map {
                content.extend_from_slice(&[0xdf, 0xff, 0xff, 0xff, 0xff, 0xa0]);
            } else {
                content.extend_from_slice(&[0xdd, 0xff, 0xff, 0xff, 0xff]);
            }
        }
        content.push(0xc6);
        content.extend_from_slice(&(filler as u32).to_be_bytes());
        content.resize(content.len() + filler, 0);
        Bytes::from(content)
    }

    #[test]
    fn nested_containers_share_one_reservation_budget() {
        let limits = ValueLimits::default();
        for map in [false, true] {
            let content = nested_attack(map, 1 << 20);
            let decoded = Value::decode_noting(&content, &limits);
            assert_eq!(
                decoded.value,
                Err(ValueError::UnexpectedEnd {
                    offset: content.len()
                })
            );
            let bound = content.len().min(limits.max_values);
            assert!(
                decoded.reserved <= bound,
                "reserved {} slots, bound {bound}",
                decoded.reserved
            );
            // Before the shared budget, each of the 64 levels reserved about
            // a million slots: 64 × 48 MiB for the arrays, 64 × 44 MiB for
            // the maps. Now all of them together stay under 50 MiB.
            assert!(decoded.reserved * RESERVED_BYTES_PER_SLOT <= 50 << 20);
        }
        // With a lower max_values the bound follows it.
        let few = ValueLimits {
            max_values: 1000,
            ..limits
        };
        let decoded = Value::decode_noting(&nested_attack(false, 1 << 20), &few);
        assert!(decoded.reserved <= 1000, "{}", decoded.reserved);
    }

    #[test]
    fn honest_containers_get_exactly_their_room() {
        // [[0 × 1000], {"k0": nil, ... "k299": nil}]: every container is
        // reserved at its exact size, so none reallocates while decoding.
        let mut inner = vec![0xdc, 0x03, 0xe8];
        inner.resize(inner.len() + 1000, 0);
        let mut map = vec![0xde, 0x01, 0x2c];
        for i in 0..300 {
            let key = format!("k{i}");
            map.push(0xa0 | key.len() as u8);
            map.extend_from_slice(key.as_bytes());
            map.push(0xc0);
        }
        let content = Bytes::from([&[0x92][..], &inner, &map].concat());
        let decoded = Value::decode_noting(&content, &ValueLimits::default());
        assert_eq!(decoded.reserved, 2 + 1000 + 2 * 300);
        let value = decoded.value.unwrap();
        let Value::Array(items) = &value else {
            unreachable!()
        };
        assert_eq!(items.capacity(), 2);
        let [Value::Array(zeros), Value::Map(entries)] = items.as_slice() else {
            unreachable!()
        };
        assert_eq!((zeros.len(), zeros.capacity()), (1000, 1000));
        assert_eq!((entries.len(), entries.capacity()), (300, 300));
    }

    #[test]
    fn the_head_notes_elements_decoded_before_a_fault() {
        // [7, 300, <ext>]: the fault comes after the first two elements.
        let content = Bytes::from_static(&[0x93, 0x07, 0xcd, 0x01, 0x2c, 0xd4, 0, 0]);
        let decoded = Value::decode_noting(&content, &ValueLimits::default());
        assert_eq!(
            decoded.value,
            Err(ValueError::ExtType {
                offset: 5,
                marker: 0xd4
            })
        );
        assert_eq!(decoded.head.uint(0), Some(7));
        assert_eq!(decoded.head.uint(1), Some(300));
        assert_eq!(decoded.head.uint(2), None);
        assert_eq!(
            (decoded.head.len(0), decoded.head.len(1)),
            (Some(1), Some(3))
        );
        // Nested arrays are not the head.
        let nested = Bytes::from_static(&[0x91, 0x91, 0x05]);
        let decoded = Value::decode_noting(&nested, &ValueLimits::default());
        assert_eq!(decoded.head.uint(0), None);
        assert_eq!(decoded.head.len(0), Some(2));
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
