//! A message body as the application pushes it: a queue of chunks, and
//! the CRLF canonicalisation BDAT needs (RFC 3030 §3), chunk by chunk and
//! without copying chunks that are already canonical.

use std::collections::VecDeque;

use bytes::Bytes;

/// The chunks of one message handed in and not yet taken by the machine.
#[derive(Debug, Default)]
pub(super) struct Body {
    chunks: VecDeque<Bytes>,
    /// Octets in `chunks`.
    len: usize,
    /// The application said the body is complete.
    pub(super) ended: bool,
    /// The transaction cannot succeed any more (or was aborted): chunks
    /// pushed from now on are dropped.
    discarding: bool,
}

impl Body {
    /// A body given whole.
    pub(super) fn whole(b: Bytes) -> Body {
        let mut body = Body::default();
        body.push(b);
        body.ended = true;
        body
    }

    pub(super) fn push(&mut self, b: Bytes) {
        if self.discarding || b.is_empty() {
            return;
        }
        self.len += b.len();
        self.chunks.push_back(b);
    }

    /// At most `max` octets from the front (a slice of the pushed chunk,
    /// never a copy).
    pub(super) fn pop(&mut self, max: usize) -> Option<Bytes> {
        let front = self.chunks.front_mut()?;
        let b = if front.len() <= max {
            self.chunks.pop_front()?
        } else {
            front.split_to(max)
        };
        self.len -= b.len();
        Some(b)
    }

    /// Drops what is buffered and everything pushed later.
    pub(super) fn discard(&mut self) {
        self.chunks.clear();
        self.len = 0;
        self.discarding = true;
    }

    pub(super) fn is_discarding(&self) -> bool {
        self.discarding
    }

    /// Octets buffered.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Nothing more will come out: ended (or discarded) and empty.
    pub(super) fn is_drained(&self) -> bool {
        (self.ended || self.discarding) && self.chunks.is_empty()
    }
}

/// Makes every bare CR and bare LF a CRLF across chunk boundaries, with
/// the same rules as [`mailwire_line::Stuffer`] (a CR ending one chunk and
/// an LF starting the next are one CRLF), so DATA and BDAT deliver the
/// same content. Canonical chunks pass through as they are.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Canon {
    /// The last octet was a CR, already written as CRLF.
    skip_lf: bool,
}

/// The index of the first bare CR or LF (a CR ending `b` counts).
fn first_bare(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(p) = memchr::memchr2(b'\r', b'\n', &b[i..]) {
        let p = i + p;
        if b[p] == b'\r' && b.get(p + 1) == Some(&b'\n') {
            i = p + 2;
        } else {
            return Some(p);
        }
    }
    None
}

impl Canon {
    /// Appends the canonical form of `c` to `out`; returns its length.
    pub(super) fn push(&mut self, mut c: Bytes, out: &mut VecDeque<Bytes>) -> usize {
        if c.is_empty() {
            return 0;
        }
        if std::mem::take(&mut self.skip_lf) && c[0] == b'\n' {
            c = c.slice(1..);
            if c.is_empty() {
                return 0;
            }
        }
        let n = c.len();
        match first_bare(&c) {
            None => {
                out.push_back(c);
                n
            }
            Some(p) if p + 1 == n && c[p] == b'\r' => {
                out.push_back(c);
                out.push_back(Bytes::from_static(b"\n"));
                self.skip_lf = true;
                n + 1
            }
            Some(_) => {
                let mut v = Vec::with_capacity(n + n / 16 + 2);
                let mut i = 0;
                while i < n {
                    match c[i] {
                        b'\r' => {
                            v.extend_from_slice(b"\r\n");
                            match c.get(i + 1) {
                                Some(b'\n') => i += 1,
                                None => self.skip_lf = true,
                                Some(_) => {}
                            }
                        }
                        b'\n' => v.extend_from_slice(b"\r\n"),
                        b => v.push(b),
                    }
                    i += 1;
                }
                let len = v.len();
                out.push_back(Bytes::from(v));
                len
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn canon_all(pieces: &[&[u8]]) -> Vec<u8> {
        let mut c = Canon::default();
        let mut q = VecDeque::new();
        let mut n = 0;
        for p in pieces {
            n += c.push(Bytes::copy_from_slice(p), &mut q);
        }
        let out: Vec<u8> = q.iter().flat_map(|b| b.iter().copied()).collect();
        assert_eq!(out.len(), n);
        out
    }

    #[test]
    fn rfc3030_3_canonical_crlf() {
        assert_eq!(canon_all(&[b"a\r\nb\r\n"]), b"a\r\nb\r\n");
        assert_eq!(canon_all(&[b"a\nb\rc"]), b"a\r\nb\r\nc");
        assert_eq!(canon_all(&[b"a\r", b"\nb"]), b"a\r\nb");
        assert_eq!(canon_all(&[b"a\r", b"b"]), b"a\r\nb");
        assert_eq!(canon_all(&[b"a\r", b"", b"\n"]), b"a\r\n");
        assert_eq!(canon_all(&[b"\r\r", b"\n\n"]), b"\r\n\r\n\r\n");
    }

    #[test]
    fn canonical_chunks_are_not_copied() {
        let b = Bytes::from_static(b"line\r\nline\r\n");
        let mut q = VecDeque::new();
        Canon::default().push(b.clone(), &mut q);
        assert_eq!(q[0].as_ptr(), b.as_ptr());
    }

    #[test]
    fn pop_slices_without_copy() {
        let b = Bytes::from_static(b"0123456789");
        let mut body = Body::whole(b.clone());
        let first = body.pop(4).unwrap();
        assert_eq!(first.as_ptr(), b.as_ptr());
        assert_eq!(body.len(), 6);
        assert_eq!(&body.pop(100).unwrap()[..], b"456789");
        assert!(body.is_drained());
    }

    proptest! {
        /// Any chunking gives what the DATA stuffer delivers (its output
        /// unstuffed is the canonical content) and what one chunk gives.
        #[test]
        fn any_chunking_same_canonical_form(
            data in proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), Just(b'a')], 0..64),
            cuts in proptest::collection::vec(0usize..64, 0..6),
        ) {
            let whole = canon_all(&[&data]);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut pieces: Vec<&[u8]> = Vec::new();
            let mut at = 0;
            for c in cuts {
                pieces.push(&data[at..c]);
                at = c;
            }
            pieces.push(&data[at..]);
            prop_assert_eq!(canon_all(&pieces), whole.clone());
            prop_assert!(first_bare(&whole).is_none());
            // The stuffer's content (without dot-stuffing and terminator) is the same.
            let mut s = mailwire_line::Stuffer::new();
            let mut stuffed = Vec::new();
            s.push(&data, &mut stuffed);
            let unstuffed: Vec<u8> = String::from_utf8_lossy(&stuffed).replace("\r\n..", "\r\n.").into_bytes();
            let unstuffed = unstuffed.strip_prefix(b"..").map(|r| { let mut v = b".".to_vec(); v.extend_from_slice(r); v }).unwrap_or(unstuffed);
            prop_assert_eq!(unstuffed, whole);
        }
    }
}
