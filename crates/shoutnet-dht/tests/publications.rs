//! Publications: when each is due, rescheduling, the bound, and what a
//! publication must satisfy.

use shoutnet_dht::{Publication, Publications, StoreError, address_of};

const T0: u64 = 1_700_000_000;

fn publication(key: &[u8], ttl: u64) -> Publication {
    Publication::new(key.to_vec(), &b"\xc0"[..], 1, ttl).unwrap()
}

#[test]
fn each_publication_is_due_at_three_quarters_of_its_ttl_or_hourly() {
    let mut pubs = Publications::new(8);
    assert_eq!(pubs.publish(publication(b"a", 60), T0), Ok(T0 + 45));
    assert_eq!(pubs.publish(publication(b"b", 1200), T0), Ok(T0 + 900));
    assert_eq!(pubs.publish(publication(b"c", 86_400), T0), Ok(T0 + 3600));
    assert_eq!(pubs.next_due(), Some(T0 + 45));
    assert!(pubs.due(T0 + 44).is_empty());

    let due = pubs.due(T0 + 45);
    assert_eq!(
        due.iter().map(|p| p.key().as_ref()).collect::<Vec<_>>(),
        [b"a"]
    );
    assert_eq!(pubs.next_due(), Some(T0 + 90), "a again, one interval on");

    // Late: everything due at once, rescheduled from when it was asked.
    let late = T0 + 5000;
    let mut keys: Vec<_> = pubs.due(late).iter().map(|p| p.key().clone()).collect();
    keys.sort();
    assert_eq!(keys, [&b"a"[..], b"b", b"c"]);
    assert_eq!(pubs.next_due(), Some(late + 45));
    assert!(pubs.due(late).is_empty(), "not due twice at one time");
    assert_eq!(pubs.len(), 3);
}

#[test]
fn a_publication_carries_what_every_republish_sends() {
    let mut pubs = Publications::new(1);
    let p = Publication::new("key", &b"\xa1v"[..], 9, 600).unwrap();
    pubs.publish(p, T0).unwrap();
    let due = pubs.due(T0 + 450);
    let [p] = due.as_slice() else {
        panic!("one due")
    };
    assert_eq!(p.address(), &address_of(b"key"));
    assert_eq!(
        (p.key().as_ref(), p.value().as_ref()),
        (&b"key"[..], &b"\xa1v"[..])
    );
    assert_eq!((p.version(), p.ttl()), (9, 600));
}

#[test]
fn publishing_past_the_bound_is_refused_but_updating_is_not() {
    let mut pubs = Publications::new(2);
    pubs.publish(publication(b"a", 600), T0).unwrap();
    pubs.publish(publication(b"b", 600), T0).unwrap();
    let before = pubs.clone();
    assert_eq!(
        pubs.publish(publication(b"c", 600), T0),
        Err(StoreError::TooManyPublications { max: 2 })
    );
    assert_eq!(pubs, before, "refused: nothing changed");

    // A new version of a published record replaces it and its schedule.
    let v2 = Publication::new(&b"a"[..], &b"\x02"[..], 2, 6000).unwrap();
    assert_eq!(pubs.publish(v2, T0 + 10), Ok(T0 + 10 + 3600));
    assert_eq!(pubs.len(), 2);
    assert_eq!(pubs.get(&address_of(b"a")).map(|p| p.version()), Some(2));
    assert_eq!(
        pubs.next_due(),
        Some(T0 + 450),
        "only b's old schedule left before"
    );
    assert_eq!(pubs.due(T0 + 450).len(), 1);

    // Forgetting makes room.
    assert!(pubs.forget(&address_of(b"a")).is_some());
    assert_eq!(pubs.forget(&address_of(b"a")), None);
    assert!(pubs.publish(publication(b"c", 600), T0).is_ok());
    assert_eq!(pubs.max(), 2);
}

#[test]
fn forgotten_publications_are_never_due() {
    let mut pubs = Publications::new(4);
    pubs.publish(publication(b"a", 600), T0).unwrap();
    pubs.forget(&address_of(b"a"));
    assert_eq!(pubs.next_due(), None);
    assert!(pubs.due(u64::MAX).is_empty() && pubs.is_empty());
}

#[test]
fn a_publication_peers_would_refuse_is_refused() {
    assert_eq!(
        Publication::new(vec![0; 1025], "", 0, 600),
        Err(StoreError::KeyTooLarge {
            len: 1025,
            max: 1024
        })
    );
    assert_eq!(
        Publication::new("k", vec![0; 65_537], 0, 600),
        Err(StoreError::ValueTooLarge {
            len: 65_537,
            max: 65_536
        })
    );
    assert_eq!(
        Publication::new("k", "", 0, 59),
        Err(StoreError::TtlTooShort { ttl: 59, min: 60 })
    );
    assert!(Publication::new(vec![0; 1024], vec![0; 65_536], 0, 60).is_ok());
}
