#!/usr/bin/env python3
"""Cross-host test of real `shoutnet node` processes in network namespaces.

    python3 tools/netns/netns_test.py target/debug/shoutnet

Builds eight hosts, each a Linux network namespace with one veth into a
bridge that lives in a namespace of its own (the root namespace's links,
addresses and routes are never touched), starts one `shoutnet node` per
host and drives them through their consoles (stdin/stdout): SHOUT, WHISPER
(plain, encrypted, to a dial-out-only node), the DHT, then a partition of
the hosts into {0,1,2,3} and {4,5,6,7} and its healing. See
tools/netns/README.md.

Needs root, iproute2 (`ip`, and `tc` with netem for delay and loss; without
netem the test runs without them and says so) and the Python 3.11 standard
library. Prints `SKIP: <reason>` and exits 77 when it cannot create the
namespaces. Exits 0 if every check passed, 1 if one failed, 2 on a usage
error, 130 when interrupted. Everything it created (namespaces, bridge,
veths, node processes) is removed in any case.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable

SKIP_CODE = 77
HOSTS = 8
SUBNET = "10.231.0"
PORT = 4000
SEED = 0  # the host every other one bootstraps through
DIAL_OUT_ONLY = 7  # the host that does not listen
SIDE_A = [0, 1, 2, 3]
SIDE_B = [4, 5, 6, 7]
# Link impairments (netem on the host's end of its veth, so on what the host
# sends).
NETEM = {2: "delay 40ms loss 2%", 5: "delay 40ms loss 2%", 6: "delay 80ms loss 5%"}

T0 = time.monotonic()
# Every node process started, registered as soon as it exists, for cleanup.
STARTED: list[Node] = []


def log(msg: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def host_ip(i: int) -> str:
    return f"{SUBNET}.{i + 1}"


class DeadlineExceeded(Exception):
    pass


class Interrupted(BaseException):
    """Ctrl-C, SIGTERM or SIGHUP: stop and clean up."""


class Clock:
    """The whole test's deadline; every wait is capped by it."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    def cap(self, timeout: float) -> float:
        left = self.left()
        if left <= 0:
            raise DeadlineExceeded("the test's overall deadline passed")
        return min(timeout, left)

    def sleep(self, seconds: float) -> None:
        capped = self.cap(seconds)
        time.sleep(max(0.0, capped))
        if capped < seconds:
            raise DeadlineExceeded("the test's overall deadline passed")


CLOCK = Clock(300)


class CmdError(Exception):
    pass


