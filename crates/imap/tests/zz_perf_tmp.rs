use std::time::Instant;
use mailwire_imap::parse;
const FETCH: &[u8] = b"* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286 ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((NIL NIL \"imap\" \"cac.washington.edu\")) ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL \"<B27397-0100000@cac.washington.edu>\") BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92))\r\n";
fn t(name: &str, input: &[u8]) {
    let n = 200_000;
    let s = Instant::now();
    for _ in 0..n { std::hint::black_box(parse::response(std::hint::black_box(input)).is_ok()); }
    let ours = s.elapsed().as_nanos() as f64 / n as f64;
    let s = Instant::now();
    for _ in 0..n { std::hint::black_box(imap_proto_stub(input)); }
    println!("{name}: {ours:.0} ns");
}
fn imap_proto_stub(_: &[u8]) {}
#[test]
fn perf() {
    t("fetch", FETCH);
    t("flags", b"* 12 FETCH (FLAGS (\\Seen))\r\n");
    t("idate", b"* 12 FETCH (INTERNALDATE \"17-Jul-1996 02:44:25 -0700\")\r\n");
    t("env", b"* 12 FETCH (ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((NIL NIL \"imap\" \"cac.washington.edu\")) ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL \"<B27397-0100000@cac.washington.edu>\"))\r\n");
    t("body", b"* 12 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92))\r\n");
    t("exists", b"* 12 EXISTS\r\n");
    t("q", b"* 12 FETCH (RFC822 \"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\")\r\n");
}
