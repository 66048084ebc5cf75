//! The DEFLATE layer of IMAP COMPRESS=DEFLATE (RFC 4978): raw RFC 1951
//! streams (no zlib header or trailer), one per direction,
//! each write ended with a sync flush so that the server can decode each
//! command at once (RFC 4978 has each side flush after each command or
//! response).
//!
//! It sits between a machine and the connection (which does TLS and the
//! socket): the machine's output is deflated before it is written, the
//! bytes read are inflated before the machine sees them. The blocking and
//! tokio IMAP sessions put it under the client machine; a server puts it
//! under the server machine after `Event::Compress` (the mail server
//! example does). Inflating goes
//! into the caller's fixed buffer, one buffer at a time, so a server that
//! sends a tiny stream expanding to gigabytes (a "zip bomb") costs no more
//! memory than any read: the machine's own limits then apply to what it is
//! fed.

use std::io;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Size of one raw read from the connection while compression is on.
const RAW_READ: usize = 16 * 1024;

/// Both DEFLATE streams of a compressed session, and the compressed bytes
/// read and not yet inflated.
///
/// ```
/// use mailwire::blocking::Deflate;
/// let (mut client, mut server) = (Deflate::new(Vec::new()), Deflate::new(Vec::new()));
/// let mut wire = Vec::new();
/// client.compress(b"a1 NOOP\r\n", &mut wire)?;
/// // What a read from the socket brought goes into the input space.
/// server.input_space()[..wire.len()].copy_from_slice(&wire);
/// server.filled(wire.len());
/// let mut buf = [0u8; 64];
/// let n = server.inflate(&mut buf)?;
/// assert_eq!(&buf[..n], b"a1 NOOP\r\n");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Deflate {
    compress: Compress,
    decompress: Decompress,
    /// Compressed input; `input[pos..]` is not inflated yet.
    input: Vec<u8>,
    pos: usize,
    /// The last inflate filled the caller's buffer: the inflater may hold
    /// more output though all input is taken.
    out_full: bool,
}

impl std::fmt::Debug for Deflate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflate")
            .field("pending", &(self.input.len() - self.pos))
            .field("out_full", &self.out_full)
            .finish_non_exhaustive()
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("DEFLATE: {what}"))
}

impl Deflate {
    /// Both streams fresh; `leftover` is compressed data that came with the
    /// server's tagged OK to COMPRESS (the client machine's
    /// `take_compressed_input`; empty for a server), inflated before
    /// anything read later.
    pub fn new(leftover: Vec<u8>) -> Deflate {
        Deflate {
            // Level 6, zlib's default: most of the gain of 9 at a third of
            // the time. `false`: raw DEFLATE, no zlib wrapper (RFC 4978).
            compress: Compress::new(Compression::default(), false),
            decompress: Decompress::new(false),
            input: leftover,
            pos: 0,
            out_full: false,
        }
    }

