//! Attacks by a hostile peer, performed (docs/PROTOCOL.md §4, §7, §8, §11):
//! each test sends what the attacker would and shows the bound that holds or
//! the typed refusal it gets.
//!
//! The memory attack on the value decoder runs in a child process under an
//! address-space limit (`ulimit -v`), so a decoder that reserved past its
//! bound would abort the child instead of returning the typed error.

use bytes::Bytes;
use shoutnet_wire::{
    Ack, AckResult, Custom, Limits, Message, Method, MethodSet, NodeInfo, NodesFor, Payload,
    Profile, StreamDecoder, Value, ValueError, ValueLimits, decode_transmission,
    encode_transmission,
};

/// Marks the child process of [`run_limited`]: the test that sees it
/// performs the attack itself instead of spawning a child.
const CHILD_ENV: &str = "SHOUTNET_WIRE_HOSTILE_CHILD";

/// The address-space limit of the child, in KiB: 512 MiB. Measured on
/// Linux x86-64 (debug build): the child passes with the attack under a
/// 64 MiB limit (the 2 MiB content, about 44 MiB of reservations and the
/// test binary itself), and fails under 48 MiB. The decoder before the
/// shared reservation budget asked for 88 MiB per nesting level, about
/// 5.5 GiB in all, and the child aborted a few levels in ("memory
/// allocation of 83885200 bytes failed", SIGABRT).
const ADDRESS_SPACE_KIB: u64 = 512 << 10;

/// How long the child may take: it needs well under a second.
const CHILD_TIMEOUT_MS: u64 = 60_000;

/// A value of 64 maps nested through their first entry, each declaring
/// 2^32 − 1 entries, around a 2 MiB binary: about 2 MiB of content that is
/// cut short (it ends where the innermost map's second key should start).
///
/// The old decoder reserved, for every map, room for as many entries as the
/// remaining bytes or the value budget could hold (about a million entries,
/// some 88 MiB), 64 times over.
fn nested_maps_attack() -> Bytes {
    let mut content = Vec::new();
    for _ in 0..64 {
        content.extend_from_slice(&[0xdf, 0xff, 0xff, 0xff, 0xff, 0xa0]);
    }
    let filler = 2 << 20;
    content.push(0xc6);
    content.extend_from_slice(&u32::try_from(filler).unwrap().to_be_bytes());
    content.resize(content.len() + filler, 0);
    Bytes::from(content)
}

