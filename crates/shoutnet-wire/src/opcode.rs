//! Opcodes: the high nibble of the opcode byte (docs/PROTOCOL.md §5.1).

use std::fmt;
use std::str::FromStr;

/// A message's operation. Every 4-bit value is an opcode, so decoding the
/// nibble cannot fail; the reserved values 10–14 decode as
/// [`Opcode::Reserved10`] … [`Opcode::Reserved14`] and are answered with a
/// NACK by the engine.
///
/// ```
/// use shoutnet_wire::Opcode;
/// assert_eq!(Opcode::from_nibble(7), Opcode::FindNode);
/// assert_eq!(Opcode::FindNode.name(), "FIND_NODE");
/// assert!(Opcode::Reserved12.is_reserved());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
#[allow(missing_docs)] // The variants are the spec's names.
pub enum Opcode {
    Ack = 0,
    Nack = 1,
    Ping = 2,
    SetConnectionOpt = 3,
    Shout = 4,
    Speak = 5,
    Whisper = 6,
    FindNode = 7,
    FindValue = 8,
    Store = 9,
    Reserved10 = 10,
    Reserved11 = 11,
    Reserved12 = 12,
    Reserved13 = 13,
    Reserved14 = 14,
    Custom = 15,
}

impl Opcode {
    /// All sixteen opcodes in numeric order.
    pub const ALL: [Self; 16] = [
        Self::Ack,
        Self::Nack,
        Self::Ping,
        Self::SetConnectionOpt,
        Self::Shout,
        Self::Speak,
        Self::Whisper,
        Self::FindNode,
        Self::FindValue,
        Self::Store,
        Self::Reserved10,
        Self::Reserved11,
        Self::Reserved12,
        Self::Reserved13,
        Self::Reserved14,
        Self::Custom,
    ];

    /// The opcode of a 4-bit value; only the low four bits of `nibble` count.
    #[allow(clippy::indexing_slicing)] // The mask keeps the index below 16.
    pub const fn from_nibble(nibble: u8) -> Self {
        Self::ALL[(nibble & 0x0f) as usize]
    }

    /// The opcode of a number carried in a payload (ACK/NACK's acked opcode),
    /// or `None` when it is over 15.
    pub fn from_u64(n: u64) -> Option<Self> {
        u8::try_from(n)
            .ok()
            .filter(|n| *n < 16)
            .map(Self::from_nibble)
    }

    /// The opcode's value, 0–15.
    pub const fn value(self) -> u8 {
        self as u8
    }

    /// Whether this is one of the reserved opcodes 10–14.
    pub const fn is_reserved(self) -> bool {
        matches!(self.value(), 10..=14)
    }

    /// The opcode's name as the spec writes it (`RESERVED_10` for the
    /// reserved ones).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ack => "ACK",
            Self::Nack => "NACK",
            Self::Ping => "PING",
            Self::SetConnectionOpt => "SET_CONNECTION_OPT",
            Self::Shout => "SHOUT",
            Self::Speak => "SPEAK",
            Self::Whisper => "WHISPER",
            Self::FindNode => "FIND_NODE",
            Self::FindValue => "FIND_VALUE",
            Self::Store => "STORE",
            Self::Reserved10 => "RESERVED_10",
            Self::Reserved11 => "RESERVED_11",
            Self::Reserved12 => "RESERVED_12",
            Self::Reserved13 => "RESERVED_13",
            Self::Reserved14 => "RESERVED_14",
            Self::Custom => "CUSTOM",
        }
    }
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The string named no opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown opcode name")]
pub struct UnknownOpcode;

impl FromStr for Opcode {
    type Err = UnknownOpcode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|op| op.name() == s)
            .ok_or(UnknownOpcode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nibble_round_trips_through_value_and_name() {
        for n in 0u8..16 {
            let op = Opcode::from_nibble(n);
            assert_eq!(op.value(), n);
            assert_eq!(op.name().parse::<Opcode>(), Ok(op));
            assert_eq!(op.is_reserved(), (10..=14).contains(&n));
        }
        assert_eq!(Opcode::from_u64(16), None);
        assert_eq!(Opcode::from_u64(15), Some(Opcode::Custom));
    }
}
