//! Design notes and the attacks the machines defend against.
//!
//! # Command injection after STARTTLS (CVE-2011-0411, CVE-2021-38371)
//!
//! A man in the middle can append plaintext after `STARTTLS\r\n` (server
//! side) or after the server's `220` (client side); a careless
//! implementation keeps those bytes in its buffer and acts on them *after*
//! the handshake, as if they came over TLS. Both machines refuse: once the
//! 220 is sent (server) or parsed (client), any byte already buffered or
//! fed before `handle_tls_established` ends the session with
//! [`ConnectionError::PlaintextAfterStartTls`](crate::ConnectionError::PlaintextAfterStartTls).
//! The server still sends its 220 (the test `STARTTLS\r\nRSET\r\n` in one
//! read yields only the 220); the RSET is never answered.
//!
//! # SMTP smuggling (CVE-2023-51764/51765/51766)
//!
//! Servers that end DATA on `<LF>.<LF>`, `<CR>.<CR>` or similar let an
//! attacker hide a second transaction inside a message that a more careful
//! relay passed on as one. The server machine ends DATA only on the real
//! `<CRLF>.<CRLF>` (mailwire-line's `Unstuffer`), and by default refuses a
//! message holding a bare CR or LF with 550; the smuggled commands are
//! never executed. The client dot-stuffs with canonical CRLF line ends, so
//! what it sends can be read only one way.
//!
//! # Injection through the API
//!
//! Every value the serializers write is a validated type (`Host`,
//! `LocalPart`, `Mailbox`, `XText`, `EsmtpValue`, `Text`, ...): CR, LF and
//! NUL are refused when the value is built, so no field can carry a second
//! command.
//!
//! # Bounded memory
//!
//! Command lines (`Options::max_command_line`, 500 beyond it), SASL lines,
//! reply lines and reply line counts, message size (552), recipients (452
//! after the configured number, never below RFC 5321's 100), bad commands
//! (421 and close) and input held while the application decides
//! (`max_buffered`) are all capped. DATA and BDAT content streams out as
//! zero-copy chunks and is never held whole.
//!
//! # Decisions belong to the application
//!
//! MAIL, RCPT, end of data and each AUTH step are events the application
//! answers; the machine enforces order (503), limits and syntax. While a
//! decision is pending, the server reads no further command, so pipelined
//! replies always go out in order (RFC 2920 §3.2), and no timer runs
//! against the client.
//!
//! # Timeouts (RFC 5321 §4.5.3.2)
//!
//! The client arms one reply timer per awaited reply: 5 minutes for the
//! greeting, MAIL, RCPT and other commands, 2 for DATA initiation, 3 per
//! BDAT chunk reply, 10 for the end of data. The server waits 5 minutes for
//! a command or for more content. Timers live in a fixed array indexed by
//! a private enum; `poll_timeout` is their minimum.
