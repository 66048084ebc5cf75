//! SMTP smuggling (CVE-2023-51764/51765/51766): none of the known
//! end-of-data look-alikes ends the data; only the real `<CRLF>.<CRLF>` does,
//! exactly once, and the pipelined commands after it stay in the buffer.

use bytes::BytesMut;
use mailwire_line::{
    BareEol, BareEolKind, DataEnd, LineConfig, LineFramer, Status, UnstuffConfig, Unstuffed,
    Unstuffer,
};

/// The sequences of the issue: each one, in some server, ended the data.
const SEQUENCES: &[&[u8]] = &[
    b"\n.\n",
    b"\n.\r\n",
    b"\r.\r\n",
    b"\r\n.\n",
    b"\r\n.\r",
    b"\r.\r",
    b"\n.\r",
    b"\r.\n",
    b"\r\n\x00.\r\n",
    b"\r\n.\r\r\n",
    b"\r\r\n.\r\r\n",
];

const PIPELINED: &[u8] = b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n";

/// What the smuggler sends after DATA: a body with the sequence, a smuggled
/// transaction, the real end; then the next pipelined transaction.
fn wire(seq: &[u8]) -> (Vec<u8>, usize) {
    let mut w = b"From: a@b\r\n\r\nhello".to_vec();
    w.extend_from_slice(seq);
    w.extend_from_slice(PIPELINED);
    w.extend_from_slice(b"From: spoof@bank\r\n\r\nsmuggled\r\n");
    w.extend_from_slice(b"\r\n.\r\n");
    let data_len = w.len();
    w.extend_from_slice(PIPELINED);
    (w, data_len)
}

/// Feeds `wire` in pieces cut at `cuts`; returns every end seen, the content
/// handed out, and the buffer left over.
fn feed(
    config: UnstuffConfig,
    wire: &[u8],
    cuts: &[usize],
) -> (Vec<DataEnd>, Vec<u8>, BytesMut, u64) {
    let mut u = Unstuffer::new(config);
    let mut buf = BytesMut::new();
    let mut ends = Vec::new();
    let mut content = Vec::new();
    let mut last = 0;
    for &cut in cuts.iter().chain(std::iter::once(&wire.len())) {
        buf.extend_from_slice(&wire[last..cut]);
        last = cut;
        loop {
            match u.next_chunk(&mut buf) {
                Status::Complete(Unstuffed::Data(d)) => content.extend_from_slice(&d),
                Status::Complete(Unstuffed::End(e)) => ends.push(e),
                Status::Partial => break,
            }
        }
    }
    (ends, content, buf, u.consumed())
}

fn check_pipelined_left_intact(mut rest: BytesMut) {
    assert_eq!(&rest[..], PIPELINED);
    let mut framer = LineFramer::new(LineConfig::default());
    let mut lines = Vec::new();
    while let Some(l) = framer.next_line(&mut rest) {
        match l {
            Ok(l) => lines.push(l.content().to_vec()),
            Err(e) => panic!("pipelined line failed: {e}"),
        }
    }
    assert_eq!(
        lines,
        vec![
            b"MAIL FROM:<a@b>".to_vec(),
            b"RCPT TO:<c@d>".to_vec(),
            b"DATA".to_vec()
        ]
    );
}

#[test]
fn cve_2023_51764_sequences_never_end_data_reject() {
    for seq in SEQUENCES {
        let (w, data_len) = wire(seq);
        let (ends, content, rest, consumed) = feed(UnstuffConfig::default(), &w, &[]);
        assert_eq!(ends.len(), 1, "{seq:?}: exactly one end of data");
        assert_eq!(consumed, data_len as u64, "{seq:?}: ends at the real end");
        if seq.contains(&0) {
            // No bare CR/LF: the NUL line is content and the message is one.
            assert!(ends[0].is_accepted(), "{seq:?}: {:?}", ends[0]);
            assert!(content.ends_with(b"smuggled\r\n\r\n"));
        } else {
            assert!(
                matches!(ends[0], DataEnd::Rejected { offset, .. } if offset >= 18),
                "{seq:?}: {:?}",
                ends[0]
            );
            // Nothing after the violation was handed out.
            assert!(!content.windows(4).any(|w| w == b"MAIL"), "{seq:?}");
        }
        check_pipelined_left_intact(rest);
    }
}

