//! Design notes: why the machines behave as they do, and which attacks
//! they defend against.
//!
//! # Plaintext after STLS (CVE-2011-0411 class)
//!
//! A client may pipeline commands behind `STLS`; an attacker on the path can
//! inject commands in plaintext that a careless server would run after the
//! TLS handshake, inside the protected session. The server sends `+OK`,
//! raises [`Event::StartTls`](crate::server::Event::StartTls) and stops
//! reading: any byte already buffered or fed before
//! `handle_tls_established` ends the session with
//! [`ConnectionError::PlaintextAfterStartTls`](crate::ConnectionError::PlaintextAfterStartTls).
//! The client does the same with the server's side (a forged response
//! queued behind the `+OK`).
//!
//! # Passwords in the clear
//!
//! `USER`/`PASS` and the SASL mechanisms that carry the password itself
//! (`PLAIN`, `LOGIN`) are neither offered nor accepted before TLS unless
//! [`server::Options::allow_plaintext_auth`](crate::server::Options::allow_plaintext_auth)
//! says so (RFC 2595 §2.4); the client will not send them either without
//! [`client::Options::allow_plaintext_auth`](crate::client::Options::allow_plaintext_auth).
//! `APOP`, `CRAM-MD5` and `SCRAM-SHA-256` never send the password. Passwords
//! travel in `Secret`, redacted in `Debug` and wiped on drop, and are
//! compared in constant time. `USER` always answers `+OK` for a
//! well-formed name, so the server does not reveal which names exist
//! (RFC 1939 §13).
//!
//! # Deletion only at QUIT
//!
//! `DELE` only marks (RFC 1939 §5). The marks reach the application in one
//! [`Event::Update`](crate::server::Event::Update), after `QUIT` in the
//! TRANSACTION state; a session that ends in any other way (EOF, timeout,
//! an error, [`Server::close_session`](crate::server::Server::close_session))
//! deletes nothing. Message numbers and sizes are fixed when the maildrop is
//! opened and stay so for the session, whatever arrives meanwhile.
//!
//! # Content is streamed, never held
//!
//! `RETR` and `TOP` content goes from the application to the wire chunk by
//! chunk through [`mailwire_line::Stuffer`] (CRLF line ends, leading dots
//! doubled), and from the wire to the application through
//! [`mailwire_line::Unstuffer`] as `Bytes` views of the receive buffer. Only
//! `<CRLF>.<CRLF>` ends a message: a bare LF before a dot does not (the
//! SMTP smuggling pattern cannot truncate a POP3 message either). `TOP` is
//! cut by the server machine, so the application simply streams the
//! message until `send_content` returns `false`.
//!
//! # Sizes
//!
//! RFC 1939 sizes count the message as sent, with CRLF line ends and before
//! dot-stuffing. A Maildir written with LF line ends is one octet smaller
//! per line on disk: [`WireSize`](crate::WireSize) counts it the way the
//! stuffer will send it.
//!
//! # Bounds
//!
//! Command lines, SASL lines, status and listing lines have limits (RFC 2449
//! §4: 255 and 512 octets, with room); input buffered while the application
//! decides is capped; a client caps listing entries and message size; a
//! session with too many bad commands is closed. The autologout timer
//! (RFC 1939 §3, 10 minutes) ends idle sessions without entering UPDATE.
