//! Refusals (docs/PROTOCOL.md §10): the `NACK` that answers a message this
//! node will not serve, with the request id read from the message's raw
//! value when it has one, and the reason cut to the wire's limit.

use shoutnet_wire::{MAX_NACK_REASON, Message, Nack, NackCode, Opcode, PayloadError, ValueLimits};

/// The request id of `msg`, read from its raw value if it has one: the
/// first element of a request, the second of an `ACK`/`NACK`.
pub(crate) fn request_id_of(msg: &Message, limits: &ValueLimits) -> Option<u64> {
    let index = match msg.opcode {
        Opcode::Ack | Opcode::Nack => 1,
        Opcode::Shout | Opcode::Speak => return None,
        _ if msg.opcode.is_reserved() => return None,
        _ => 0,
    };
    let value = msg.value(limits).ok()?;
    value.as_array()?.get(index)?.as_u64()
}

/// `NACK [acked, request_id, code, reason]`, the reason cut to
/// [`MAX_NACK_REASON`] bytes on a character boundary.
pub(crate) fn nack(acked: Opcode, request_id: Option<u64>, code: NackCode, reason: &str) -> Nack {
    let mut reason = reason.to_owned();
    while reason.len() > MAX_NACK_REASON {
        reason.pop();
    }
    Nack {
        acked,
        request_id,
        code,
        reason,
        detail: None,
    }
}

/// The `NACK` refusing `msg` with `code`, naming its request id if it can
/// be read.
pub(crate) fn nack_message(
    msg: &Message,
    code: NackCode,
    reason: &str,
    limits: &ValueLimits,
) -> Nack {
    nack(msg.opcode, request_id_of(msg, limits), code, reason)
}

/// The answer to a message whose payload does not decode: `TOO_LARGE` for
/// a field over its limit, `MALFORMED` otherwise. Replies are never
/// answered (that could loop): `None`.
pub(crate) fn malformed(msg: &Message, err: &PayloadError, limits: &ValueLimits) -> Option<Nack> {
    if matches!(msg.opcode, Opcode::Ack | Opcode::Nack) {
        return None;
    }
    let code = match err {
        PayloadError::TooLong { .. } => NackCode::TooLarge,
        _ => NackCode::Malformed,
    };
    Some(nack_message(msg, code, &err.to_string(), limits))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use shoutnet_wire::{FindNode, Payload, Profile};

    use super::*;

    fn msg(payload: &Payload) -> Message {
        let key = Bytes::from(vec![1; 32]);
        Message::from_payload(Profile::Ed25519, key.clone(), key, payload).unwrap()
    }

    #[test]
    fn request_ids_are_read_where_each_opcode_keeps_them() {
        let limits = ValueLimits::default();
        let find = msg(&Payload::FindNode(FindNode {
            request_id: 7,
            target: [0; 32],
        }));
        assert_eq!(request_id_of(&find, &limits), Some(7));
        let reply = msg(&Payload::Nack(nack(
            Opcode::Ping,
            Some(9),
            NackCode::Malformed,
            "x",
        )));
        assert_eq!(request_id_of(&reply, &limits), Some(9));
        let garbage = Message::new(
            Bytes::from(vec![1; 32]),
            Bytes::from(vec![1; 32]),
            Opcode::FindNode,
            Bytes::from_static(&[0xc1]),
        );
        assert_eq!(request_id_of(&garbage, &limits), None);
    }

    #[test]
    fn reasons_are_cut_to_the_wire_limit_on_a_char_boundary() {
        let long = "é".repeat(MAX_NACK_REASON);
        let n = nack(Opcode::Ping, None, NackCode::Unspecified, &long);
        assert!(n.reason.len() <= MAX_NACK_REASON);
        assert!(n.reason.len() >= MAX_NACK_REASON - 1);
    }
}
