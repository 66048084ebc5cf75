//! The COMPRESS=DEFLATE layer of an IMAP connection (RFC 4978): raw
//! DEFLATE (RFC 1951, no zlib header or trailer) both ways, under the
//! machine and over TLS (§3: compress first, then TLS). Every write is
//! flushed with a sync flush, so the client can decode each response as
//! it arrives (§4).
//!
//! Memory stays bounded whatever the client sends: input is inflated into
//! the caller's read buffer, one buffer at a time, and the compressed
//! octets held are at most one read's (a small input that inflates to
//! gigabytes is handed over piece by piece, and the machine's limits
//! judge it as plaintext).

use std::io;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// One connection's compressor and decompressor.
pub(crate) struct Deflate {
    compress: Compress,
    decompress: Decompress,
    /// Compressed input read but not inflated yet (from `pos`).
    input: Vec<u8>,
    pos: usize,
    /// The last inflate filled the buffer it was given: it may have more
    /// without further input.
    more: bool,
    /// The last inflate used no input and made no output: only more input
    /// can move it (cleared by [`Deflate::feed`]).
    stuck: bool,
    /// The client's stream ended (its final block): nothing follows.
    ended: bool,
}

impl std::fmt::Debug for Deflate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflate")
            .field("pending", &(self.input.len() - self.pos))
            .finish_non_exhaustive()
    }
}

/// The octets a flate2 call took and made, from its totals before.
fn moved(total_in: (u64, u64), total_out: (u64, u64)) -> (usize, usize) {
    let d = |(a, b): (u64, u64)| usize::try_from(b - a).unwrap_or(usize::MAX);
    (d(total_in), d(total_out))
}

impl Deflate {
    /// A fresh layer (zlib's default level 6, as Dovecot and Cyrus use).
    pub(crate) fn new() -> Self {
        Deflate {
            compress: Compress::new(Compression::default(), false),
            decompress: Decompress::new(false),
            input: Vec::new(),
            pos: 0,
            more: false,
            stuck: false,
            ended: false,
        }
    }

    /// Takes compressed octets read from below.
    pub(crate) fn feed(&mut self, data: &[u8]) {
        self.input.extend_from_slice(data);
        self.stuck = false;
    }

    /// Whether [`Deflate::inflate`] may give octets without more input.
    pub(crate) fn pending(&self) -> bool {
        !self.ended && (self.more || (self.pos < self.input.len() && !self.stuck))
    }

    /// Whether the client's stream ended with nothing more to inflate.
    pub(crate) fn ended(&self) -> bool {
        self.ended && !self.more
    }

    /// Inflates held input into `buf`: how many octets it made (0: it
    /// needs more input). A stream that is no DEFLATE is `InvalidData`.
    pub(crate) fn inflate(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.pending() || buf.is_empty() {
            return Ok(0);
        }
        let before = (self.decompress.total_in(), self.decompress.total_out());
        let status = self
            .decompress
            .decompress(&self.input[self.pos..], buf, FlushDecompress::None)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let (used, made) = moved(
            (before.0, self.decompress.total_in()),
            (before.1, self.decompress.total_out()),
        );
        self.pos += used;
        if self.pos >= self.input.len() {
            self.input.clear();
            self.pos = 0;
        }
        self.more = made == buf.len();
        self.stuck = used == 0 && made == 0;
        self.ended |= status == Status::StreamEnd;
        Ok(made)
    }

    /// Compresses `data` and flushes it (sync flush), handing the
    /// compressed octets to `send` piece by piece.
    pub(crate) fn deflate(
        &mut self,
        data: &[u8],
        mut send: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut chunk = [0u8; 8192];
        let mut rest = data;
        loop {
            let before = (self.compress.total_in(), self.compress.total_out());
            self.compress
                .compress(rest, &mut chunk, FlushCompress::Sync)
                .map_err(io::Error::other)?;
            let (used, made) = moved(
                (before.0, self.compress.total_in()),
                (before.1, self.compress.total_out()),
            );
            rest = &rest[used..];
            if made > 0 {
                send(&chunk[..made])?;
            }
            // zlib's rule: the flush is complete once a call leaves room
            // in its output.
            if rest.is_empty() && made < chunk.len() {
                return Ok(());
            }
            if used == 0 && made == 0 {
                return Err(io::Error::other("the compressor made no progress"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn compressed(z: &mut Deflate, data: &[u8]) -> Vec<u8> {
        let mut wire = Vec::new();
        z.deflate(data, |p| {
            wire.extend_from_slice(p);
            Ok(())
        })
        .unwrap();
        wire
    }

    /// Everything `z` inflates from `wire` fed in pieces of `split`, read
    /// into buffers of `buf` octets.
    fn inflated(z: &mut Deflate, wire: &[u8], split: usize, buf: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut b = vec![0u8; buf];
        for piece in wire.chunks(split.max(1)) {
            z.feed(piece);
            loop {
                let n = z.inflate(&mut b).unwrap();
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&b[..n]);
            }
            assert!(!z.pending());
        }
        out
    }

    /// Each write is decodable at once (sync flush): the reader gets a
    /// response whole before the next is written.
    #[test]
    fn each_write_flushed() {
        let (mut tx, mut rx) = (Deflate::new(), Deflate::new());
        for line in [&b"* 1 EXISTS\r\n"[..], b"a OK done\r\n", &[b'x'; 100_000]] {
            let wire = compressed(&mut tx, line);
            assert_eq!(inflated(&mut rx, &wire, wire.len(), 4096), line);
        }
    }

    /// A small input that inflates to much more comes out one buffer at a
    /// time; the layer holds only the compressed octets.
    #[test]
    fn bomb_comes_in_bounded_pieces() {
        let mut tx = Deflate::new();
        let wire = compressed(&mut tx, &vec![b'a'; 20 << 20]);
        assert!(wire.len() < 64 << 10, "{}", wire.len());
        let mut rx = Deflate::new();
        rx.feed(&wire);
        let mut b = vec![0u8; 16 << 10];
        let mut total = 0;
        while rx.pending() {
            let n = rx.inflate(&mut b).unwrap();
            assert!(rx.input.capacity() <= wire.len().max(64));
            total += n;
        }
        assert_eq!(total, 20 << 20);
    }

    #[test]
    fn junk_is_invalid_data() {
        let mut rx = Deflate::new();
        rx.feed(b"a1 NOOP\r\n");
        let err = rx.inflate(&mut [0u8; 64]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    proptest! {
        /// Any split of the compressed stream and any read size give the
        /// octets written, in order.
        #[test]
        fn any_split_round_trips(
            writes in proptest::collection::vec(proptest::collection::vec(0u8..4, 0..3000), 1..6),
            split in 1usize..200,
            buf in 1usize..300,
        ) {
            let mut tx = Deflate::new();
            let mut wire = Vec::new();
            for w in writes.iter().filter(|w| !w.is_empty()) {
                wire.extend(compressed(&mut tx, w));
            }
            let got = inflated(&mut Deflate::new(), &wire, split, buf);
            prop_assert_eq!(got, writes.concat());
        }
    }
}
