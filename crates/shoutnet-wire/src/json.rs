//! The JSON form of values and messages (docs/PROTOCOL.md §13.1), used by the
//! test vectors and the `shoutnet wire` command.

use bytes::Bytes;
use serde_json::{Map, Number, Value as Json, json};

use crate::{Integer, Message, Opcode, PayloadError, Value, ValueLimits};

/// A JSON document does not have the shape §13.1 describes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct JsonError {
    /// Where in the document, e.g. `messages[0].payload[1]`.
    pub path: String,
    /// What is wrong there.
    pub problem: String,
}

fn err(path: &str, problem: impl Into<String>) -> JsonError {
    JsonError {
        path: path.to_owned(),
        problem: problem.into(),
    }
}

const FLOAT: &str = "$float";
const BIN: &str = "$bin";
const MAP: &str = "$map";

/// The JSON form of a value.
///
/// ```
/// use shoutnet_wire::{Value, json::value_to_json};
/// let v = Value::Array(vec![Value::bin(vec![0xab]), Value::Float(f64::NAN), Value::from(-3i8)]);
/// assert_eq!(value_to_json(&v).to_string(), r#"[{"$bin":"ab"},{"$float":"NaN"},-3]"#);
/// ```
pub fn value_to_json(value: &Value) -> Json {
    match value {
        Value::Nil => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Json::from(u),
            (None, Some(i)) => Json::from(i),
            (None, None) => Json::Null,
        },
        Value::Float(f) => {
            let x = if f.is_nan() {
                json!("NaN")
            } else if f.is_infinite() {
                json!(if *f > 0.0 { "Infinity" } else { "-Infinity" })
            } else {
                Number::from_f64(*f).map_or(Json::Null, Json::Number)
            };
            json!({ FLOAT: x })
        }
        Value::Str(s) => Json::String(s.clone()),
        Value::Bin(b) => json!({ BIN: hex(b) }),
        Value::Array(items) => Json::Array(items.iter().map(value_to_json).collect()),
        Value::Map(entries) => {
            let object: Map<String, Json> = entries
                .iter()
                .map(|(k, v)| (k.clone(), value_to_json(v)))
                .collect();
            if entries.len() == 1 && entries.iter().all(|(k, _)| k.starts_with('$')) {
                json!({ MAP: object })
            } else {
                Json::Object(object)
            }
        }
    }
}

/// The value a JSON form stands for; the inverse of [`value_to_json`].
pub fn value_from_json(json: &Json) -> Result<Value, JsonError> {
    value_at(json, "$")
}

fn value_at(json: &Json, path: &str) -> Result<Value, JsonError> {
    Ok(match json {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            let int = n
                .as_u64()
                .map(Integer::from)
                .or_else(|| n.as_i64().map(Integer::from));
            Value::Int(int.ok_or_else(|| {
                err(
                    path,
                    "plain numbers must be integers; write floats as {\"$float\": x}",
                )
            })?)
        }
        Json::String(s) => Value::Str(s.clone()),
        Json::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| value_at(item, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Json::Object(object) => match single_dollar_entry(object) {
            Some((FLOAT, x)) => Value::Float(float(x, path)?),
            Some((BIN, Json::String(h))) => {
                Value::Bin(Bytes::from(unhex(h).map_err(|p| err(path, p))?))
            }
            Some((BIN, _)) => return Err(err(path, "$bin takes a hex string")),
            Some((MAP, Json::Object(inner))) => map(inner, path)?,
            Some((MAP, _)) => return Err(err(path, "$map takes an object")),
            Some((other, _)) => {
                return Err(err(
                    path,
                    format!("unknown tag {other:?}; wrap such maps in {{\"$map\": ...}}"),
                ));
            }
            None => map(object, path)?,
        },
    })
}

fn single_dollar_entry(object: &Map<String, Json>) -> Option<(&str, &Json)> {
    match object.iter().next() {
        Some((k, v)) if object.len() == 1 && k.starts_with('$') => Some((k.as_str(), v)),
        _ => None,
    }
}

fn map(object: &Map<String, Json>, path: &str) -> Result<Value, JsonError> {
    Ok(Value::Map(
        object
            .iter()
            .map(|(k, v)| Ok((k.clone(), value_at(v, &format!("{path}.{k}"))?)))
            .collect::<Result<_, JsonError>>()?,
    ))
}

fn float(x: &Json, path: &str) -> Result<f64, JsonError> {
    match x {
        Json::Number(n) => n.as_f64().ok_or_else(|| err(path, "not a float")),
        Json::String(s) if s == "NaN" => Ok(f64::NAN),
        Json::String(s) if s == "Infinity" => Ok(f64::INFINITY),
        Json::String(s) if s == "-Infinity" => Ok(f64::NEG_INFINITY),
        _ => Err(err(
            path,
            "$float takes a number, \"NaN\", \"Infinity\" or \"-Infinity\"",
        )),
    }
}

