//! Reading a value against a payload schema: arity, types, lengths and
//! limits, each failure naming its field (docs/PROTOCOL.md §8).

use std::ops::RangeInclusive;

use bytes::Bytes;

use crate::value::Head;
use crate::{MAX_DHT_VALUE, Opcode, PayloadError, Value};

/// The elements of a payload array, taken in schema order.
pub(crate) struct Fields {
    opcode: Opcode,
    items: std::vec::IntoIter<Value>,
}

impl Fields {
    /// Opens `value` as an array whose length is in `arity`.
    pub(crate) fn new(
        opcode: Opcode,
        value: Value,
        arity: RangeInclusive<usize>,
        expected: &'static str,
    ) -> Result<Self, PayloadError> {
        let Value::Array(items) = value else {
            return Err(PayloadError::Field {
                opcode,
                field: "payload",
                expected: "an array",
            });
        };
        if !arity.contains(&items.len()) {
            return Err(PayloadError::Arity {
                opcode,
                len: items.len(),
                expected,
            });
        }
        Ok(Self {
            opcode,
            items: items.into_iter(),
        })
    }

    pub(crate) fn opcode(&self) -> Opcode {
        self.opcode
    }

    /// Elements not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn any(&mut self, field: &'static str) -> Result<Value, PayloadError> {
        self.items.next().ok_or(PayloadError::Field {
            opcode: self.opcode,
            field,
            expected: "present",
        })
    }

    pub(crate) fn uint(&mut self, field: &'static str) -> Result<u64, PayloadError> {
        let v = self.any(field)?;
        uint(self.opcode, field, &v)
    }

    pub(crate) fn uint_or_nil(&mut self, field: &'static str) -> Result<Option<u64>, PayloadError> {
        match self.any(field)? {
            Value::Nil => Ok(None),
            v => uint(self.opcode, field, &v).map(Some),
        }
    }

    pub(crate) fn str(&mut self, field: &'static str, max: usize) -> Result<String, PayloadError> {
        let v = self.any(field)?;
        string(self.opcode, field, v, max)
    }

    pub(crate) fn bin(&mut self, field: &'static str, max: usize) -> Result<Bytes, PayloadError> {
        let v = self.any(field)?;
        bin(self.opcode, field, v, max)
    }

    pub(crate) fn bin_exact(
        &mut self,
        field: &'static str,
        len: usize,
        expected: &'static str,
    ) -> Result<Bytes, PayloadError> {
        let v = self.any(field)?;
        bin_exact(self.opcode, field, v, len, expected)
    }

    pub(crate) fn bin32(&mut self, field: &'static str) -> Result<[u8; 32], PayloadError> {
        let b = self.bin_exact(field, 32, "bin(32)")?;
        <[u8; 32]>::try_from(&b[..]).map_err(|_| self.field(field, "bin(32)"))
    }

    pub(crate) fn array(
        &mut self,
        field: &'static str,
        max: usize,
    ) -> Result<Vec<Value>, PayloadError> {
        let v = self.any(field)?;
        array(self.opcode, field, v, max)
    }

    pub(crate) fn field(&self, field: &'static str, expected: &'static str) -> PayloadError {
        PayloadError::Field {
            opcode: self.opcode,
            field,
            expected,
        }
    }
}

/// The entries of a map that must have exactly a given set of keys.
pub(crate) struct Entries {
    opcode: Opcode,
    field: &'static str,
    expected: &'static str,
    entries: Vec<(String, Value)>,
}

impl Entries {
    pub(crate) fn new(
        opcode: Opcode,
        field: &'static str,
        expected: &'static str,
        value: Value,
    ) -> Result<Self, PayloadError> {
        let Value::Map(entries) = value else {
            return Err(PayloadError::Field {
                opcode,
                field,
                expected,
            });
        };
        Ok(Self {
            opcode,
            field,
            expected,
            entries,
        })
    }

    /// Removes and returns the entry `key`; missing keys break the schema.
    pub(crate) fn take(&mut self, key: &str) -> Result<Value, PayloadError> {
        let at = self
            .entries
            .iter()
            .position(|(k, _)| k == key)
            .ok_or(PayloadError::Field {
                opcode: self.opcode,
                field: self.field,
                expected: self.expected,
            })?;
        Ok(self.entries.swap_remove(at).1)
    }

    /// Fails if keys other than those taken are left.
    pub(crate) fn finish(self) -> Result<(), PayloadError> {
        if self.entries.is_empty() {
            Ok(())
        } else {
            Err(PayloadError::Field {
                opcode: self.opcode,
                field: self.field,
                expected: self.expected,
            })
        }
    }
}

pub(crate) fn uint(opcode: Opcode, field: &'static str, v: &Value) -> Result<u64, PayloadError> {
    v.as_u64().ok_or(PayloadError::Field {
        opcode,
        field,
        expected: "an unsigned integer",
    })
}

pub(crate) fn string(
    opcode: Opcode,
    field: &'static str,
    v: Value,
    max: usize,
) -> Result<String, PayloadError> {
    let Value::Str(s) = v else {
        return Err(PayloadError::Field {
            opcode,
            field,
            expected: "a string",
        });
    };
    too_long(opcode, field, s.len(), max)?;
    Ok(s)
}

pub(crate) fn bin(
    opcode: Opcode,
    field: &'static str,
    v: Value,
    max: usize,
) -> Result<Bytes, PayloadError> {
    let Value::Bin(b) = v else {
        return Err(PayloadError::Field {
            opcode,
            field,
            expected: "a binary",
        });
    };
    too_long(opcode, field, b.len(), max)?;
    Ok(b)
}

pub(crate) fn bin_exact(
    opcode: Opcode,
    field: &'static str,
    v: Value,
    len: usize,
    expected: &'static str,
) -> Result<Bytes, PayloadError> {
    match v {
        Value::Bin(b) if b.len() == len => Ok(b),
        _ => Err(PayloadError::Field {
            opcode,
            field,
            expected,
        }),
    }
}

pub(crate) fn array(
    opcode: Opcode,
    field: &'static str,
    v: Value,
    max: usize,
) -> Result<Vec<Value>, PayloadError> {
    let Value::Array(items) = v else {
        return Err(PayloadError::Field {
            opcode,
            field,
            expected: "an array",
        });
    };
    too_long(opcode, field, items.len(), max)?;
    Ok(items)
}

/// A copy of `bytes` that owns its memory, for the small fields a node keeps
/// beyond one input (key fields, relays, DHT keys, proofs): a slice of a
/// decoded body would keep the whole body, up to `max_decompressed`,
/// alive for as long as the field lives.
pub(crate) fn owned(bytes: &Bytes) -> Bytes {
    Bytes::copy_from_slice(bytes)
}

/// Checks the DHT value limit (docs/PROTOCOL.md §8.7, §11) on `value`,
/// element `index` of the payload array: on its encoding as received when
/// the decoder measured it (`head`), else on its shortest encoding, which
/// is what a sender sends.
pub(crate) fn dht_value(
    opcode: Opcode,
    value: &Value,
    head: Option<&Head>,
    index: usize,
) -> Result<(), PayloadError> {
    let len = head
        .and_then(|h| h.len(index))
        .unwrap_or_else(|| value.encoded_len());
    too_long(opcode, "value", len, MAX_DHT_VALUE)
}

pub(crate) fn too_long(
    opcode: Opcode,
    field: &'static str,
    len: usize,
    max: usize,
) -> Result<(), PayloadError> {
    if len > max {
        return Err(PayloadError::TooLong {
            opcode,
            field,
            len,
            max,
        });
    }
    Ok(())
}