def sh(*args: str, timeout: float = 15, check: bool = True) -> subprocess.CompletedProcess:
    try:
        p = subprocess.run(
            args, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise CmdError(f"`{' '.join(args)}` timed out after {timeout} s") from None
    except OSError as e:
        raise CmdError(f"`{' '.join(args)}`: {e}") from None
    if check and p.returncode != 0:
        why = (p.stderr.strip() or p.stdout.strip() or f"exit status {p.returncode}")
        raise CmdError(f"`{' '.join(args)}`: {why.splitlines()[-1]}")
    return p


# ----- the network ----------------------------------------------------------


class Net:
    """Namespaces PREFIX-h0..h7 and PREFIX-br. The bridge namespace holds two
    bridges: br0, which every host's port is on, and br1, which the ports of
    side B move to while the network is partitioned."""

    def __init__(self, prefix: str) -> None:
        self.br = f"{prefix}-br"
        self.hosts = [f"{prefix}-h{i}" for i in range(HOSTS)]
        self.created: list[str] = []
        self.netem_note = ""

    def add_ns(self, name: str) -> None:
        sh("ip", "netns", "add", name)
        self.created.append(name)

    def setup(self) -> None:
        """Namespaces, bridge, veths, addresses. Raises CmdError."""
        self.add_ns(self.br)
        for ns in self.hosts:
            self.add_ns(ns)
        br = self.br
        sh("ip", "-n", br, "link", "set", "lo", "up")
        for bridge in ("br0", "br1"):
            sh("ip", "-n", br, "link", "add", bridge, "type", "bridge")
            sh("ip", "-n", br, "link", "set", bridge, "up")
        for i, ns in enumerate(self.hosts):
            port = f"port{i}"
            # Both ends are created inside the namespaces: no name in the root
            # namespace is ever used.
            sh("ip", "-n", br, "link", "add", port, "type", "veth",
               "peer", "name", "eth0", "netns", ns)
            sh("ip", "-n", br, "link", "set", port, "master", "br0")
            sh("ip", "-n", br, "link", "set", port, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "addr", "add", f"{host_ip(i)}/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")

    def impair(self) -> None:
        """netem on some hosts; without tc or netem, a note and nothing."""
        if shutil.which("tc") is None:
            self.netem_note = "tc not found: no delay or loss emulated"
            return
        done = []
        for i, spec in NETEM.items():
            try:
                sh("ip", "netns", "exec", self.hosts[i], "tc", "qdisc", "add", "dev", "eth0",
                   "root", "netem", *spec.split())
            except CmdError as e:
                self.netem_note = f"netem unavailable ({e}): no delay or loss emulated"
                return
            done.append(f"h{i} {spec}")
        self.netem_note = "netem: " + ", ".join(done)

    def _move(self, hosts: list[int], bridge: str) -> None:
        for i in hosts:
            sh("ip", "-n", self.br, "link", "set", f"port{i}", "master", bridge)

    def partition(self) -> None:
        self._move(SIDE_B, "br1")

    def heal(self) -> None:
        self._move(SIDE_B, "br0")

    def teardown(self) -> list[str]:
        """Deletes every namespace created (with them go the veths and the
        bridges); returns the ones that could not be deleted."""
        left = []
        for ns in reversed(self.created):
            try:
                # Only this script starts processes in these namespaces (their
                # names hold its PID); any still there (a node whose Popen
                # was interrupted before it was registered) are ours.
                pids = sh("ip", "netns", "pids", ns, timeout=10, check=False).stdout.split()
                for pid in pids:
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except (ValueError, OSError):
                        pass
                sh("ip", "netns", "del", ns, timeout=10)
            except CmdError as e:
                left.append(f"{ns}: {e}")
        self.created = []
        return left


# ----- the nodes ------------------------------------------------------------


class Node:
    """One `shoutnet node` in host i's namespace. A thread reads its stdout
    into `lines` (time, text); commands are written to its stdin."""

    def __init__(self, i: int, ns: str, binary: str, logdir: str) -> None:
        self.i = i
        self.name = f"h{i}"
        self.key = ""
        self.address = ""
        self.lines: list[tuple[float, str]] = []
        self.eof = False
        self.cond = threading.Condition()
        args = ["node", "--local-network"]
        if i != DIAL_OUT_ONLY:
            args += ["--listen", f"{host_ip(i)}:{PORT}"]
        if i != SEED:
            args += ["--bootstrap", f"{host_ip(SEED)}:{PORT}"]
        self.argv = ["ip", "netns", "exec", ns, binary, *args]
        self.logpath = os.path.join(logdir, f"{self.name}.stderr.log")
        env = dict(os.environ)
        # The runtime's few debug lines (dial failures, closes and why).
        env.setdefault("RUST_LOG", "shoutnet_net=debug")
        with open(self.logpath, "w") as err:
            # A session of its own: a Ctrl-C at the terminal reaches only
            # this script, which then stops the nodes in order.
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                text=True, bufsize=1, env=env, start_new_session=True,
            )
        STARTED.append(self)
        self.reader = threading.Thread(target=self._read, name=f"read-{self.name}", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            for line in self.proc.stdout:
                with self.cond:
                    self.lines.append((time.monotonic(), line.rstrip("\n")))
                    self.cond.notify_all()
        except (OSError, ValueError):
            pass
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def mark(self) -> int:
        with self.cond:
            return len(self.lines)

    def send(self, command: str) -> int:
        """Writes a command; returns the mark of the lines before it."""
        m = self.mark()
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as e:
            raise NodeGone(f"{self.name}: cannot write to its console ({e}); "
                           f"exit status {self.proc.poll()}") from None
        return m

    def wait_line(self, pred: Callable[[str], bool], start: int,
                  timeout: float) -> tuple[float, str] | None:
        """The first line from `start` on that matches, or None after the
        timeout or when the node's stdout ended."""
        capped = CLOCK.cap(timeout)
        end = time.monotonic() + capped
        i = start
        with self.cond:
            while True:
                while i < len(self.lines):
                    t, line = self.lines[i]
                    if pred(line):
                        return t, line
                    i += 1
                if self.eof:
                    return None
                rest = end - time.monotonic()
                if rest <= 0:
                    if capped < timeout:
                        raise DeadlineExceeded("the test's overall deadline passed")
                    return None
                self.cond.wait(rest)

    def command(self, command: str, words: tuple[str, ...], timeout: float) -> str | None:
        """Sends a command and waits for its answer: the first later line
        whose first word is one of `words` (one command at a time per node,
        so an `error` line is this command's)."""
        m = self.send(command)
        got = self.wait_line(lambda l: l.split(" ", 1)[0] in words, m, timeout)
        return got[1] if got else None

    def count(self, pred: Callable[[str], bool], start: int = 0) -> int:
        with self.cond:
            return sum(1 for _, l in self.lines[start:] if pred(l))

    def tail(self, n: int = 20) -> list[str]:
        with self.cond:
            return [l for _, l in self.lines[-n:]]

    def stop(self) -> None:
        """`quit`, then SIGTERM, then SIGKILL, each with a short wait."""
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
            except (OSError, ValueError):
                pass
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    try:
                        self.proc.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass
        self.reader.join(timeout=2)


class NodeGone(Exception):
    pass


def token(kind: str) -> str:
    return f"{kind}-{secrets.token_hex(4)}"


def is_shout(text: str, origin: str | None = None) -> Callable[[str], bool]:
    def pred(line: str) -> bool:
        parts = line.split(" ", 2)
        return (len(parts) == 3 and parts[0] == "shout" and parts[2] == text
                and (origin is None or parts[1] == origin))
    return pred


# ----- checks ---------------------------------------------------------------


class Failed(Exception):
    """A check failed; the message says how."""


class Test:
    def __init__(self, net: Net, binary: str, logdir: str, hold: float) -> None:
        self.net = net
        self.binary = binary
        self.logdir = logdir
        self.hold = hold
        self.nodes: list[Node] = []
        self.results: list[tuple[str, str, float, str]] = []
        self.tails: dict[str, set[int]] = {}
        self.by_address: dict[str, str] = {}
        self.by_key: dict[str, str] = {}

    # -- bookkeeping

    def check(self, name: str, relevant: list[int], fn: Callable[[], str]) -> bool:
        """Runs one check; `fn` returns a detail or raises Failed."""
        log(f"check: {name}")
        start = time.monotonic()
        try:
            detail = fn()
            status = "PASS"
        except Failed as e:
            status, detail = "FAIL", str(e)
        except (NodeGone, OSError) as e:
            status, detail = "FAIL", f"{type(e).__name__}: {e}"
        except DeadlineExceeded as e:
            self.results.append((name, "FAIL", time.monotonic() - start, str(e)))
            self.tails[name] = set(relevant)
            raise
        took = time.monotonic() - start
        self.results.append((name, status, took, detail))
        log(f"  {status} ({took:.1f} s) {detail}")
        if status == "FAIL":
            self.tails[name] = set(relevant)
        return status == "PASS"

    def info(self, name: str, detail: str) -> None:
        self.results.append((name, "INFO", 0.0, detail))
        log(f"info: {name}: {detail}")

    def hosts(self, idx: list[int]) -> str:
        return ",".join(f"h{i}" for i in idx) or "-"

    def peer_names(self, addrs: list[str]) -> list[str]:
        return [self.by_address.get(a, a[:8] + "?") for a in addrs]

    def render(self, line: str) -> str:
        """A console line with each known key or address shortened and
        named: `down 342d5e65..(h4)`."""
        out = []
        for word in line.split(" "):
            name = self.by_address.get(word) or self.by_key.get(word)
            out.append(f"{word[:8]}..({name})" if name else word)
        return " ".join(out)

    def side(self, i: int) -> list[int]:
        return SIDE_A if i in SIDE_A else SIDE_B

    def far_ups(self, since: dict[int, int], t0: float) -> str:
        """For each node, the first `up` of a peer on the other side after
        `since`, in seconds after t0."""
        out = []
        for n in self.nodes:
            first = None
            for t, l in n.lines[since[n.i]:]:
                w = l.split()
                if len(w) == 2 and w[0] == "up":
                    name = self.by_address.get(w[1])
                    if name and int(name[1:]) not in self.side(n.i):
                        first = (t - t0, name)
                        break
            out.append(f"h{n.i}:" + (f"+{first[0]:.1f}s({first[1]})" if first else "none"))
        return " ".join(out)

    def snapshot(self, label: str) -> None:
        """`info` of every node: connections and routing table sizes."""
        answers = {}
        marks = {n.i: n.send("info") for n in self.nodes}
        for n in self.nodes:
            got = n.wait_line(lambda l: l.startswith("ok info") or l.startswith("error"),
                              marks[n.i], 10)
            w = got[1].split() if got else []
            if len(w) >= 7 and w[1] == "info":
                answers[n.i] = f"h{n.i}:conn={w[3]},table={w[5]},records={w[7]}"
            else:
                answers[n.i] = f"h{n.i}:{got[1] if got else 'no answer'}"
        self.info(f"{label}: info", " ".join(answers[i] for i in sorted(answers)))

    # -- helpers

    def peers(self, idx: list[int], timeout: float = 10) -> dict[int, list[str] | None]:
        """`peers` on each node at once: kept peers by host name."""
        marks = {i: self.nodes[i].send("peers") for i in idx}
        out: dict[int, list[str] | None] = {}
        for i in idx:
            got = self.nodes[i].wait_line(
                lambda l: l.startswith("ok peers") or l.startswith("error"), marks[i], timeout)
            if got and got[1].startswith("ok peers"):
                parts = got[1].split()
                out[i] = self.peer_names(parts[3:])
            else:
                out[i] = None
        return out

    def shout(self, src: int, targets: list[int], timeout: float = 20,
              forbidden: list[int] = (), optional: list[int] = (),
              once: bool = False) -> str:
        """A SHOUT from `src` must reach every target (exactly once if
        `once`) and no forbidden node."""
        text = token(f"shout-h{src}")
        node = self.nodes[src]
        watch = list(targets) + list(forbidden) + list(optional)
        marks = {i: self.nodes[i].mark() for i in watch}
        sent = time.monotonic()
        answer = node.command(f"shout {text}", ("ok", "error"), 15)
        if answer is None or not answer.startswith("ok shout sent on"):
            raise Failed(f"h{src} answered {answer!r} to shout")
        fanout = int(answer.split()[-1])
        if fanout == 0:
            raise Failed(f"h{src}: {answer!r}: no kept connection to flood over")
        pred = is_shout(text, node.key)
        end = time.monotonic() + timeout
        arrived: dict[int, float] = {}
        missing = []
        for i in targets:
            got = self.nodes[i].wait_line(pred, marks[i], max(0.0, end - time.monotonic()))
            if got:
                arrived[i] = got[0] - sent
            else:
                missing.append(i)
        CLOCK.sleep(2)  # late duplicates and leaks across the partition
        wrong_origin = [i for i in watch if self.nodes[i].count(is_shout(text), marks[i])
                        != self.nodes[i].count(pred, marks[i])]
        dups = {i: c for i in targets if (c := self.nodes[i].count(pred, marks[i])) > 1}
        leaked = [i for i in forbidden if self.nodes[i].count(is_shout(text), marks[i])]
        opt = [i for i in optional if self.nodes[i].count(pred, marks[i])]
        problems = []
        if missing:
            problems.append(f"did not reach {self.hosts(missing)} within {timeout:.0f} s")
        if once and dups:
            problems.append("duplicates: " + ", ".join(f"h{i}x{c}" for i, c in dups.items()))
        if leaked:
            problems.append(f"crossed the partition to {self.hosts(leaked)}")
        if wrong_origin:
            problems.append(f"wrong origin key at {self.hosts(wrong_origin)}")
        slowest = max(arrived.values(), default=0.0)
        detail = (f"sent on {fanout}; reached {self.hosts(sorted(arrived))} "
                  f"(slowest {slowest * 1000:.0f} ms)")
        if optional:
            detail += f"; optional {self.hosts(list(optional))}: " + (
                f"reached {self.hosts(opt)}" if opt else "not reached")
        if forbidden and not leaked:
            detail += f"; none at {self.hosts(list(forbidden))}"
        if problems:
            raise Failed(detail + "; " + "; ".join(problems))
        return detail

    def whisper(self, src: int, dst: int, encrypted: bool) -> str:
        verb = "whisper" if encrypted else "whisper-plain"
        mode = "encrypted" if encrypted else "plain"
        text = token(f"{mode}-h{src}-h{dst}")
        s, d = self.nodes[src], self.nodes[dst]
        m = d.mark()
        sent = time.monotonic()
        answer = s.command(f"{verb} {d.key} {text}", ("ok", "error"), 45)
        took = time.monotonic() - sent
        if answer is None or not answer.startswith("ok whisper delivered"):
            raise Failed(f"h{src} answered {answer!r} after {took:.1f} s")
        expect = f"whisper {s.key} {mode} {text}"
        got = d.wait_line(lambda l: l == expect, m, 10)
        if not got:
            with d.cond:
                other = [l for _, l in d.lines[m:] if text in l]
            raise Failed(f"{answer!r} but h{dst} printed no {expect[:40]}...; "
                         f"lines with the text: {other}")
        route = answer.split()[3] if len(answer.split()) > 3 else "?"
        return f"delivered ({route}) in {took:.2f} s, seen at h{dst}"

    def put(self, src: int, key: str, value: str, timeout: float = 60) -> str:
        answer = self.nodes[src].command(f"put {key} {value}", ("ok", "error"), timeout)
        if answer is None or not answer.startswith("ok put stored"):
            raise Failed(f"put on h{src} answered {answer!r}")
        stored = int(answer.split()[3])
        if stored < 1:
            raise Failed(f"put on h{src}: {answer!r}")
        return answer

    def get(self, at: int, key: str, value: str, timeout: float = 40) -> str | None:
        """The answer of one `get`; None if it is the expected `found`."""
        answer = self.nodes[at].command(f"get {key}", ("found", "missing", "error"), timeout)
        if answer == f"found {key} {value}":
            return None
        return repr(answer)

    def get_retrying(self, at: int, key: str, value: str, window: float,
                     every: float = 5) -> str:
        start = time.monotonic()
        tries = []
        while True:
            t = time.monotonic()
            bad = self.get(at, key, value)
            if bad is None:
                return (f"found at h{at} on try {len(tries) + 1}, "
                        f"{time.monotonic() - start:.1f} s after the first")
            tries.append(f"{t - start:.0f}s:{bad}")
            if time.monotonic() - start + every > window:
                raise Failed(f"not found at h{at} within {window:.0f} s; tries: "
                             + ", ".join(tries))
            CLOCK.sleep(every)

    # -- the test

    def start_nodes(self) -> str:
        ns = self.net.hosts
        self.nodes.append(Node(0, ns[0], self.binary, self.logdir))
        for i in range(1, HOSTS):
            if i == 1:
                # The seed listens before anyone bootstraps through it.
                got = self.nodes[0].wait_line(lambda l: l.startswith("listening"), 0, 20)
                if not got:
                    raise Failed(f"h0 printed no 'listening' line: {self.nodes[0].tail(5)}")
            self.nodes.append(Node(i, ns[i], self.binary, self.logdir))
        for n in self.nodes:
            got = n.wait_line(lambda l: l.startswith("key "), 0, 20)
            if not got:
                raise Failed(f"{n.name} printed no key (exit status {n.proc.poll()}); "
                             f"see {n.logpath}")
            n.key = got[1].split()[1]
            n.address = hashlib.sha256(bytes.fromhex(n.key)).hexdigest()
            self.by_address[n.address] = n.name
            self.by_key[n.key] = n.name
        for n in self.nodes:
            expect = f"listening {host_ip(n.i)}:{PORT}"
            if n.i != DIAL_OUT_ONLY and not n.wait_line(lambda l: l == expect, 0, 10):
                raise Failed(f"{n.name} printed no {expect!r}")
        joined = {}
        for n in self.nodes[1:]:
            got = n.wait_line(lambda l: l.startswith("joined") or l.startswith("error"), 0, 40)
            if not got or not got[1].startswith("joined"):
                raise Failed(f"{n.name}: {got[1] if got else 'no joined line'}")
            joined[n.name] = got[1].split()[1]
        if self.nodes[DIAL_OUT_ONLY].count(lambda l: l.startswith("listening")):
            raise Failed("the dial-out-only host printed a listening line")
        return "joined (table sizes): " + " ".join(f"{k}={v}" for k, v in joined.items())

    def wait_kept(self, idx: list[int], window: float = 60) -> str:
        start = time.monotonic()
        waiting = list(idx)
        last: dict[int, list[str] | None] = {}
        while True:
            last.update(self.peers(waiting))
            waiting = [i for i in waiting if not last.get(i)]
            if not waiting:
                took = time.monotonic() - start
                return f"after {took:.1f} s: " + "; ".join(
                    f"h{i}->{'/'.join(last[i] or [])}" for i in idx)
            if time.monotonic() - start > window:
                raise Failed(f"no kept peer within {window:.0f} s at {self.hosts(waiting)}")
            CLOCK.sleep(0.5)

    def partition_report(self, since: dict[int, int]) -> None:
        """Who noticed the partition (down lines) and what is kept now."""
        downs = []
        for n in self.nodes:
            side = SIDE_A if n.i in SIDE_A else SIDE_B
            far = [l.split()[1] for _, l in n.lines[since[n.i]:] if l.startswith("down ")]
            cross = [self.by_address.get(a, "?") for a in far]
            cross = [c for c in cross if c == "?" or int(c[1:]) not in side]
            downs.append(f"h{n.i}:{len(cross)}")
        self.info("partition: cross-side 'down' lines per node", " ".join(downs))
        kept = self.peers(list(range(HOSTS)))
        cross = []
        for i, names in kept.items():
            side = SIDE_A if i in SIDE_A else SIDE_B
            for p in names or []:
                if p.startswith("h") and int(p[1:]) not in side:
                    cross.append(f"h{i}->{p}")
        self.info("partition: kept connections still listed across the cut",
                  " ".join(cross) or "none")

    def run(self) -> None:
        everyone = list(range(HOSTS))
        if not self.check("start 8 nodes, 7 join through h0", everyone,
                          self.start_nodes):
            return
        if not self.check("every node has a kept connection (peers >= 1)", everyone,
                          lambda: self.wait_kept(everyone)):
            return

        self.info("hosts (key / routing address)", "; ".join(
            f"h{n.i} {n.key[:8]}/{n.address[:8]}" for n in self.nodes))
        self.snapshot("before the partition")
        others = [i for i in everyone if i != 3]
        self.check("(a) SHOUT from h3 reaches the 7 others exactly once", everyone,
                   lambda: self.shout(3, others, once=True))
        self.check("(b) WHISPER plain h1 -> h4", [1, 4],
                   lambda: self.whisper(1, 4, encrypted=False))
        self.check("(b) WHISPER encrypted h1 -> h4", [1, 4],
                   lambda: self.whisper(1, 4, encrypted=True))
        self.check("(b) WHISPER encrypted h1 -> h7 (dial-out-only)", [1, 7],
                   lambda: self.whisper(1, 7, encrypted=True))
        key, value = token("key"), token("value")
        if self.check("(c) put on h2", [2], lambda: self.put(2, key, value)):
            self.check("(c) get on h5 finds it", [2, 5],
                       lambda: self.get_retrying(5, key, value, window=20))
            self.check("(c) get on h7 (dial-out-only) finds it", [2, 7],
                       lambda: self.get_retrying(7, key, value, window=20))

        # -- partition
        marks = {n.i: n.mark() for n in self.nodes}
        self.net.partition()
        cut = time.monotonic()
        log(f"partition: {self.hosts(SIDE_A)} | {self.hosts(SIDE_B)} "
            "(ports of side B moved to a second bridge)")
        self.check("partition: SHOUT from h1 reaches h0,h2,h3 and not side B", SIDE_A + SIDE_B,
                   lambda: self.shout(1, [0, 2, 3], forbidden=SIDE_B))
        self.check("partition: SHOUT from h5 reaches h4,h6 (h7 optional), not side A",
                   SIDE_A + SIDE_B,
                   lambda: self.shout(5, [4, 6], optional=[7], forbidden=SIDE_A))
        key_a, value_a = token("keyA"), token("valueA")
        key_b, value_b = token("keyB"), token("valueB")

        def puts() -> str:
            # Both at once: a lookup that asks the far side waits for its
            # request timeouts.
            ma, mb = self.nodes[2].send(f"put {key_a} {value_a}"), \
                self.nodes[5].send(f"put {key_b} {value_b}")
            words = lambda l: l.startswith("ok") or l.startswith("error")
            ga = self.nodes[2].wait_line(words, ma, 60)
            gb = self.nodes[5].wait_line(words, mb, 60)
            answers = {"h2": ga[1] if ga else None, "h5": gb[1] if gb else None}
            bad = {k: v for k, v in answers.items()
                   if not v or not v.startswith("ok put stored") or v.split()[3] == "0"}
            if bad:
                raise Failed(f"answers {answers}")
            return "; ".join(f"{k}: {v}" for k, v in answers.items())
        put_ok = self.check("partition: put on h2 (side A) and on h5 (side B)", [2, 5], puts)
        rest = self.hold - (time.monotonic() - cut)
        if rest > 0:
            log(f"holding the partition {rest:.0f} s more ({self.hold:.0f} s in all; "
                "keepalive 30 s + ping timeout 10 s)")
            CLOCK.sleep(rest)
        self.partition_report(marks)
        self.snapshot("end of the partition")

        # -- heal
        heal_marks = {n.i: n.mark() for n in self.nodes}
        self.net.heal()
        healed = time.monotonic()
        log(f"healed after {healed - cut:.0f} s of partition")

        def shout_all() -> str:
            tries = []
            while True:
                try:
                    detail = self.shout(0, [i for i in everyone if i != 0], timeout=8)
                    return (f"try {len(tries) + 1}, {time.monotonic() - healed:.1f} s after "
                            f"healing: {detail}")
                except Failed as e:
                    tries.append(f"{time.monotonic() - healed:.0f}s: {e}")
                if time.monotonic() - healed > 60:
                    raise Failed("no SHOUT from h0 reached everyone within 60 s of healing; "
                                 + " | ".join(tries))
        self.check("heal: a SHOUT from h0 reaches all 7 others (within 60 s)",
                             everyone, shout_all)
        if put_ok:
            self.check("heal: get on h1 (side A) finds the side-B key put in the partition",
                       [1, 5], lambda: self.get_retrying(1, key_b, value_b, window=30))
            self.check("heal: get on h6 (side B) finds the side-A key put in the partition",
                       [2, 6], lambda: self.get_retrying(6, key_a, value_a, window=30))
        self.info("after healing: first 'up' of a far-side peer", self.far_ups(heal_marks, healed))
        self.snapshot("after healing")
        kept = self.peers(everyone)
        self.info("after healing: kept peers", "; ".join(
            f"h{i}->{'/'.join(v) if v else '-'}" for i, v in kept.items()))
        across = sorted({"-".join(sorted((f"h{i}", p), key=lambda h: int(h[1:])))
                         for i, v in kept.items() for p in v or []
                         if p.startswith("h") and int(p[1:]) not in self.side(i)},
                        key=lambda pair: [int(h[1:]) for h in pair.split("-")])
        self.info("after healing: kept connections across the former cut",
                  " ".join(across) or "none")

    def save_consoles(self) -> None:
        """Every node's console output, names added, next to its stderr."""
        for n in self.nodes:
            path = os.path.join(self.logdir, f"{n.name}.console.log")
            with open(path, "w") as f, n.cond:
                for t, line in n.lines:
                    f.write(f"{t - T0:8.3f} {self.render(line)}\n")

    def report(self) -> bool:
        print()
        print(f"{'check':<72} {'result':<6} {'time':>7}")
        print("-" * 88)
        for name, status, took, detail in self.results:
            t = f"{took:6.1f}s" if status != "INFO" else ""
            print(f"{name:<72} {status:<6} {t:>7}")
            if detail:
                print(f"    {detail}")
        failed = [r for r in self.results if r[1] == "FAIL"]
        if failed:
            relevant: set[int] = set()
            for name in self.tails:
                relevant |= self.tails[name]
            for i in sorted(relevant):
                if i < len(self.nodes):
                    n = self.nodes[i]
                    print(f"\n--- last 20 console lines of h{i} ({n.key[:16]}..., "
                          f"exit status {n.proc.poll()}; all of it in "
                          f"{self.logdir}/h{i}.console.log) ---")
                    for line in n.tail(20):
                        print(f"  {self.render(line)}")
        passed = sum(1 for r in self.results if r[1] == "PASS")
        print(f"\n{passed} passed, {len(failed)} failed")
        return not failed and passed > 0


# ----- main -----------------------------------------------------------------


def skip(reason: str) -> int:
    print(f"SKIP: {reason}", flush=True)
    return SKIP_CODE


def on_signal(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


def main() -> int:
    global CLOCK
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary", help="the shoutnet binary (target/debug/shoutnet)")
    parser.add_argument("--deadline", type=float, default=300,
                        help="seconds the whole test may take (default 300)")
    parser.add_argument("--partition-hold", type=float, default=45,
                        help="seconds the partition lasts, at least (default 45: longer "
                             "than keepalive 30 s + ping timeout 10 s)")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        print(f"error: {args.binary} is not an executable file", file=sys.stderr)
        return 2
    CLOCK = Clock(args.deadline)

    if not sys.platform.startswith("linux"):
        return skip(f"network namespaces need Linux, this is {sys.platform}")
    if os.geteuid() != 0:
        return skip("not root (creating network namespaces needs root)")
    if shutil.which("ip") is None:
        return skip("`ip` (iproute2) not found")

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    prefix = f"sn{os.getpid()}"
    net = Net(prefix)
    test: Test | None = None
    logdir = tempfile.mkdtemp(prefix=f"{prefix}-logs-")
    keep_logs = False
    code = 1
    try:
        try:
            net.setup()
        except CmdError as e:
            net.teardown()
            return skip(f"cannot build the namespaces: {e}")
        net.impair()
        log(f"network: namespaces {net.br} and {net.hosts[0]}..{net.hosts[-1]}, "
            f"{SUBNET}.1-{HOSTS}/24 on one bridge")
        log(net.netem_note)
        test = Test(net, binary, logdir, args.partition_hold)
        test.info("link impairment", net.netem_note)
        try:
            test.run()
        except DeadlineExceeded as e:
            log(f"stopped: {e}")
        except (NodeGone, CmdError) as e:
            test.results.append(("(test aborted)", "FAIL", 0.0, str(e)))
        ok = test.report()
        test.save_consoles()
        keep_logs = not ok
        code = 0 if ok else 1
        print(f"total {time.monotonic() - T0:.1f} s")
    except Interrupted as e:
        print(f"\ninterrupted ({e}); cleaning up", flush=True)
        keep_logs = True
        code = 130
    finally:
        # Nothing may stop the cleanup half-way.
        for s in old:
            signal.signal(s, signal.SIG_IGN)
        for n in STARTED:
            n.stop()
        left = net.teardown()
        for line in left:
            print(f"warning: could not delete namespace {line}", file=sys.stderr)
        if keep_logs:
            if test is not None and code == 130:
                test.save_consoles()
            print(f"node logs (console and stderr) kept in {logdir}")
        else:
            shutil.rmtree(logdir, ignore_errors=True)
        for s, h in old.items():
            signal.signal(s, h)
    return code


if __name__ == "__main__":
    sys.exit(main())