/// The JSON form of a message (docs/PROTOCOL.md §13): `from`, `to`,
/// `opcode`, `encrypted`, `signed`, then `payload` (or `payload_hex` when
/// encrypted) and `signature` when signed.
pub fn message_to_json(msg: &Message, limits: &ValueLimits) -> Result<Json, PayloadError> {
    let mut out = Map::new();
    out.insert("from".into(), Json::String(hex(&msg.from)));
    out.insert("to".into(), Json::String(hex(&msg.to)));
    out.insert("opcode".into(), Json::String(msg.opcode.name().into()));
    out.insert("encrypted".into(), Json::Bool(msg.encrypted));
    out.insert("signed".into(), Json::Bool(msg.signature.is_some()));
    if msg.encrypted {
        out.insert("payload_hex".into(), Json::String(hex(&msg.content)));
    } else {
        out.insert("payload".into(), value_to_json(&msg.value(limits)?));
    }
    if let Some(sig) = &msg.signature {
        out.insert("signature".into(), Json::String(hex(sig)));
    }
    Ok(Json::Object(out))
}

/// The message a JSON form stands for; the inverse of [`message_to_json`].
/// Key and signature lengths are checked when the message is encoded.
pub fn message_from_json(json: &Json, path: &str) -> Result<Message, JsonError> {
    let object = json
        .as_object()
        .ok_or_else(|| err(path, "a message is a JSON object"))?;
    let field = |name: &str| {
        object
            .get(name)
            .ok_or_else(|| err(path, format!("missing \"{name}\"")))
    };
    let hex_field = |name: &str| -> Result<Bytes, JsonError> {
        let s = field(name)?
            .as_str()
            .ok_or_else(|| err(path, format!("\"{name}\" is a hex string")))?;
        unhex(s)
            .map(Bytes::from)
            .map_err(|p| err(&format!("{path}.{name}"), p))
    };
    let flag = |name: &str| -> Result<bool, JsonError> {
        match object.get(name) {
            None => Ok(false),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| err(path, format!("\"{name}\" is true or false"))),
        }
    };
    let opcode: Opcode = field("opcode")?
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| err(path, "\"opcode\" is an opcode name such as \"FIND_NODE\""))?;
    let encrypted = flag("encrypted")?;
    let content = if encrypted {
        hex_field("payload_hex")?
    } else {
        let value = value_at(field("payload")?, &format!("{path}.payload"))?;
        value.encode().map_err(|e| err(path, e.to_string()))?
    };
    let signature = if flag("signed")? {
        Some(hex_field("signature")?)
    } else {
        None
    };
    Ok(Message {
        from: hex_field("from")?,
        to: hex_field("to")?,
        opcode,
        encrypted,
        content,
        signature,
    })
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for nibble in [b >> 4, b & 0x0f] {
            out.push(char::from(
                DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
    out
}

/// The bytes of a hex string (either case, no separators).
pub fn unhex(s: &str) -> Result<Vec<u8>, String> {
    let digit = |c: u8| -> Result<u8, String> {
        char::from(c)
            .to_digit(16)
            .map(|d| d as u8)
            .ok_or_else(|| format!("{:?} is not a hex digit", char::from(c)))
    };
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits ({})", bytes.len()));
    }
    bytes
        .chunks_exact(2)
        .map(|pair| match pair {
            [hi, lo] => Ok(digit(*hi)? << 4 | digit(*lo)?),
            _ => Err("odd number of hex digits".to_owned()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_forms_round_trip() {
        let v = Value::map([
            ("f", Value::Float(0.5)),
            ("inf", Value::Float(f64::NEG_INFINITY)),
            ("b", Value::bin(vec![0, 255])),
            (
                "tricky",
                Value::map([("$bin", Value::from("not a binary"))]),
            ),
            ("n", Value::from(i64::MIN)),
            ("u", Value::from(u64::MAX)),
        ]);
        let json = value_to_json(&v);
        assert_eq!(json["tricky"], json!({"$map": {"$bin": "not a binary"}}));
        assert_eq!(value_from_json(&json), Ok(v));
    }

    #[test]
    fn plain_json_floats_are_refused() {
        let e = value_from_json(&json!([1, 2.5])).unwrap_err();
        assert_eq!(e.path, "$[1]");
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(unhex("00ABff"), Ok(vec![0x00, 0xab, 0xff]));
        assert!(unhex("abc").is_err());
        assert!(unhex("zz").is_err());
    }
}