/// Runs the test `name` of this binary again, alone, in a child process
/// whose address space is limited to `kib` KiB, and returns its output.
/// Linux (and any system with `sh` and `ulimit -v`) only.
fn run_limited(name: &str, kib: u64) -> std::process::Output {
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v \"$0\" && exec \"$@\"")
        .arg(kib.to_string())
        .arg(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .env("RUST_TEST_THREADS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running the test binary under sh");
    // The child writes little, so its pipes cannot fill while we poll.
    for _ in 0..CHILD_TIMEOUT_MS / 50 {
        if child.try_wait().expect("polling the child").is_some() {
            return child.wait_with_output().expect("the child's output");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().expect("killing the child");
    let out = child.wait_with_output().expect("the child's output");
    panic!(
        "the child did not finish within {CHILD_TIMEOUT_MS} ms:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[cfg(target_os = "linux")]
fn nested_containers_cannot_reserve_past_the_bound() {
    const NAME: &str = "nested_containers_cannot_reserve_past_the_bound";
    if std::env::var_os(CHILD_ENV).is_some() {
        // The child: perform the attack under the limit.
        let content = nested_maps_attack();
        let err = Value::decode(&content, &ValueLimits::default()).unwrap_err();
        assert_eq!(
            err,
            ValueError::UnexpectedEnd {
                offset: content.len()
            }
        );
        println!("child: refused with {}", err.name());
        return;
    }
    let out = run_limited(NAME, ADDRESS_SPACE_KIB);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("child: refused with UnexpectedEnd"),
        "the child under a {ADDRESS_SPACE_KIB} KiB address-space limit failed ({}):\n\
         stdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
}

/// A small compressed reply must not pin a big body: an `ACK FIND_NODE` is
/// batched with 8 MiB of zeros (a CUSTOM's data), which zlib sends in a few
/// KiB. The node infos read from it, and the from- and to-keys of an owned
/// message, are kept after the transmission is dropped; none of them may
/// hold the decompressed body. (Before, every key was a slice of it.)
#[test]
fn kept_node_infos_do_not_pin_the_decompressed_body() {
    let profile = Profile::Ed25519;
    let (me, peer) = (Bytes::from(vec![1u8; 32]), Bytes::from(vec![2u8; 32]));
    let nodes: Vec<NodeInfo> = (0..20u8)
        .map(|i| NodeInfo {
            key: Bytes::from(vec![i + 3; 32]),
            listen: vec![format!("10.0.0.{i}:4000").parse().unwrap()],
            relays: vec![Bytes::from(vec![i + 100; 32])],
        })
        .collect();
    let answer = Payload::Ack(Ack {
        request_id: 7,
        result: AckResult::Nodes {
            acked: NodesFor::FindNode,
            nodes: nodes.clone(),
        },
    });
    let bulk = Payload::Custom(Custom {
        request_id: None,
        name: "bulk".into(),
        data: Value::bin(vec![0u8; 8 << 20]),
    });
    let messages = [
        Message::from_payload(profile, peer.clone(), me.clone(), &answer).unwrap(),
        Message::from_payload(profile, peer, me, &bulk).unwrap(),
    ];
    let wire = encode_transmission(profile, &messages, Method::Zlib).unwrap();
    assert!(wire.len() < 64 << 10, "{} bytes sent", wire.len());

    let tx = decode_transmission(wire, profile, &Limits::default(), MethodSet::all()).unwrap();
    // A handle on the decompressed body, to watch who else holds it, and
    // the body's extent: from the first message header to the end.
    let body = tx.get(1).unwrap().to_message().content;
    let first = tx.get(0).unwrap().content().as_ptr();
    let body_range = first.wrapping_sub(profile.header_len())..body.as_ptr_range().end;
    assert!(body.len() > 8 << 20);
    let owned = tx.get(0).unwrap().to_message();
    let Ok(Payload::Ack(Ack {
        result: AckResult::Nodes { nodes: kept, .. },
        ..
    })) = owned.read(profile, &ValueLimits::default())
    else {
        panic!("the answer does not read back");
    };
    assert_eq!(kept, nodes);
    let (from, to) = (owned.from.clone(), owned.to.clone());
    drop((tx, owned));

    for node in &kept {
        for key in std::iter::once(&node.key).chain(&node.relays) {
            assert!(
                !body_range.contains(&key.as_ptr()),
                "a kept key points into the body"
            );
        }
    }
    assert!(!body_range.contains(&from.as_ptr()) && !body_range.contains(&to.as_ptr()));
    assert!(
        body.is_unique(),
        "something kept still holds the 8 MiB decompressed body"
    );
}

/// A peer announces a 16 MiB body (the most `max_transmission` allows) and
/// sends nothing more: the stream decoder holds 64 KiB, not 16 MiB.
#[test]
fn an_announced_body_is_not_reserved_up_front() {
    let limits = Limits::default();
    let mut decoder = StreamDecoder::new(limits);
    let [l0, l1, l2, l3] = u32::try_from(limits.max_transmission)
        .unwrap()
        .to_be_bytes();
    decoder.push(&[0, 0, l0, l1, l2, l3]);
    assert_eq!(decoder.next_frame(), Ok(None));
    assert!(
        decoder.capacity() <= shoutnet_wire::INITIAL_BODY_RESERVE + 6,
        "announcing {} bytes reserved {}",
        limits.max_transmission,
        decoder.capacity()
    );
}
