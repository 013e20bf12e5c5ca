//! Implements docs/PROTOCOL.md §3 "Compression": the output limit. A receiver
//! stops decompressing as soon as the output would pass `max_decompressed`.
//!
//! Every streaming decoder in this crate is driven by [`run`] through the
//! [`Step`] trait: a sans-IO "consume some input, produce some output" call.
//! [`run`] never offers a decoder more output space than one byte past the
//! limit, and [`LimitedSink`] never grows its buffer past the limit, so a zip
//! bomb costs at most `limit + 1` bytes of decoder output and
//! `limit + CHUNK` bytes of memory (plus the decoder's own fixed state).

use crate::{Error, Method};

/// Size of the stack buffer a decoder writes into before the bytes are copied
/// to the output. 32 KiB is deflate's window: big enough that the per-call
/// overhead of the decoders is negligible, small enough for any stack.
pub(crate) const CHUNK: usize = 32 * 1024;

/// The smallest capacity the output buffer grows to, so that small outputs
/// do not reallocate for every chunk. It is capped by the limit like every
/// other growth step.
const MIN_CAPACITY: usize = 4 * 1024;

/// An output buffer that refuses to hold more than `limit` bytes, and grows
/// its allocation geometrically but never past `limit`.
#[derive(Debug)]
pub(crate) struct LimitedSink {
    buf: Vec<u8>,
    limit: usize,
    /// Every byte any decoder tried to push, accepted or not: what the limit
    /// actually cost. Tests use it to prove that decoders stopped early.
    offered: usize,
}

/// [`LimitedSink::push`] refused bytes that would have passed the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LimitExceeded;

/// How far one [`Step::step`] call got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Bytes of input consumed.
    pub(crate) consumed: usize,
    /// Bytes written to the start of the output slice.
    pub(crate) produced: usize,
    /// The decoder reached the end of its stream (trailer and checksum
    /// verified). Nothing more will be consumed or produced.
    pub(crate) done: bool,
}

/// A sans-IO decoder: the shape shared by flate2's `Decompress`, bzip2's
/// `Decompress` and lzma-rust2's `XzStream`.
pub(crate) trait Step {
    /// Consumes a prefix of `input` and writes up to `output.len()` bytes.
    ///
    /// `input` is everything not consumed yet, so a decoder that needs more
    /// input than it has is looking at a truncated stream.
    ///
    /// # Errors
    ///
    /// Any error means the data is corrupt; the caller does not look at it.
    fn step(&mut self, input: &[u8], output: &mut [u8]) -> Result<Progress, ()>;
}

impl LimitedSink {
    /// An empty sink that accepts at most `limit` bytes. Allocates nothing.
    pub(crate) const fn new(limit: usize) -> Self {
        Self {
            buf: Vec::new(),
            limit,
            offered: 0,
        }
    }

