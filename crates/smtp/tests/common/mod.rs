//! Shared test data: RFC transcripts and helpers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

/// RFC 5321 Appendix D.1, verbatim.
pub(crate) const RFC5321_D_1: &str = "
      S: 220 foo.com Simple Mail Transfer Service Ready
      C: EHLO bar.com
      S: 250-foo.com greets bar.com
      S: 250-8BITMIME
      S: 250-SIZE
      S: 250-DSN
      S: 250 HELP
      C: MAIL FROM:<Smith@bar.com>
      S: 250 OK
      C: RCPT TO:<Jones@foo.com>
      S: 250 OK
      C: RCPT TO:<Green@foo.com>
      S: 550 No such user here
      C: RCPT TO:<Brown@foo.com>
      S: 250 OK
      C: DATA
      S: 354 Start mail input; end with <CRLF>.<CRLF>
      C: Blah blah blah...
      C: ...etc. etc. etc.
      C: .
      S: 250 OK
      C: QUIT
      S: 221 foo.com Service closing transmission channel
";

/// RFC 5321 Appendix D.2, verbatim.
pub(crate) const RFC5321_D_2: &str = "
      S: 220 foo.com Simple Mail Transfer Service Ready
      C: EHLO bar.com
      S: 250-foo.com greets bar.com
      S: 250-8BITMIME
      S: 250-SIZE
      S: 250-DSN
      S: 250 HELP
      C: MAIL FROM:<Smith@bar.com>
      S: 250 OK
      C: RCPT TO:<Jones@foo.com>
      S: 250 OK
      C: RCPT TO:<Green@foo.com>
      S: 550 No such user here
      C: RSET
      S: 250 OK
      C: QUIT
      S: 221 foo.com Service closing transmission channel
";

/// RFC 5321 Appendix D.3, step 1, verbatim.
pub(crate) const RFC5321_D_3: &str = "
      S: 220 foo.com Simple Mail Transfer Service Ready
      C: EHLO bar.com
      S: 250-foo.com greets bar.com
      S: 250-8BITMIME
      S: 250-SIZE
      S: 250-DSN
      S: 250 HELP
      C: MAIL FROM:<JQP@bar.com>
      S: 250 OK
      C: RCPT TO:<Jones@XYZ.COM>
      S: 250 OK
      C: DATA
      S: 354 Start mail input; end with <CRLF>.<CRLF>
      C: Date: Thu, 21 May 1998 05:33:29 -0700
      C: From: John Q. Public <JQP@bar.com>
      C: Subject: The Next Meeting of the Board
      C: To: Jones@xyz.com
      C:
      C: Bill:
      C: The next meeting of the board of directors will be
      C: on Tuesday.
      C: John.
      C: .
      S: 250 OK
      C: QUIT
      S: 221 foo.com Service closing transmission channel
";

/// RFC 5321 Appendix D.4, verbatim.
pub(crate) const RFC5321_D_4: &str = "
      S: 220 foo.com Simple Mail Transfer Service Ready
      C: EHLO bar.com
      S: 250-foo.com greets bar.com
      S: 250-8BITMIME
      S: 250-SIZE
      S: 250-DSN
      S: 250-VRFY
      S: 250 HELP
      C: VRFY Crispin
      S: 250 Mark Crispin <Admin.MRC@foo.com>
      C: MAIL FROM:<EAK@bar.com>
      S: 250 OK
      C: RCPT TO:<Admin.MRC@foo.com>
      S: 250 OK
      C: DATA
      S: 354 Start mail input; end with <CRLF>.<CRLF>
      C: Blah blah blah...
      C: ...etc. etc. etc.
      C: .
      S: 250 OK
      C: QUIT
      S: 221 foo.com Service closing transmission channel
";

/// RFC 2920 §3.1 (pipelined, all recipients accepted), verbatim (the
/// message body line elided in the RFC is one line here).
pub(crate) const RFC2920_3_1: &str = "
   S: 220 innosoft.com SMTP service ready
   C: EHLO dbc.mtview.ca.us
   S: 250-innosoft.com
   S: 250 PIPELINING
   C: MAIL FROM:<mrose@dbc.mtview.ca.us>
   C: RCPT TO:<ned@innosoft.com>
   C: RCPT TO:<dan@innosoft.com>
   C: RCPT TO:<kvc@innosoft.com>
   C: DATA
   S: 250 sender <mrose@dbc.mtview.ca.us> OK
   S: 250 recipient <ned@innosoft.com> OK
   S: 250 recipient <dan@innosoft.com> OK
   S: 250 recipient <kvc@innosoft.com> OK
   S: 354 enter mail, end with line containing only \".\"
   C: Hello.
   C: .
   C: QUIT
   S: 250 message sent
   S: 221 goodbye
";

