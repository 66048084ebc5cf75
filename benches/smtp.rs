//! SMTP: command and reply parsing, mailwire-smtp against smtp-proto on
//! identical input in the same run; and the client state machine driving
//! 10,000 pipelined transactions against the server state machine in
//! memory.
//!
//! - `smtp_commands`: a session's worth of command lines (EHLO, MAIL with
//!   ESMTP parameters, RCPT with DSN parameters, DATA, BDAT, RSET, NOOP,
//!   AUTH, VRFY, QUIT), each parsed to a typed value by both libraries.
//!   mailwire frames each line with `command_frame` and parses it zero-copy;
//!   smtp-proto parses from an iterator up to the LF. Then each command
//!   on its own, interleaved the same way, with a note where a library
//!   refuses the command.
//! - `smtp_replies`: single- and multi-line replies with enhanced status
//!   codes, and EHLO replies; mailwire frames with `reply_frame` and parses
//!   with `parse_reply`, smtp-proto uses `ResponseReceiver`. EHLO replies:
//!   mailwire frames, checks and reads them into `Capabilities` in one pass
//!   with `ehlo_frame`, smtp-proto with `EhloResponse::parse` (which also
//!   frames and reads in one pass); an extra line gives mailwire's
//!   three-step way (`reply_frame`, `parse_reply`, `Capabilities::from_ehlo`).
//! - `smtp_pair`: 10,000 transactions (2 recipients, 1 KiB message each)
//!   over one connection with PIPELINING and CHUNKING, then the same with
//!   DATA, client and server machines in memory; throughput in
//!   transactions per second (`Throughput::Elements`).
//!
//! Run: `cargo bench -p mailwire-benches --bench smtp -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mailwire_smtp::client::{self, Client, Envelope};
use mailwire_smtp::server::{self, Server};
use mailwire_smtp::{
    Capabilities, Mailbox, ReversePath, Status, command_frame, ehlo_frame, parse_command,
    parse_reply, reply_frame,
};

const COMMANDS: &[&str] = &[
    "EHLO client.example.org",
    "MAIL FROM:<sender.name@example.org> SIZE=123456 BODY=8BITMIME",
    "RCPT TO:<first.recipient@example.net>",
    "RCPT TO:<second@mail.example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;second@mail.example.com",
    "RCPT TO:<third-recipient@sub.domain.example.com>",
    "DATA",
    "MAIL FROM:<> RET=HDRS ENVID=QQ314159",
    "RCPT TO:<postmaster@example.com>",
    "BDAT 86 LAST",
    "RSET",
    "NOOP",
    "VRFY Crispin",
    "AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=",
    "MAIL FROM:<\"quoted local\"@example.org>",
    "RCPT TO:<user@[192.0.2.17]>",
    "QUIT",
];

fn commands_input() -> Vec<u8> {
    let mut v = Vec::new();
    for _ in 0..64 {
        for c in COMMANDS {
            v.extend_from_slice(c.as_bytes());
            v.extend_from_slice(b"\r\n");
        }
    }
    v
}

const REPLIES: &[&str] = &[
    "220 mx.example.com ESMTP Postfix (Debian/GNU)\r\n",
    "250 2.1.0 Ok\r\n",
    "250 2.1.5 Ok\r\n",
    "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table\r\n",
    "354 End data with <CR><LF>.<CR><LF>\r\n",
    "250 2.0.0 Ok: queued as 4Zx7Yq0Jq3z9sPd\r\n",
    "334 VXNlcm5hbWU6\r\n",
    "235 2.7.0 Authentication successful\r\n",
    "452-4.5.3 Too many recipients\r\n452-4.5.3 Please try again later\r\n452 4.5.3 Thank you\r\n",
    "221 2.0.0 Bye\r\n",
];

const EHLO: &str = "250-mx.example.com Hello client.example.org [192.0.2.1]\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN CRAM-MD5\r\n250-CHUNKING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250 STARTTLS\r\n";

fn replies_input() -> (Vec<u8>, Vec<u8>) {
    let mut plain = Vec::new();
    let mut ehlo = Vec::new();
    for _ in 0..64 {
        for r in REPLIES {
            plain.extend_from_slice(r.as_bytes());
        }
        ehlo.extend_from_slice(EHLO.as_bytes());
    }
    (plain, ehlo)
}

