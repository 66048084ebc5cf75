//! The IMAP client machine parsing a FETCH stream: 1,000
//! `* N FETCH (UID FLAGS ENVELOPE BODYSTRUCTURE)` responses and the tagged
//! OK, fed in 64 KiB reads, completing one `FETCH 1:*` command (framing,
//! parsing, routing to the command and the event). imap-codec decoding the
//! same stream (parsing only, no machine) runs beside it as a yardstick, and
//! so do mailwire's own fragmenter and parser without the machine.
//!
//! Run: `cargo bench -p mailwire-benches --bench imap_client -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use imap_codec::ResponseCodec;
use imap_codec::decode::Decoder;
use mailwire_imap::client::{Client, Event, Options};
use mailwire_imap::{CommandBody, FetchAttr, FetchAttrs, SequenceSet};

fn stream() -> Vec<u8> {
    let mut v = Vec::new();
    for n in 1..=1000u32 {
        v.extend_from_slice(format!(
            "* {n} FETCH (UID {uid} FLAGS (\\Seen $Forwarded) ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"Message {n}: IMAP4rev1 WG mtg summary and minutes\" ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((NIL NIL \"imap\" \"cac.washington.edu\")) ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL \"<B27397-{n}@cac.washington.edu>\") BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92 NIL NIL NIL NIL)(\"APPLICATION\" \"PDF\" (\"NAME\" \"minutes-{n}.pdf\") NIL NIL \"BASE64\" 48220 NIL (\"attachment\" (\"FILENAME\" \"minutes-{n}.pdf\")) NIL NIL) \"MIXED\" (\"BOUNDARY\" \"b{n}\") NIL NIL NIL))\r\n",
            uid = 4000 + n
        ).as_bytes());
    }
    v.extend_from_slice(b"A2 OK FETCH completed\r\n");
    v
}

fn fetch_command() -> CommandBody<'static> {
    CommandBody::Fetch {
        uid: false,
        set: SequenceSet::all(),
        attrs: FetchAttrs::List(vec![
            FetchAttr::Uid,
            FetchAttr::Flags,
            FetchAttr::Envelope,
            FetchAttr::BodyStructure,
        ]),
        modifiers: vec![],
    }
}

/// One run: greeting, FETCH sent, the stream fed; returns the responses
/// the completion carried.
fn run(stream: &[u8]) -> usize {
    let now = Instant::now();
    let mut c = Client::new(Options::default(), now);
    c.handle_input(now, b"* PREAUTH [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n");
    c.enqueue_command(CommandBody::Noop).expect("queued");
    c.handle_input(now, b"A1 OK done\r\n");
    c.enqueue_command(fetch_command()).expect("queued");
    let mut out = Vec::new();
    while c.poll_transmit(now, &mut out).is_some() {}
    while c.poll_event().is_some() {}
    let mut got = 0;
    for piece in stream.chunks(64 * 1024) {
        c.handle_input(now, piece);
        while let Some(e) = c.poll_event() {
            if let Event::Completed(done) = e {
                got = done.data.len();
            }
        }
    }
    got
}

fn bench(c: &mut Criterion) {
    let s = stream();
    assert_eq!(run(&s), 1000, "every FETCH belongs to the command");
    let mut g = c.benchmark_group("imap-client/fetch-1000");
    g.throughput(Throughput::Bytes(s.len() as u64));
    g.bench_function("mailwire-imap client", |b| {
        b.iter(|| black_box(run(black_box(&s))))
    });
    g.bench_function("mailwire-imap fragmenter + parse only", |b| {
        b.iter(|| {
            let mut f = mailwire_imap::Fragmenter::new(Default::default());
            let mut n = 0;
            for piece in black_box(&s[..]).chunks(64 * 1024) {
                f.push(piece);
                while let Ok(Some(fr)) = f.poll() {
                    if let mailwire_imap::Frame::Message(m) = fr {
                        black_box(mailwire_imap::parse::response(&m).is_ok());
                        n += 1;
                    }
                }
            }
            assert_eq!(n, 1001);
            n
        })
    });
    g.bench_function("imap-codec decode only", |b| {
        b.iter(|| {
            let codec = ResponseCodec::default();
            let mut i = black_box(&s[..]);
            let mut n = 0;
            while let Ok((rest, r)) = codec.decode(i) {
                black_box(r);
                n += 1;
                i = rest;
            }
            assert_eq!(n, 1001);
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