/// RFC 2920 §3.2 (every recipient refused, DATA refused), verbatim.
pub(crate) const RFC2920_3_2: &str = "
   S: 220 innosoft.com SMTP service ready
   C: EHLO dbc.mtview.ca.us
   S: 250-innosoft.com
   S: 250 PIPELINING
   C: MAIL FROM:<mrose@dbc.mtview.ca.us>
   C: RCPT TO:<nsb@thumper.bellcore.com>
   C: RCPT TO:<galvin@tis.com>
   C: DATA
   S: 250 sender <mrose@dbc.mtview.ca.us> OK
   S: 550 remote mail to <nsb@thumper.bellore.com> not allowed
   S: 550 remote mail to <galvin@tis.com> not allowed
   S: 554 no valid recipients given
   C: QUIT
   S: 221 goodbye
";

/// RFC 3030 §4.1 (BDAT), with the RFC's `R:`/`S:` renamed `S:`/`C:` and
/// the `<CR><LF>` markers as real line ends (86 octets).
pub(crate) const RFC3030_4_1: &str = "
   S: 220 cnri.reston.va.us SMTP service ready
   C: EHLO ymir.claremont.edu
   S: 250-cnri.reston.va.us says hello
   S: 250 CHUNKING
   C: MAIL FROM:<Sam@Random.com>
   S: 250 <Sam@Random.com> Sender ok
   C: RCPT TO:<Susan@Random.com>
   S: 250 <Susan@random.com> Recipient ok
   C: BDAT 86 LAST
   C: To: Susan@random.com
   C: From: Sam@random.com
   C: Subject: This is a bodyless test message
   S: 250 Message OK, 86 octets received
   C: QUIT
   S: 221 Goodbye
";

/// RFC 4954 §4 example 1 (after the TLS layer), AUTH PLAIN with an
/// initial response.
pub(crate) const RFC4954_4_PLAIN_IR: &str = "
   S: 220 smtp.example.com ESMTP Server
   C: EHLO client.example.com
   S: 250-smtp.example.com Hello client.example.com
   S: 250 AUTH GSSAPI DIGEST-MD5 PLAIN
   C: AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=
   S: 235 2.7.0 Authentication successful
";

/// RFC 4954 §4 example 2: AUTH PLAIN with an empty challenge.
pub(crate) const RFC4954_4_PLAIN: &str = "
   S: 220 smtp.example.com ESMTP Server
   C: EHLO client.example.com
   S: 250-smtp.example.com Hello client.example.com
   S: 250 AUTH GSSAPI DIGEST-MD5 PLAIN
   C: AUTH PLAIN
   S: 334
   C: dGVzdAB0ZXN0ADEyMzQ=
   S: 235 2.7.0 Authentication successful
";

/// RFC 4954 §4 example 3: CRAM-MD5 (the challenge line wrapped in the RFC
/// is one line here).
pub(crate) const RFC4954_4_CRAM: &str = "
   S: 220 smtp.example.com ESMTP Server
   C: EHLO client.example.com
   S: 250-smtp.example.com Hello client.example.com
   S: 250-AUTH DIGEST-MD5 CRAM-MD5
   S: 250-ENHANCEDSTATUSCODES
   S: 250 STARTTLS
   C: AUTH CRAM-MD5
   S: 334 PDQxOTI5NDIzNDEuMTI4Mjg0NzJAc291cmNlZm91ci5hbmRyZXcuY211LmVkdT4=
   C: cmpzMyBlYzNhNTlmZWQzOTVhYmExZWM2MzY3YzRmNGI0MWFjMA==
   S: 235 2.7.0 Authentication successful
";

/// RFC 3461 §6.2 style DSN request (the RFC shows the commands only).
pub(crate) const RFC3461_DSN: &str = "
   S: 220 Example.COM ESMTP
   C: EHLO Example.ORG
   S: 250-Example.COM
   S: 250 DSN
   C: MAIL FROM:<Alice@Example.ORG> RET=HDRS ENVID=QQ314159
   S: 250 sender okay
   C: RCPT TO:<Bob@Example.COM> NOTIFY=SUCCESS ORCPT=rfc822;Bob@Example.COM
   S: 250 recipient okay
   C: RCPT TO:<Fred@Bombs.AF.MIL> NOTIFY=NEVER
   S: 250 recipient okay
   C: DATA
   S: 354 okay, send message
   C: Subject: dsn
   C:
   C: hi
   C: .
   S: 250 message accepted
   C: QUIT
   S: 221 bye
";

/// The reply codes in a block of server bytes.
pub(crate) fn reply_codes(mut bytes: &[u8]) -> Vec<u16> {
    let mut v = Vec::new();
    while !bytes.is_empty() {
        match mailwire_smtp::reply_frame(bytes, 100_000, 10_000) {
            Ok(mailwire_smtp::Status::Complete(n)) => {
                let r = mailwire_smtp::parse_reply(&bytes[..n]).expect("reply parses");
                v.push(r.code().get());
                bytes = &bytes[n..];
            }
            other => panic!(
                "cannot frame {:?}: {other:?}",
                String::from_utf8_lossy(bytes)
            ),
        }
    }
    v
}
