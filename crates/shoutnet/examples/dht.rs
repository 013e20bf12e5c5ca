//! The DHT: eight nodes on loopback, a record put by one and read by all,
//! a newer version replacing it, and an older one refused.
//!
//! ```sh
//! cargo run -p shoutnet --example dht
//! ```

use serde::{Deserialize, Serialize};
use shoutnet::local::{LocalNetwork, LocalOptions};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Profile {
    name: String,
    status: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let net = LocalNetwork::start(LocalOptions::new(8), |_, _, _| {}).await?;
    let alice = Profile {
        name: "alice".into(),
        status: "hello".into(),
    };
    let report = net
        .node(1)
        .put_with(
            "profile/alice",
            shoutnet::to_value(&alice)?,
            Some(1),
            Some(3600),
        )
        .await?;
    println!("put version {} on {} nodes", report.version, report.stored);
    for (i, node) in net.nodes().iter().enumerate() {
        let found = node.get("profile/alice").await?.ok_or("not found")?;
        let profile: Profile = shoutnet::from_value(&found.value)?;
        println!("node {i}: {profile:?} (version {})", found.metadata.version);
    }
    let newer = Profile {
        status: "away".into(),
        ..alice
    };
    net.node(2)
        .put_with(
            "profile/alice",
            shoutnet::to_value(&newer)?,
            Some(2),
            Some(3600),
        )
        .await?;
    let older = net
        .node(3)
        .put_with("profile/alice", "stale", Some(1), Some(3600))
        .await?;
    println!(
        "an older version is refused: {} stored, conflict with {:?}",
        older.stored,
        older.conflict.map(|(n, m)| (n, m.version))
    );
    let found = net.node(7).get("profile/alice").await?.ok_or("not found")?;
    println!("now: {:?}", shoutnet::from_value::<Profile>(&found.value)?);
    net.shutdown().await?;
    Ok(())
}
