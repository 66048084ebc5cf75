//! Design notes: line ends, dot-stuffing and SMTP smuggling.
//!
//! This module holds no code. It records why [`LineFramer`](crate::LineFramer),
//! [`Unstuffer`](crate::Unstuffer) and [`Stuffer`](crate::Stuffer) behave as
//! they do, and which attacks those rules stop.
//!
//! # The rules
//!
//! RFC 5321 §4.5.2 (transparency) and RFC 1939 §3 (POP3 multi-line
//! responses) use the same scheme. The data is a sequence of lines, each
//! ending in CRLF. A line that starts with `.` gets one more `.` in front
//! when sent, and the receiver deletes the first `.` of such a line. The data
//! ends with a line holding only `.`: on the wire, `<CRLF>.<CRLF>`, where the
//! first CRLF ends the last content line and belongs to the content. When
//! the data is empty, the end is `.<CRLF>` as the very first line, right
//! after the line that opened the data (`DATA`, `+OK`).
//!
//! RFC 5321 §2.3.8 says CR and LF appear only together, as a line end. A
//! bare CR or bare LF is not a line end.
//!
//! # SMTP smuggling
//!
//! In 2023 SEC Consult showed that mail servers disagreed about where the
//! data ends. An outbound server (a relay, or a big provider) accepted some
//! sequence as content and passed it on unchanged. The inbound server took
//! the same sequence as the end of data and read what followed as new SMTP
//! commands. An attacker could thus put a whole second message,
//! `MAIL FROM`/`RCPT TO`/`DATA`, in the body of the first, sent "from" any
//! sender the relay is trusted for, passing SPF and DMARC checks. Examples:
//!
//! - CVE-2023-51764 (Postfix), CVE-2023-51765 (Sendmail), CVE-2023-51766
//!   (Exim): each accepted `<LF>.<CR><LF>` as the end of data where other
//!   popular servers did not, and so could be the inbound half of the
//!   attack (Exim in some PIPELINING/CHUNKING setups). Postfix answered with
//!   `smtpd_forbid_bare_newline`.
//!
//! Other variants found in the same research used `<CR>` instead of `<LF>`
//! (`<CR>.<CR><LF>`, `<CR><LF>.<CR>`), a NUL before the dot, or extra CRs.
//!
//! ## What the [`Unstuffer`](crate::Unstuffer) does
//!
//! 1. **Only the exact sequence ends the data.** The end is `<CRLF>.<CRLF>`
//!    (or `.<CRLF>` as the first line), where "CRLF" means the two bytes
//!    `0x0D 0x0A` next to each other. A line start is the byte after a real
//!    CRLF, or the first byte of the data, and nothing else. A bare LF or
//!    bare CR never starts a line, so `.` after it is content. That holds
//!    even when the bare byte is normalized to CRLF on output
//!    ([`BareEol::Normalize`](crate::BareEol::Normalize)): the `.` is kept
//!    and the following CRLF does not end the data.
//!
//!    None of these end the data: `\n.\n`, `\n.\r\n`, `\r.\r\n`,
//!    `\r\n.\n`, `\r\n.\r`, `\r.\r`, `\n.\r`, `\r.\n`, `\r\n\x00.\r\n`,
//!    `\r\n.\r\r\n`, `\r\r\n.\r\r\n`. The crate's tests send each one,
//!    followed by a pipelined `MAIL FROM`/`RCPT TO`/`DATA`, and check that
//!    the data ends exactly once, at the real end, with the pipelined bytes
//!    left in the buffer.
//!
//! 2. **Bare CR and LF are refused by default**
//!    ([`BareEol::Reject`](crate::BareEol::Reject)). A server that does not
//!    end the data at a smuggling sequence but stores it could still relay
//!    it to a server that does. So the verdict for the whole message is
//!    [`DataEnd::Rejected`](crate::DataEnd::Rejected), and the server
//!    answers 550 and stores nothing. Postfix's `smtpd_forbid_bare_newline`
//!    offers the same choice (reject, or normalize to CRLF), which
//!    [`BareEol::Normalize`](crate::BareEol::Normalize) mirrors.
//!
//! 3. **The verdict comes at the real end.** After a violation or an
//!    oversize body the unstuffer keeps consuming, dropping bytes without
//!    holding them, until the real `<CRLF>.<CRLF>`. Only then does it report.
//!    Answering earlier would make the server read the rest of the body as
//!    commands, the very thing smuggling wants.
//!
//! 4. **Bytes after the end stay in the buffer.** With PIPELINING (RFC 2920)
//!    the client may send the next `MAIL FROM` right behind the data. The
//!    unstuffer consumes exactly the end sequence and stops, so the command
//!    parser sees those bytes unchanged.
//!
//! ## What the [`Stuffer`](crate::Stuffer) does
//!
//! The sending side makes sure that no receiver, strict or lax, can find an
//! end anywhere but at the real one. Every bare CR and bare LF in the body
//! becomes CRLF, so the wire holds no bare line ends for a lax receiver to
//! misread. Every line start, the first line and the line after an empty
//! line included, has its `.` doubled. RUSTSEC-2021-0069 (lettre) was a
//! missed dot after a blank line, which let a body end the data early. All
//! mailwire clients and the POP3 server use this one encoder.
//!
//! # Line framing
//!
//! Commands and replies are lines of bounded length: 512 octets for a
//! command line (RFC 5321 §4.5.3.1.4), 1000 for a text line (§4.5.3.1.6),
//! 512 for a POP3 reply (RFC 2449 §3). The
//! [`LineFramer`](crate::LineFramer) reports a longer line once
//! ([`LineError::TooLong`](crate::LineError::TooLong)), drops the rest of it
//! as it arrives, and goes on with the next line. The server can then answer
//! 500 ("line too long") and continue, and the peer cannot make it buffer
//! without bound. A bare LF is not a line end by default
//! ([`BareLf::Reject`](crate::BareLf::Reject)): the line is reported and
//! dropped, so a command cannot hide inside another line.
//!
//! # Speed without copying
//!
//! The unstuffer never copies content. It splits runs of whole lines off
//! the receive buffer as [`Bytes`](bytes::Bytes) views, and removes a
//! doubled dot by dropping that one byte between two views. A run ends only
//! at a line that starts with `.`, at a bare CR or LF, or at the end of the
//! buffer. So a typical body of 10 MiB comes out in a few thousand chunks,
//! not one per line.
//!
//! Inside a run, 64-byte blocks are checked at once. Three bitmasks (CR, LF,
//! `.`) show whether every CR is followed by LF, every LF is preceded by CR,
//! and no `.` follows an LF. A block that passes is skipped whole. The
//! first block that fails hands over to an exact `memchr2` scan. The masks
//! use SSE2 on x86-64 (always present there), or AVX2 when the CPU has it,
//! and a portable loop elsewhere. These are the crate's only `unsafe` blocks:
//! vector loads from a borrowed 64-byte array, and the call into the AVX2
//! path after run-time detection. Tests compare every vector form with the
//! portable one. The property tests and fuzz targets check the whole decoder
//! against a byte-at-a-time model.