    /// Deflates `data` and flushes (Z_SYNC_FLUSH), appending to `out`.
    pub fn compress(&mut self, data: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        let mut rest = data;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(rest.len() / 2 + 1024);
            }
            let before = self.compress.total_in();
            self.compress
                .compress_vec(rest, out, FlushCompress::Sync)
                .map_err(|e| invalid(&e.to_string()))?;
            let used = usize::try_from(self.compress.total_in() - before).unwrap_or(rest.len());
            rest = &rest[used.min(rest.len())..];
            // The flush is complete when all input is taken and the
            // output was not filled to the brim (zlib's `avail_out != 0`).
            if rest.is_empty() && out.len() < out.capacity() {
                return Ok(());
            }
        }
    }

    /// True while read bytes wait to be inflated, or output may be left
    /// from the last [`inflate`](Self::inflate): call it before reading more.
    pub fn has_pending(&self) -> bool {
        self.pos < self.input.len() || self.out_full
    }

    /// Where the next raw read goes (only when
    /// [`has_pending`](Self::has_pending) is false); then call
    /// [`filled`](Self::filled).
    pub fn input_space(&mut self) -> &mut [u8] {
        debug_assert!(self.pos >= self.input.len());
        self.input.clear();
        self.input.resize(RAW_READ, 0);
        self.pos = 0;
        &mut self.input
    }

    /// `n` bytes were read into [`input_space`](Self::input_space).
    pub fn filled(&mut self, n: usize) {
        self.input.truncate(n);
        self.pos = 0;
    }

    /// Inflates pending input into `out`; returns how many bytes. 0 means
    /// nothing is pending any more (the input was used up without output,
    /// e.g. a flush marker alone): read more. Never more than `out.len()`,
    /// whatever the input expands to.
    pub fn inflate(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.has_pending() {
            let (in0, out0) = (self.decompress.total_in(), self.decompress.total_out());
            let status = self
                .decompress
                .decompress(&self.input[self.pos..], out, FlushDecompress::None)
                .map_err(|e| invalid(&e.to_string()))?;
            let used = (self.decompress.total_in() - in0) as usize;
            let made = (self.decompress.total_out() - out0) as usize;
            self.pos += used;
            self.out_full = made == out.len() && made > 0;
            if made > 0 {
                return Ok(made);
            }
            if used == 0 && self.pos < self.input.len() {
                return Err(match status {
                    Status::StreamEnd => invalid("data after the end of the stream"),
                    _ => invalid("no progress"),
                });
            }
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server's side: its own DEFLATE stream, flushed per response.
    fn server() -> Deflate {
        Deflate::new(Vec::new())
    }

    fn inflate_all(d: &mut Deflate, wire: &[u8], piece: usize) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 100];
        for chunk in wire.chunks(piece.max(1)) {
            d.input_space()[..chunk.len()].copy_from_slice(chunk);
            d.filled(chunk.len());
            while d.has_pending() {
                let n = d.inflate(&mut buf).unwrap();
                got.extend_from_slice(&buf[..n]);
            }
        }
        got
    }

    #[test]
    fn each_write_is_decodable_at_once() {
        let mut s = server();
        let mut c = Deflate::new(Vec::new());
        let mut buf = [0u8; 4096];
        for line in [&b"* 1 EXISTS\r\n"[..], b"A1 OK done\r\n", &[b'x'; 3000]] {
            let mut wire = Vec::new();
            s.compress(line, &mut wire).unwrap();
            // The sync flush marker ends every write (RFC 1951 empty stored block).
            assert!(wire.ends_with(&[0, 0, 0xff, 0xff]));
            c.input_space()[..wire.len()].copy_from_slice(&wire);
            c.filled(wire.len());
            let n = c.inflate(&mut buf).unwrap();
            assert_eq!(&buf[..n], line);
        }
    }

    #[test]
    fn leftover_comes_first_and_any_split_inflates_the_same() {
        let text: Vec<u8> = (0..2000)
            .flat_map(|i| format!("* {i} FETCH (FLAGS (\\Seen))\r\n").into_bytes())
            .collect();
        let mut wire = Vec::new();
        server().compress(&text, &mut wire).unwrap();
        assert!(wire.len() < text.len() / 5);
        for piece in [1, 7, 100, wire.len()] {
            let mut c = Deflate::new(wire[..3].to_vec());
            let mut got = Vec::new();
            let mut buf = [0u8; 100];
            while c.has_pending() {
                let n = c.inflate(&mut buf).unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            got.extend(inflate_all(&mut c, &wire[3..], piece));
            assert!(
                got == text,
                "piece {piece}: {} of {}",
                got.len(),
                text.len()
            );
        }
    }

    #[test]
    fn a_bomb_is_inflated_one_buffer_at_a_time() {
        let mut wire = Vec::new();
        server().compress(&vec![b'A'; 8 << 20], &mut wire).unwrap();
        assert!(wire.len() < 16 << 10);
        let mut c = Deflate::new(wire);
        let mut buf = [0u8; 1024];
        let n = c.inflate(&mut buf).unwrap();
        assert_eq!(n, 1024);
        assert!(c.has_pending());
    }

    proptest::proptest! {
        /// Any writes, any split of the wire and any read size give the
        /// octets written, in order.
        #[test]
        fn any_split_and_read_size_round_trip(
            writes in proptest::collection::vec(proptest::collection::vec(0u8..4, 1..3000), 1..6),
            piece in 1usize..200,
            read in 1usize..300,
        ) {
            let mut s = server();
            let mut wire = Vec::new();
            for w in &writes {
                s.compress(w, &mut wire).unwrap();
            }
            let mut c = Deflate::new(Vec::new());
            let mut got = Vec::new();
            let mut buf = vec![0u8; read];
            for chunk in wire.chunks(piece) {
                c.input_space()[..chunk.len()].copy_from_slice(chunk);
                c.filled(chunk.len());
                while c.has_pending() {
                    let n = c.inflate(&mut buf).unwrap();
                    got.extend_from_slice(&buf[..n]);
                }
            }
            proptest::prop_assert_eq!(got, writes.concat());
        }
    }

    #[test]
    fn garbage_is_an_error() {
        let mut c = Deflate::new(vec![0xff; 64]);
        let mut buf = [0u8; 1024];
        assert_eq!(
            c.inflate(&mut buf).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }
}