/// The machine these benches run on is shared and loaded, so criterion's
/// means drift between the two functions of a group. This runs both
/// interleaved, round after round, keeps the fastest round of each, and
/// prints their throughput and ratio beside criterion's figures.
fn interleaved(
    group: &str,
    bytes: usize,
    mut a: impl FnMut() -> usize,
    mut b: impl FnMut() -> usize,
) {
    let (mut best_a, mut best_b) = (f64::MAX, f64::MAX);
    for _ in 0..60 {
        let t = Instant::now();
        for _ in 0..5 {
            black_box(a());
        }
        best_a = best_a.min(t.elapsed().as_secs_f64() / 5.0);
        let t = Instant::now();
        for _ in 0..5 {
            black_box(b());
        }
        best_b = best_b.min(t.elapsed().as_secs_f64() / 5.0);
    }
    let mib = |s: f64| bytes as f64 / s / 1_048_576.0;
    eprintln!(
        "{group}: interleaved best rounds: mailwire-smtp {:.0} MiB/s, smtp-proto {:.0} MiB/s, ratio {:.2}x",
        mib(best_a),
        mib(best_b),
        best_b / best_a
    );
}

fn mailwire_commands(input: &[u8]) -> usize {
    let n = mailwire_commands_ok(input);
    assert!(n > 0);
    n
}

/// What `mailwire_commands` counts, without asserting that any parsed.
fn mailwire_commands_ok(input: &[u8]) -> usize {
    let mut rest = input;
    let mut n = 0usize;
    while let Ok(Status::Complete(len)) = command_frame(rest, 4096) {
        if let Ok(cmd) = parse_command(&rest[..len - 2]) {
            n += black_box(&cmd).verb().len();
        }
        rest = &rest[len..];
    }
    n
}

fn proto_commands(input: &[u8]) -> usize {
    let n = proto_commands_ok(input);
    assert!(n > 0);
    n
}

/// The number of commands smtp-proto parses without an error.
fn proto_commands_ok(input: &[u8]) -> usize {
    let mut it = input.iter();
    let mut n = 0usize;
    while it.len() > 0 {
        if let Ok(req) = smtp_proto::Request::parse(&mut it) {
            black_box(&req);
            n += 1;
        }
    }
    n
}

/// Each command of `COMMANDS` on its own (256 copies), interleaved as
/// above: shows which commands the mixed ratio gains or loses on, and
/// names those a library refuses (an early error is cheaper than a full
/// parse, so such a row does not compare like with like).
fn per_command_ratios() {
    for c in COMMANDS {
        let mut input = Vec::new();
        for _ in 0..256 {
            input.extend_from_slice(c.as_bytes());
            input.extend_from_slice(b"\r\n");
        }
        let line = format!("{c}\r\n");
        let mw_ok = parse_command(c.as_bytes()).is_ok();
        let proto_ok = smtp_proto::Request::parse(&mut line.as_bytes().iter()).is_ok();
        let note = match (mw_ok, proto_ok) {
            (true, true) => "",
            (true, false) => " (smtp-proto refuses it)",
            (false, true) => " (mailwire-smtp refuses it)",
            (false, false) => " (both refuse it)",
        };
        interleaved(
            &format!("smtp_commands {c:?}{note}"),
            input.len(),
            || mailwire_commands_ok(&input),
            || proto_commands_ok(&input),
        );
    }
}

fn mailwire_replies(input: &[u8]) -> usize {
    let mut rest = input;
    let mut n = 0usize;
    while let Ok(Status::Complete(len)) = reply_frame(rest, 4096, 100) {
        let r = parse_reply(&rest[..len]).expect("parses");
        n += usize::from(black_box(&r).code().get());
        rest = &rest[len..];
    }
    n
}

fn proto_replies(input: &[u8]) -> usize {
    let mut it = input.iter();
    let mut n = 0usize;
    while it.len() > 0 {
        let mut rx = smtp_proto::response::parser::ResponseReceiver::default();
        let r = rx.parse(&mut it).expect("parses");
        n += usize::from(black_box(&r).code);
    }
    n
}

fn mailwire_ehlo(input: &[u8]) -> usize {
    let mut rest = input;
    let mut n = 0usize;
    while let Ok(Status::Complete((len, r))) = ehlo_frame(rest, 4096, 100) {
        let r = r.expect("parses");
        n += black_box(&r).caps.auth.len();
        rest = &rest[len..];
    }
    n
}

/// `mailwire_ehlo` the three-step way: `reply_frame`, `parse_reply`, then
/// `Capabilities::from_ehlo` on the generic `Reply`.
fn mailwire_ehlo_via_reply(input: &[u8]) -> usize {
    let mut rest = input;
    let mut n = 0usize;
    while let Ok(Status::Complete(len)) = reply_frame(rest, 4096, 100) {
        let r = parse_reply(&rest[..len]).expect("parses");
        let caps = Capabilities::from_ehlo(&r);
        n += black_box(&caps).auth.len();
        rest = &rest[len..];
    }
    n
}

fn proto_ehlo(input: &[u8]) -> usize {
    let mut it = input.iter();
    let mut n = 0usize;
    while it.len() > 0 {
        let r = smtp_proto::EhloResponse::<String>::parse(&mut it).expect("parses");
        n += black_box(&r).capabilities as usize;
    }
    n
}