#[test]
fn cve_2023_51765_sequences_never_end_data_normalize() {
    let cfg = UnstuffConfig::default().bare_eol(BareEol::Normalize);
    for seq in SEQUENCES {
        let (w, data_len) = wire(seq);
        let (ends, content, rest, consumed) = feed(cfg, &w, &[]);
        assert_eq!(ends.len(), 1, "{seq:?}");
        assert_eq!(consumed, data_len as u64, "{seq:?}");
        assert!(ends[0].is_accepted(), "{seq:?}");
        // The smuggled commands are content of the one message.
        assert!(content.windows(15).any(|w| w == b"MAIL FROM:<a@b>"));
        assert!(content.ends_with(b"smuggled\r\n\r\n"));
        // The content holds no bare CR or LF.
        for (i, &b) in content.iter().enumerate() {
            if b == b'\r' {
                assert_eq!(content.get(i + 1), Some(&b'\n'), "{seq:?}");
            }
            if b == b'\n' {
                assert_eq!(content[i - 1], b'\r', "{seq:?}");
            }
        }
        check_pipelined_left_intact(rest);
    }
}

#[test]
fn cve_2023_51766_sequences_at_every_split() {
    for bare_eol in [BareEol::Reject, BareEol::Normalize] {
        let cfg = UnstuffConfig::default().bare_eol(bare_eol);
        for seq in SEQUENCES {
            let (w, data_len) = wire(seq);
            let whole = feed(cfg, &w, &[]);
            for cut in 0..=w.len() {
                let (ends, content, rest, consumed) = feed(cfg, &w, &[cut]);
                assert_eq!(ends, whole.0, "{seq:?} cut at {cut}");
                assert_eq!(content, whole.1, "{seq:?} cut at {cut}");
                assert_eq!(consumed, data_len as u64);
                check_pipelined_left_intact(rest);
            }
            let bytewise: Vec<usize> = (1..w.len()).collect();
            let (ends, content, rest, _) = feed(cfg, &w, &bytewise);
            assert_eq!(ends, whole.0, "{seq:?} byte by byte");
            assert_eq!(content, whole.1, "{seq:?} byte by byte");
            check_pipelined_left_intact(rest);
        }
    }
}

#[test]
fn sequence_as_first_line() {
    // At the very start of the data a line start exists without a CRLF
    // before it; only ".\r\n" ends the data there.
    for seq in [&b".\n"[..], b".\r", b".\r\r\n", b"\x00.\r\n"] {
        let mut w = seq.to_vec();
        w.extend_from_slice(b"x\r\n.\r\n");
        let data_len = w.len();
        w.extend_from_slice(PIPELINED);
        let (ends, _, rest, consumed) = feed(UnstuffConfig::default(), &w, &[]);
        assert_eq!(ends.len(), 1, "{seq:?}");
        assert_eq!(consumed, data_len as u64, "{seq:?}");
        check_pipelined_left_intact(rest);
    }
}

#[test]
fn rejected_reports_first_violation() {
    let (w, _) = wire(b"\n.\r\n");
    let (ends, _, _, _) = feed(UnstuffConfig::default(), &w, &[]);
    assert_eq!(
        ends,
        vec![DataEnd::Rejected {
            kind: BareEolKind::Lf,
            offset: 18
        }]
    );
}

#[test]
fn rfc5321_4_5_2_real_end_after_stuffed_dot_line() {
    // "..\r\n" is a stuffed "." line, not the end.
    let w = b"a\r\n..\r\nb\r\n.\r\nQUIT\r\n";
    let (ends, content, rest, _) = feed(UnstuffConfig::default(), w, &[]);
    assert_eq!(ends, vec![DataEnd::Accepted { size: 9 }]);
    assert_eq!(content, b"a\r\n.\r\nb\r\n");
    assert_eq!(&rest[..], b"QUIT\r\n");
}
