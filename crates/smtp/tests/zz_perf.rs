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
#[test]
fn perf_mix() {
    let mut input = Vec::new();
    for _ in 0..64 { for c in COMMANDS { input.extend_from_slice(c.as_bytes()); input.extend_from_slice(b"\r\n"); } }
    let mut best = f64::MAX;
    let mut acc = 0;
    for _ in 0..30 {
        let t = std::time::Instant::now();
        for _ in 0..20 {
            let mut rest = std::hint::black_box(&input[..]);
            while let Ok(mailwire_smtp::Status::Complete(len)) = mailwire_smtp::command_frame(rest, 4096) {
                if let Ok(cmd) = mailwire_smtp::parse_command(&rest[..len - 2]) { acc += std::hint::black_box(&cmd).verb().len(); }
                rest = &rest[len..];
            }
        }
        best = best.min(t.elapsed().as_nanos() as f64 / 20.0);
    }
    eprintln!("mix: {:.1} us per pass = {:.1} MiB/s ({acc})", best / 1000.0, input.len() as f64 / (best / 1e9) / 1048576.0);
}
