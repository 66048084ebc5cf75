//! Encoders: values to wire bytes, appended to a caller-owned `Vec<u8>`.
//!
//! Encoding cannot fail: every value was validated when it was built. The
//! message content of `RETR`/`TOP` is dot-stuffed with
//! [`mailwire_line::Stuffer`] by the server machine, chunk by chunk.

use std::io::Write as _;

use crate::types::*;

fn hex(digest: &[u8; 16], out: &mut Vec<u8>) {
    const H: &[u8; 16] = b"0123456789abcdef";
    for b in digest {
        out.push(H[usize::from(b >> 4)]);
        out.push(H[usize::from(b & 15)]);
    }
}

fn num(n: impl std::fmt::Display, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{n}");
}

impl Command<'_> {
    /// Appends the command line, CRLF included (RFC 1939 §3).
    ///
    /// ```
    /// use mailwire_pop3::Command;
    /// let mut out = Vec::new();
    /// Command::Top { msg: 1.try_into().unwrap(), lines: 10 }.encode(&mut out);
    /// assert_eq!(out, b"TOP 1 10\r\n");
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.keyword().as_bytes());
        match self {
            Command::User(a) => {
                out.push(b' ');
                out.extend_from_slice(a.as_bytes());
            }
            Command::Pass(t) => {
                out.push(b' ');
                out.extend_from_slice(t.as_bytes());
            }
            Command::Apop { name, digest } => {
                out.push(b' ');
                out.extend_from_slice(name.as_bytes());
                out.push(b' ');
                hex(digest, out);
            }
            Command::Auth {
                mechanism,
                initial_response,
            } => {
                out.push(b' ');
                out.extend_from_slice(mechanism.as_bytes());
                if let Some(ir) = initial_response {
                    out.push(b' ');
                    out.extend_from_slice(ir.as_bytes());
                }
            }
            Command::List(Some(n))
            | Command::Uidl(Some(n))
            | Command::Retr(n)
            | Command::Dele(n) => {
                out.push(b' ');
                num(n, out);
            }
            Command::Top { msg, lines } => {
                out.push(b' ');
                num(msg, out);
                out.push(b' ');
                num(lines, out);
            }
            Command::Lang(Some(a)) => {
                out.push(b' ');
                out.extend_from_slice(a.as_bytes());
            }
            Command::List(None)
            | Command::Uidl(None)
            | Command::Lang(None)
            | Command::Capa
            | Command::Stat
            | Command::Noop
            | Command::Rset
            | Command::Quit
            | Command::Stls
            | Command::Utf8 => {}
        }
        out.extend_from_slice(b"\r\n");
    }
}

impl StatusLine<'_> {
    /// Appends the status line, CRLF included (RFC 1939 §3, RFC 2449 §8).
    ///
    /// ```
    /// use mailwire_pop3::{ResponseCode, StatusLine};
    /// let mut out = Vec::new();
    /// StatusLine::err(Some(ResponseCode::InUse), "maildrop locked").encode(&mut out);
    /// assert_eq!(out, b"-ERR [IN-USE] maildrop locked\r\n");
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(match self.status {
            Status::Ok => b"+OK",
            Status::Err => b"-ERR",
        });
        if let Some(code) = &self.code {
            out.extend_from_slice(b" [");
            out.extend_from_slice(code.as_str().as_bytes());
            out.push(b']');
        }
        if !self.text.as_bytes().is_empty() {
            out.push(b' ');
            out.extend_from_slice(self.text.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }
}

impl Capability<'_> {
    /// Appends the capability line, CRLF included (RFC 2449 §6).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let per_user = |p: bool, out: &mut Vec<u8>| {
            if p {
                out.extend_from_slice(b" USER");
            }
        };
        match self {
            Capability::Top => out.extend_from_slice(b"TOP"),
            Capability::User => out.extend_from_slice(b"USER"),
            Capability::Sasl(mechs) => {
                out.extend_from_slice(b"SASL");
                for m in mechs {
                    out.push(b' ');
                    out.extend_from_slice(m.as_bytes());
                }
            }
            Capability::RespCodes => out.extend_from_slice(b"RESP-CODES"),
            Capability::LoginDelay { secs, per_user: p } => {
                out.extend_from_slice(b"LOGIN-DELAY ");
                num(secs, out);
                per_user(*p, out);
            }
            Capability::Pipelining => out.extend_from_slice(b"PIPELINING"),
            Capability::Expire {
                expire,
                per_user: p,
            } => {
                out.extend_from_slice(b"EXPIRE ");
                match expire {
                    Expire::Never => out.extend_from_slice(b"NEVER"),
                    Expire::Days(d) => num(d, out),
                }
                per_user(*p, out);
            }
            Capability::Uidl => out.extend_from_slice(b"UIDL"),
            Capability::Implementation(t) => {
                out.extend_from_slice(b"IMPLEMENTATION");
                if !t.as_bytes().is_empty() {
                    out.push(b' ');
                    out.extend_from_slice(t.as_bytes());
                }
            }
            Capability::Stls => out.extend_from_slice(b"STLS"),
            Capability::AuthRespCode => out.extend_from_slice(b"AUTH-RESP-CODE"),
            Capability::Utf8 { user } => {
                out.extend_from_slice(b"UTF8");
                per_user(*user, out);
            }
            Capability::Lang => out.extend_from_slice(b"LANG"),
            Capability::Other { tag, params } => {
                out.extend_from_slice(tag.as_bytes());
                for p in params {
                    out.push(b' ');
                    out.extend_from_slice(p.as_bytes());
                }
            }
        }
        out.extend_from_slice(b"\r\n");
    }
}

impl ScanListing {
    /// Appends `msg size` without CRLF (the text of `+OK` to `LIST msg`, or
    /// a listing line before its CRLF).
    pub fn encode(&self, out: &mut Vec<u8>) {
        num(self.msg, out);
        out.push(b' ');
        num(self.size, out);
    }
}

impl UidListing<'_> {
    /// Appends `msg unique-id` without CRLF.
    pub fn encode(&self, out: &mut Vec<u8>) {
        num(self.msg, out);
        out.push(b' ');
        out.extend_from_slice(self.uid.as_bytes());
    }
}

impl DropListing {
    /// Appends `count size` without CRLF (the text of `+OK` to `STAT`).
    pub fn encode(&self, out: &mut Vec<u8>) {
        num(self.count, out);
        out.push(b' ');
        num(self.size, out);
    }
}

/// Appends a SASL continuation line (RFC 5034 §4): `+ ` and the base64
/// challenge, CRLF included.
pub fn encode_continuation(challenge: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b"+ ");
    out.extend_from_slice(mailwire_sasl::framing::encode(challenge).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends one line of a multi-line answer, dot-stuffed (RFC 1939 §3),
/// CRLF included. The caller guarantees the line holds no CR or LF.
pub(crate) fn stuffed_line(line: &[u8], out: &mut Vec<u8>) {
    if line.first() == Some(&b'.') {
        out.push(b'.');
    }
    out.extend_from_slice(line);
    out.extend_from_slice(b"\r\n");
}
