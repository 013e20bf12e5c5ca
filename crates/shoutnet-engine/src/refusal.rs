//! Refusals (docs/PROTOCOL.md §10): the `NACK` that answers a message this
//! node will not serve, with the request id read from the message's raw
//! value when it has one, and the reason cut to the wire's limit.

use shoutnet_wire::{
    Ack, AckResult, MAX_NACK_REASON, Message, Nack, NackCode, Opcode, Payload, PayloadError,
    Profile, Refused, SetConnectionOpt, Value, ValueLimits,
};

/// The request id of `msg`, read by decoding it once: the payload's, or
/// the one the refused decode could read (docs/PROTOCOL.md §8.3).
pub(crate) fn request_id_of(msg: &Message, profile: Profile, limits: &ValueLimits) -> Option<u64> {
    match msg.read(profile, limits) {
        Ok(payload) => request_id(&payload),
        Err(refused) => refused.request_id,
    }
}

/// The request id `payload` carries, if it is a request or a reply.
pub(crate) fn request_id(payload: &Payload) -> Option<u64> {
    match payload {
        Payload::Ack(a) => Some(a.request_id),
        Payload::Nack(n) => n.request_id,
        Payload::Ping(p) => Some(p.request_id),
        Payload::SetConnectionOpt(o) => Some(o.request_id),
        Payload::Whisper(w) => Some(w.request_id),
        Payload::FindNode(f) => Some(f.request_id),
        Payload::FindValue(f) => Some(f.request_id),
        Payload::Store(s) => Some(s.request_id),
        Payload::Custom(c) => c.request_id,
        Payload::Shout(_) | Payload::Speak(_) => None,
    }
}

/// The answer to `SET_CONNECTION_OPT` `opt` (§8.4): an `ACK` echoing option
/// and setting if `accepted`, else `NACK UNSUPPORTED_OPTION` with `reason`
/// and the detail `[option, setting]`.
pub(crate) fn option_answer(
    opt: &SetConnectionOpt,
    accepted: bool,
    reason: &str,
) -> Result<Ack, Nack> {
    if accepted {
        return Ok(Ack {
            request_id: opt.request_id,
            result: AckResult::SetConnectionOpt {
                option: opt.option,
                setting: opt.setting,
            },
        });
    }
    let mut refusal = nack(
        Opcode::SetConnectionOpt,
        Some(opt.request_id),
        NackCode::UnsupportedOption,
        reason,
    );
    refusal.detail = Some(Value::Array(vec![
        Value::from(opt.option),
        Value::from(opt.setting),
    ]));
    Err(refusal)
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

/// A refusal of a `WHISPER`, named by its digest (docs/PROTOCOL.md §8.6):
/// request id nil, detail the digest, so that its origin can match it
/// whether it came direct or through other nodes.
pub(crate) fn whisper_nack(code: NackCode, reason: &str, digest: &[u8; 32]) -> Nack {
    let mut nack = nack(Opcode::Whisper, None, code, reason);
    nack.detail = Some(Value::bin(digest.to_vec()));
    nack
}

/// The answer to a message whose payload `refused` (read once, by
/// [`Message::read`]): `TOO_LARGE` for a field over its limit, `MALFORMED`
/// otherwise, naming the request id that read found. Replies are never
/// answered (that could loop): `None`.
pub(crate) fn malformed(msg: &Message, refused: &Refused) -> Option<Nack> {
    if matches!(msg.opcode, Opcode::Ack | Opcode::Nack) {
        return None;
    }
    let code = match refused.error {
        PayloadError::TooLong { .. } => NackCode::TooLarge,
        _ => NackCode::Malformed,
    };
    Some(nack(
        msg.opcode,
        refused.request_id,
        code,
        &refused.error.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn malformed_requests_are_answered_and_replies_are_not() {
        let limits = ValueLimits::default();
        let key = Bytes::from(vec![1; 32]);
        // FIND_NODE [7, "x"]: the target is not bin(32); the id is read.
        let find = Message::new(
            key.clone(),
            key.clone(),
            Opcode::FindNode,
            Bytes::from_static(&[0x92, 7, 0xa1, b'x']),
        );
        let refused = find.read(Profile::Ed25519, &limits).unwrap_err();
        let answer = malformed(&find, &refused).unwrap();
        assert_eq!(
            (answer.code, answer.request_id),
            (NackCode::Malformed, Some(7))
        );
        let reply = Message::new(key.clone(), key, Opcode::Ack, Bytes::from_static(&[0xc1]));
        let refused = reply.read(Profile::Ed25519, &limits).unwrap_err();
        assert!(malformed(&reply, &refused).is_none());
    }

    #[test]
    fn reasons_are_cut_to_the_wire_limit_on_a_char_boundary() {
        let long = "é".repeat(MAX_NACK_REASON);
        let n = nack(Opcode::Ping, None, NackCode::Unspecified, &long);
        assert!(n.reason.len() <= MAX_NACK_REASON);
        assert!(n.reason.len() >= MAX_NACK_REASON - 1);
    }
}
