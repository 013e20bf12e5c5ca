//! Named limits a receiver enforces before it allocates (docs/PROTOCOL.md §11).

/// Limits on one restricted msgpack value (docs/PROTOCOL.md §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueLimits {
    /// Deepest nesting of arrays and maps (default 64). Decoding recurses
    /// once per level, so this also bounds stack use.
    pub max_depth: usize,
    /// Most values in one payload, counting every element and map entry
    /// (default 1,048,576). Each decoded value takes a few dozen bytes, so
    /// this bounds the memory one payload can cost whatever its length; the
    /// room containers reserve up front for their declared elements comes
    /// from one budget per value of `min(content length, max_values)` slots
    /// of at most 48 bytes, however they nest (docs/PROTOCOL.md §11).
    pub max_values: usize,
}

impl ValueLimits {
    /// The defaults of docs/PROTOCOL.md §11.
    pub const DEFAULT: Self = Self {
        max_depth: 64,
        max_values: 1 << 20,
    };
}

impl Default for ValueLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Limits on transmissions and the messages inside them.
///
/// ```
/// use shoutnet_wire::Limits;
/// let strict = Limits { max_transmission: 1 << 20, ..Limits::default() };
/// assert_eq!(strict.max_decompressed, 64 << 20);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes of body as sent, checked on the 6 header bytes before the
    /// body is read (default 16 MiB).
    pub max_transmission: usize,
    /// Most bytes of body after decompression; decompression stops here
    /// (default 64 MiB, four times `max_transmission` for typical ratios).
    pub max_decompressed: usize,
    /// Most messages in one transmission (default 65,536).
    pub max_messages: usize,
    /// Most bytes in one message's payload (default 16 MiB).
    pub max_payload: usize,
    /// Limits on each payload's value.
    pub value: ValueLimits,
}

impl Limits {
    /// The defaults of docs/PROTOCOL.md §11.
    pub const DEFAULT: Self = Self {
        max_transmission: 16 << 20,
        max_decompressed: 64 << 20,
        max_messages: 1 << 16,
        max_payload: 16 << 20,
        value: ValueLimits::DEFAULT,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