    /// Appends `data`, or refuses all of it if that would pass the limit.
    pub(crate) fn push(&mut self, data: &[u8]) -> Result<(), LimitExceeded> {
        self.offered = self.offered.saturating_add(data.len());
        let new_len = self
            .buf
            .len()
            .checked_add(data.len())
            .filter(|&len| len <= self.limit)
            .ok_or(LimitExceeded)?;
        if new_len > self.buf.capacity() {
            // Double, but never past the limit: the final allocation is at
            // most `limit` bytes, and at most twice the output.
            let target = new_len
                .max(self.buf.capacity().saturating_mul(2))
                .max(MIN_CAPACITY)
                .min(self.limit);
            self.buf.reserve_exact(target - self.buf.len());
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// How many more bytes the sink accepts.
    pub(crate) fn remaining(&self) -> usize {
        self.limit.saturating_sub(self.buf.len())
    }

    /// Bytes offered to [`LimitedSink::push`] so far, including refused ones.
    #[cfg(test)]
    pub(crate) fn offered(&self) -> usize {
        self.offered
    }

    /// Current allocation of the output buffer.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// The bytes accepted so far.
    pub(crate) fn into_vec(self) -> Vec<u8> {
        self.buf
    }
}

/// Runs `decoder` over `input` until its stream ends, collecting the output
/// in `sink`.
///
/// Each call offers the decoder at most `min(CHUNK, sink.remaining() + 1)`
/// bytes of output space, so the decoder can never produce more than one byte
/// past the limit before it is stopped, and no more input is read after that.
///
/// Returns how much of `input` the stream used; the caller decides what bytes
/// after the stream mean.
///
/// # Errors
///
/// [`Error::OutputLimit`] as soon as the output passes the limit,
/// [`Error::Corrupt`] if the decoder fails or cannot make progress (a
/// truncated stream).
pub(crate) fn run<D: Step>(
    method: Method,
    decoder: &mut D,
    input: &[u8],
    sink: &mut LimitedSink,
) -> Result<usize, Error> {
    let mut chunk = [0_u8; CHUNK];
    let mut pos = 0_usize;
    loop {
        let room = CHUNK.min(sink.remaining().saturating_add(1));
        let output = chunk.get_mut(..room).ok_or(Error::corrupt(method))?;
        let rest = input.get(pos..).ok_or(Error::corrupt(method))?;
        let progress = decoder
            .step(rest, output)
            .map_err(|()| Error::corrupt(method))?;
        let produced = output
            .get(..progress.produced)
            .ok_or(Error::corrupt(method))?;
        sink.push(produced)
            .map_err(|LimitExceeded| Error::limit(method, sink.limit))?;
        pos = pos
            .checked_add(progress.consumed)
            .filter(|&pos| pos <= input.len())
            .ok_or(Error::corrupt(method))?;
        if progress.done {
            return Ok(pos);
        }
        if progress.consumed == 0 && progress.produced == 0 {
            // There is always output space, so a decoder that neither reads
            // nor writes is waiting for input that does not exist.
            return Err(Error::corrupt(method));
        }
    }
}

/// Fails with [`Error::Corrupt`] unless the stream used all of `input`:
/// docs/PROTOCOL.md §3 allows exactly one stream with nothing after it.
pub(crate) fn expect_end(method: Method, used: usize, input: &[u8]) -> Result<(), Error> {
    if used == input.len() {
        Ok(())
    } else {
        Err(Error::corrupt(method))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A decoder that produces `total` zero bytes from no input at all, one
    /// output slice at a time: a perfect zip bomb. It counts what it wrote.
    struct Bomb {
        total: usize,
        written: usize,
    }

    impl Step for Bomb {
        fn step(&mut self, _input: &[u8], output: &mut [u8]) -> Result<Progress, ()> {
            let n = output.len().min(self.total - self.written);
            output.get_mut(..n).ok_or(())?.fill(0);
            self.written += n;
            Ok(Progress {
                consumed: 0,
                produced: n,
                done: self.written == self.total,
            })
        }
    }

    /// A decoder that consumes one byte per call and never finishes.
    struct Starved;

    impl Step for Starved {
        fn step(&mut self, input: &[u8], _output: &mut [u8]) -> Result<Progress, ()> {
            Ok(Progress {
                consumed: input.len().min(1),
                produced: 0,
                done: false,
            })
        }
    }

    #[test]
    fn sink_accepts_up_to_the_limit_exactly() {
        let mut sink = LimitedSink::new(10);
        assert_eq!(sink.push(b"12345"), Ok(()));
        assert_eq!(sink.push(b"67890"), Ok(()));
        assert_eq!(sink.remaining(), 0);
        assert_eq!(sink.push(b""), Ok(()));
        assert_eq!(sink.push(b"x"), Err(LimitExceeded));
        assert_eq!(sink.offered(), 11);
        assert_eq!(sink.into_vec(), b"1234567890");
    }

    #[test]
    fn sink_refuses_a_push_that_straddles_the_limit_whole() {
        let mut sink = LimitedSink::new(4);
        assert_eq!(sink.push(b"abc"), Ok(()));
        assert_eq!(sink.push(b"de"), Err(LimitExceeded));
        assert_eq!(sink.into_vec(), b"abc");
    }

    #[test]
    fn sink_never_allocates_past_the_limit() {
        for limit in [0, 1, 100, 4096, 5000, 100_000] {
            let mut sink = LimitedSink::new(limit);
            while sink.push(&[7; 333]).is_ok() {
                assert!(sink.capacity() <= limit, "limit {limit}");
            }
            assert!(sink.capacity() <= limit, "limit {limit}");
        }
    }

    #[test]
    fn sink_grows_geometrically() {
        let mut sink = LimitedSink::new(usize::MAX);
        let mut reallocations = 0;
        let mut capacity = sink.capacity();
        for _ in 0..10_000 {
            assert_eq!(sink.push(&[1; 100]), Ok(()));
            if sink.capacity() != capacity {
                reallocations += 1;
                capacity = sink.capacity();
            }
        }
        // 1,000,000 bytes from 4 KiB by doubling is 8 steps, plus the first.
        assert!(reallocations <= 10, "{reallocations} reallocations");
        assert!(sink.capacity() <= 2 * 1_000_000);
    }

    #[test]
    fn run_stops_a_bomb_one_byte_past_the_limit() {
        for limit in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 1 << 20] {
            let mut bomb = Bomb {
                total: usize::MAX,
                written: 0,
            };
            let mut sink = LimitedSink::new(limit);
            let result = run(Method::Zlib, &mut bomb, &[], &mut sink);
            assert_eq!(result, Err(Error::limit(Method::Zlib, limit)));
            assert_eq!(bomb.written, limit + 1, "limit {limit}");
            assert_eq!(sink.offered(), limit + 1, "limit {limit}");
            assert!(sink.capacity() <= limit);
        }
    }

    #[test]
    fn run_accepts_output_of_exactly_the_limit() {
        for total in [0, 1, CHUNK, 3 * CHUNK + 5] {
            let mut bomb = Bomb { total, written: 0 };
            let mut sink = LimitedSink::new(total);
            assert_eq!(run(Method::Bz2, &mut bomb, b"in", &mut sink), Ok(0));
            assert_eq!(sink.into_vec().len(), total);
        }
    }

    #[test]
    fn run_reports_a_decoder_that_runs_out_of_input_as_corrupt() {
        let mut sink = LimitedSink::new(100);
        let result = run(Method::Lzma, &mut Starved, b"abc", &mut sink);
        assert_eq!(result, Err(Error::corrupt(Method::Lzma)));
    }

    #[test]
    fn expect_end_refuses_trailing_bytes() {
        assert_eq!(expect_end(Method::Gzip, 3, b"abc"), Ok(()));
        assert_eq!(
            expect_end(Method::Gzip, 2, b"abc"),
            Err(Error::corrupt(Method::Gzip))
        );
    }
}
