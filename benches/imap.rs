//! IMAP parsing: mailwire-imap against imap-codec and imap-proto on identical
//! input in the same run.
//!
//! Cases: a greeting, `* 12 EXISTS`, the RFC 3501 §8 FETCH with ENVELOPE and
//! BODYSTRUCTURE (the RFC's sample says `BODY`, the non-extensible form, which
//! imap-proto 0.16 rejects; `sanity` checks that, and the bench uses
//! `BODYSTRUCTURE` with the same content so all three libraries parse it), a FETCH carrying a 64 KiB literal (with a memcpy of the same
//! 64 KiB as the yardstick), a 200-line LIST reply and a UID FETCH command.
//! imap-proto only parses server output, so it has no figure for the command.
//! Besides criterion's figures, each case runs the libraries interleaved,
//! round after round, and prints MiB/s and the ratios (`interleaved ...`
//! lines): a shared machine's load then weighs on all of them alike.
//!
//! Run: `cargo bench -p mailwire-benches --bench imap -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use imap_codec::decode::Decoder;
use imap_codec::{CommandCodec, GreetingCodec, ResponseCodec};
use mailwire_benches::fixtures::{Work, interleaved};
use mailwire_imap::{FragmentOptions, Fragmenter, Frame, parse};

const GREETING: &[u8] = b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] Dovecot ready.\r\n";
const EXISTS: &[u8] = b"* 12 EXISTS\r\n";
const FETCH: &[u8] = b"* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286 ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((NIL NIL \"imap\" \"cac.washington.edu\")) ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL \"<B27397-0100000@cac.washington.edu>\") BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92))\r\n";
const UID_FETCH: &[u8] = b"A0042 UID FETCH 1:4000,4002:* (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY.PEEK[HEADER.FIELDS (DATE FROM TO CC SUBJECT MESSAGE-ID REFERENCES)])\r\n";

fn literal_fetch() -> Vec<u8> {
    let mut v = b"* 1 FETCH (UID 1 BODY[] {65536}\r\n".to_vec();
    v.extend((0..65536u32).map(|i| {
        if i % 78 == 76 {
            b'\r'
        } else if i % 78 == 77 {
            b'\n'
        } else {
            b'a' + (i % 26) as u8
        }
    }));
    v.extend_from_slice(b")\r\n");
    v
}

fn list_reply() -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..200 {
        v.extend_from_slice(
            format!(
                "* LIST (\\HasNoChildren) \"/\" \"Archive/{}/Folder {i}\"\r\n",
                2000 + i % 25
            )
            .as_bytes(),
        );
    }
    v
}

/// Checks every library accepts the input the way we feed it, so no figure measures an error path.
fn sanity(fetch_literal: &[u8], list: &[u8]) {
    for input in [GREETING, EXISTS, FETCH, fetch_literal] {
        let (_, n) = parse::response(input).expect("mailwire");
        assert_eq!(n, input.len());
        match imap_proto::parser::parse_response(input) {
            Ok((rest, _)) => assert!(rest.is_empty()),
            Err(e) => panic!(
                "imap-proto on {:?}: {e:?}",
                String::from_utf8_lossy(&input[..input.len().min(60)])
            ),
        }
    }
    let body_form = String::from_utf8_lossy(FETCH).replace("BODYSTRUCTURE (", "BODY (");
    assert!(parse::response(body_form.as_bytes()).is_ok());
    assert!(
        imap_proto::parser::parse_response(body_form.as_bytes()).is_err(),
        "imap-proto now takes BODY"
    );
    GreetingCodec::default()
        .decode(GREETING)
        .expect("imap-codec greeting");
    for input in [EXISTS, FETCH, fetch_literal] {
        let (rest, _) = ResponseCodec::default().decode(input).expect("imap-codec");
        assert!(rest.is_empty());
    }
    let (rest, _) = CommandCodec::default()
        .decode(UID_FETCH)
        .expect("imap-codec command");
    assert!(rest.is_empty());
    parse::command(UID_FETCH).expect("mailwire command");
    let mut n = 0;
    let mut i = list;
    while !i.is_empty() {
        let (r, _) = imap_proto::parser::parse_response(i).expect("imap-proto list");
        i = r;
        n += 1;
    }
    assert_eq!(n, 200);
}