fn bench_commands(c: &mut Criterion) {
    let input = commands_input();
    interleaved(
        "smtp_commands",
        input.len(),
        || mailwire_commands(&input),
        || proto_commands(&input),
    );
    per_command_ratios();
    let mut g = c.benchmark_group("smtp_commands");
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.bench_function("mailwire-smtp", |b| b.iter(|| mailwire_commands(&input)));
    g.bench_function("smtp-proto", |b| b.iter(|| proto_commands(&input)));
    g.finish();
}

fn bench_replies(c: &mut Criterion) {
    let (plain, ehlo) = replies_input();
    interleaved(
        "smtp_replies",
        plain.len(),
        || mailwire_replies(&plain),
        || proto_replies(&plain),
    );
    interleaved(
        "smtp_ehlo_replies",
        ehlo.len(),
        || mailwire_ehlo(&ehlo),
        || proto_ehlo(&ehlo),
    );
    interleaved(
        "smtp_ehlo_replies via Reply (reply_frame, parse_reply, from_ehlo)",
        ehlo.len(),
        || mailwire_ehlo_via_reply(&ehlo),
        || proto_ehlo(&ehlo),
    );
    let mut g = c.benchmark_group("smtp_replies");
    g.throughput(Throughput::Bytes(plain.len() as u64));
    g.bench_function("mailwire-smtp", |b| b.iter(|| mailwire_replies(&plain)));
    g.bench_function("smtp-proto", |b| b.iter(|| proto_replies(&plain)));
    g.finish();

    let mut g = c.benchmark_group("smtp_ehlo_replies");
    g.throughput(Throughput::Bytes(ehlo.len() as u64));
    g.bench_function("mailwire-smtp", |b| b.iter(|| mailwire_ehlo(&ehlo)));
    g.bench_function("smtp-proto", |b| b.iter(|| proto_ehlo(&ehlo)));
    g.finish();
}

const TRANSACTIONS: usize = 10_000;

/// Runs `TRANSACTIONS` messages through a client and a server machine in
/// memory; returns the number delivered.
fn pair_run(chunking: bool, message: &Bytes, envelope: &Envelope) -> usize {
    let now = Instant::now();
    let mut copts = client::Options::default();
    copts.chunking = chunking;
    let mut c = Client::new(copts, now);
    let mut s = Server::new(server::Options::default(), now);
    for _ in 0..TRANSACTIONS {
        c.send_mail(envelope.clone(), message.clone())
            .expect("queued");
    }
    c.quit();
    let mut buf = Vec::with_capacity(1 << 16);
    let mut delivered = 0;
    let mut content = 0usize;
    loop {
        let mut moved = false;
        buf.clear();
        while c.poll_transmit(now, &mut buf).is_some() {}
        if !buf.is_empty() {
            moved = true;
            s.handle_input(now, &buf);
        }
        while let Some(e) = s.poll_event() {
            moved = true;
            match e {
                server::Event::Mail { handle, .. }
                | server::Event::Rcpt { handle, .. }
                | server::Event::DataEnd { handle, .. } => s.accept(handle).expect("pending"),
                server::Event::DataChunk(b) => content += b.len(),
                _ => {}
            }
        }
        buf.clear();
        while s.poll_transmit(now, &mut buf).is_some() {}
        if !buf.is_empty() {
            moved = true;
            c.handle_input(now, &buf);
        }
        while let Some(e) = c.poll_event() {
            moved = true;
            if let client::Event::MailSent { result: Ok(o), .. } = e
                && o.all_delivered()
            {
                delivered += 1;
            }
        }
        if !moved {
            break;
        }
    }
    assert!(content >= TRANSACTIONS * message.len());
    delivered
}

fn bench_pair(c: &mut Criterion) {
    let mut msg = b"From: a@example.org\r\nTo: b@example.net\r\nSubject: bench\r\n\r\n".to_vec();
    while msg.len() < 1024 {
        msg.extend_from_slice(
            b"The quick brown fox jumps over the lazy dog, and a line with\r\n.a leading dot\r\n",
        );
    }
    let message = Bytes::from(msg);
    let mbox = |s: &str| Mailbox::try_from(s.to_owned()).expect("valid");
    let envelope = Envelope::new(
        ReversePath::Mailbox(mbox("a@example.org")),
        [mbox("b@example.net"), mbox("c@example.net")],
    );
    let mut g = c.benchmark_group("smtp_pair_10k_transactions");
    g.sample_size(10);
    g.throughput(Throughput::Elements(TRANSACTIONS as u64));
    g.bench_function("pipelining+BDAT", |b| {
        b.iter(|| assert_eq!(pair_run(true, &message, &envelope), TRANSACTIONS))
    });
    g.bench_function("pipelining+DATA", |b| {
        b.iter(|| assert_eq!(pair_run(false, &message, &envelope), TRANSACTIONS))
    });
    g.finish();
}

criterion_group!(benches, bench_commands, bench_replies, bench_pair);
criterion_main!(benches);
