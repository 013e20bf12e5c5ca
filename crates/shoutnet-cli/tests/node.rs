//! Runs `shoutnet node` as a process (ARCHITECTURE.md, "The runtime and the
//! facade"): two nodes on loopback joined through the first, driven through
//! their consoles; the first serves its counters in OpenMetrics text at
//! `--metrics`; `quit` stops both.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

/// A running node: its console and the lines it prints.
struct NodeProcess {
    child: Child,
    console: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl NodeProcess {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_shoutnet"))
            .arg("node")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("shoutnet node starts");
        let console = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Self {
            child,
            console,
            lines,
        }
    }

    /// The first line starting with `prefix`.
    fn expect(&self, prefix: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no line starting with {prefix:?}"));
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    fn say(&mut self, command: &str) {
        writeln!(self.console, "{command}").expect("console");
    }

    fn quit(mut self) {
        self.say("quit");
        self.expect("stopped");
        let status = self.child.wait().expect("exit");
        assert!(status.success(), "{status}");
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn scrape(addr: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("metrics endpoint");
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\n\r\n")
        .expect("request");
    let mut body = String::new();
    stream.read_to_string(&mut body).expect("response");
    body
}

#[test]
fn two_node_processes_talk_through_their_consoles_and_serve_metrics() {
    let mut seed = NodeProcess::start(&[
        "--listen",
        "127.0.0.1:0",
        "--local-network",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let seed_key = seed.expect("key ").trim_start_matches("key ").to_owned();
    let listening = seed.expect("listening ");
    let addr = listening.trim_start_matches("listening ").to_owned();
    let metrics = seed.expect("metrics ");
    let metrics = metrics
        .trim_start_matches("metrics http://")
        .trim_end_matches("/metrics")
        .to_owned();

    let mut other = NodeProcess::start(&["--bootstrap", &addr, "--local-network"]);
    let other_key = other.expect("key ").trim_start_matches("key ").to_owned();
    other.expect("joined ");

    // A WHISPER from the dial-out-only node to the seed, and back.
    other.say(&format!("whisper {seed_key} hello seed"));
    other.expect("ok whisper delivered");
    assert_eq!(
        seed.expect("whisper "),
        format!("whisper {other_key} encrypted hello seed")
    );
    seed.say(&format!("whisper-plain {other_key} hello back"));
    seed.expect("ok whisper delivered");
    other.expect(&format!("whisper {seed_key} plain hello back"));

    // The DHT through the consoles.
    other.say("put colour blue");
    other.expect("ok put stored");
    seed.say("get colour");
    assert_eq!(seed.expect("found "), "found colour blue");
    seed.say("get nothing-here");
    assert_eq!(seed.expect("missing "), "missing nothing-here");

    // A mistyped command is an error, not the end of the node.
    seed.say("shuot oops");
    assert!(seed.expect("error ").contains("unknown command"));

    let body = scrape(&metrics);
    assert!(body.starts_with("HTTP/1.0 200 OK"), "{body}");
    assert!(body.contains("application/openmetrics-text"), "{body}");
    let delivered = body
        .lines()
        .find(|l| l.starts_with("shoutnet_whispers_delivered_total "))
        .unwrap_or_else(|| panic!("no whispers_delivered counter in {body}"));
    assert_eq!(delivered, "shoutnet_whispers_delivered_total 1");
    assert!(body.contains("shoutnet_connections "), "{body}");
    assert!(body.trim_end().ends_with("# EOF"), "{body}");

    other.quit();
    seed.quit();
}