// The work of each library on one input, for the interleaved rounds and
// criterion alike: 1 when it parsed (a count of responses for the LIST).

fn mailwire_response(d: &[u8]) -> usize {
    usize::from(parse::response(d).is_ok())
}

fn mailwire_fragmented(d: &[u8]) -> usize {
    let mut f = Fragmenter::new(FragmentOptions::default());
    f.push(d);
    let mut ok = 0;
    while let Ok(Some(fr)) = f.poll() {
        if let Frame::Message(m) = fr {
            ok = usize::from(parse::response(&m).is_ok());
        }
    }
    ok
}

fn codec_response(d: &[u8]) -> usize {
    usize::from(ResponseCodec::default().decode(d).is_ok())
}

fn codec_greeting(d: &[u8]) -> usize {
    usize::from(GreetingCodec::default().decode(d).is_ok())
}

fn proto_response(d: &[u8]) -> usize {
    usize::from(imap_proto::parser::parse_response(d).is_ok())
}

fn mailwire_responses(d: &[u8]) -> usize {
    let (mut i, mut n) = (d, 0);
    while let Ok((_, used)) = parse::response(i) {
        i = &i[used..];
        n += 1;
    }
    n
}

fn codec_responses(d: &[u8]) -> usize {
    let codec = ResponseCodec::default();
    let (mut i, mut n) = (d, 0);
    while let Ok((rest, _)) = codec.decode(i) {
        i = rest;
        n += 1;
    }
    n
}

fn proto_responses(d: &[u8]) -> usize {
    let (mut i, mut n) = (d, 0);
    while !i.is_empty()
        && let Ok((rest, _)) = imap_proto::parser::parse_response(i)
    {
        i = rest;
        n += 1;
    }
    n
}

fn mailwire_command(d: &[u8]) -> usize {
    usize::from(parse::command(d).is_ok())
}

fn codec_command(d: &[u8]) -> usize {
    usize::from(CommandCodec::default().decode(d).is_ok())
}

/// One case: `libs` over `input`, interleaved (the printed ratios), then
/// each as a criterion benchmark of the group `name`, which is returned
/// for more benchmarks and its `finish`.
fn group<'c>(
    c: &'c mut Criterion,
    name: &str,
    libs: &[(&str, Work)],
    input: &[u8],
) -> BenchmarkGroup<'c, WallTime> {
    interleaved(name, libs, &[input.to_vec()]);
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(input.len() as u64));
    for &(lib, f) in libs {
        g.bench_function(lib, |b| b.iter(|| black_box(f(black_box(input)))));
    }
    g
}

/// A response case: mailwire, imap-codec (`codec`: its greeting or its
/// response decoder) and imap-proto.
fn responses(c: &mut Criterion, name: &str, input: &[u8], codec: Work) {
    let libs: [(&str, Work); 3] = [
        ("mailwire-imap", mailwire_response),
        ("imap-codec", codec),
        ("imap-proto", proto_response),
    ];
    group(c, name, &libs, input).finish();
}

fn benches(c: &mut Criterion) {
    let lit = literal_fetch();
    let list = list_reply();
    sanity(&lit, &list);

    responses(c, "imap/greeting", GREETING, codec_greeting);
    responses(c, "imap/exists", EXISTS, codec_response);
    responses(c, "imap/fetch-envelope-body", FETCH, codec_response);

    let libs: [(&str, Work); 4] = [
        ("mailwire-imap", mailwire_response),
        ("mailwire-imap+fragmenter", mailwire_fragmented),
        ("imap-codec", codec_response),
        ("imap-proto", proto_response),
    ];
    let mut g = group(c, "imap/fetch-64k-literal", &libs, &lit);
    let mut dst = vec![0u8; lit.len()];
    g.bench_function("memcpy", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&lit));
            black_box(&dst);
        })
    });
    g.finish();

    let libs: [(&str, Work); 3] = [
        ("mailwire-imap", mailwire_responses),
        ("imap-codec", codec_responses),
        ("imap-proto", proto_responses),
    ];
    group(c, "imap/list-200", &libs, &list).finish();

    let libs: [(&str, Work); 2] = [
        ("mailwire-imap", mailwire_command),
        ("imap-codec", codec_command),
    ];
    group(c, "imap/uid-fetch-command", &libs, UID_FETCH).finish();
}

criterion_group!(imap, benches);
criterion_main!(imap);
