//! A chat room over SHOUT: every line you type reaches every node.
//!
//! ```sh
//! # one terminal: the first node
//! cargo run -p shoutnet --example chat -- 127.0.0.1:4000
//! # others: join through it
//! cargo run -p shoutnet --example chat -- 127.0.0.1:4001 127.0.0.1:4000
//! ```
//!
//! Lines are sent as a serde struct and read back with `data_as`.

use serde::{Deserialize, Serialize};
use shoutnet::{Event, Node};
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(Debug, Serialize, Deserialize)]
struct Line {
    nick: String,
    text: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let listen = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:4000".into())
        .parse()?;
    let seeds = args.map(|a| a.parse()).collect::<Result<Vec<_>, _>>()?;
    let joining = !seeds.is_empty();
    let (node, mut events) = Node::builder()
        .listen(listen)
        .bootstrap(seeds)
        .local_network(true)
        .build()
        .await?;
    let nick = format!("node-{}", &node.address().to_string()[..6]);
    if joining {
        println!("joined: {} peers known", node.joined().await?);
    }
    println!("{nick} listening on {listen}; type lines to chat, Ctrl-D to leave");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            line = lines.next_line() => match line? {
                Some(text) => {
                    let line = Line { nick: nick.clone(), text };
                    node.shout(shoutnet::to_value(&line)?).await?;
                }
                None => break,
            },
            event = events.next() => match event {
                Some(event @ Event::Shout { .. }) => {
                    if let Some(Ok(line)) = event.data_as::<Line>() {
                        println!("<{}> {}", line.nick, line.text);
                    }
                }
                Some(_) => {}
                None => break,
            },
        }
    }
    node.shutdown().await?;
    Ok(())
}
