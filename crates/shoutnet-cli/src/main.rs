//! The `shoutnet` command: `shoutnet demo` and `shoutnet node` (a network
//! on loopback, one node with a console), and dispatch for the `shoutnet
//! wire` commands, which decode and encode transmissions (docs/PROTOCOL.md
//! §4–§8, in the JSON form of §13), and for the key file commands `shoutnet
//! keygen` and `shoutnet key show` (§2).
//!
//! Errors end the process with one line on stderr, `error: ...`, and exit
//! code 1. Usage errors exit with code 2, as clap does.

mod demo;
mod key;
mod metrics;
mod node;
mod wire;

use std::io;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// shoutnet: run a node or a loopback demo, decode the wire protocol,
/// manage key files.
#[derive(Debug, Parser)]
#[command(name = "shoutnet", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a network of nodes on loopback TCP in this process and show
    /// SHOUT, WHISPER (between dial-out-only nodes), the DHT and CUSTOM
    /// working on it.
    Demo(demo::DemoArgs),
    /// Run one node with a line-oriented console on stdin (`help` lists
    /// the commands); stops on `quit` or Ctrl-C.
    Node(node::NodeArgs),
    /// Decode and encode wire transmissions (docs/PROTOCOL.md §4–§8, §13).
    #[command(subcommand)]
    Wire(WireCommand),
    /// Generate a key pair and write it to a new key file (docs/PROTOCOL.md §2).
    Keygen(key::KeygenArgs),
    /// Inspect key files (docs/PROTOCOL.md §2).
    #[command(subcommand)]
    Key(KeyCommand),
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Print a key file's profile, key field and routing address.
    Show(key::ShowArgs),
}

#[derive(Debug, Subcommand)]
enum WireCommand {
    /// Decode one transmission and print each message as a line of JSON.
    Decode(wire::decode::DecodeArgs),
    /// Encode JSON messages (as `decode` prints them, or a test vector) into
    /// one transmission.
    Encode(wire::encode::EncodeArgs),
}

fn main() -> ExitCode {
    // `parse` prints usage errors itself and exits with code 2.
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Node(args) => node::run(&args),
        Command::Wire(WireCommand::Decode(args)) => wire::decode::run(&args),
        Command::Wire(WireCommand::Encode(args)) => wire::encode::run(&args),
        Command::Keygen(args) => key::keygen(&args),
        Command::Key(KeyCommand::Show(args)) => key::show(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that went away (`shoutnet wire decode x | head -1`) is not
        // an error of ours.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, `outer: inner: root`.
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace(['\n', '\r'], " ")
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn errors_print_on_one_line() {
        let e = anyhow::anyhow!("root\ncause").context("reading x");
        assert_eq!(one_line(&e), "reading x: root cause");
    }
}
