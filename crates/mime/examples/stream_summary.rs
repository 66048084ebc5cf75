//! The streaming summary over a file, read in 64 KiB chunks: what
//! `parse --stream` prints for `"parts"`, with bounded memory.
//!
//! ```text
//! cargo run --release -p mailwire-mime --example stream_summary -- gen big.eml 1073741824
//! /usr/bin/time -v cargo run --release -p mailwire-mime --example stream_summary -- big.eml
//! ```
//!
//! `gen OUT SIZE` writes a message with a text part and a base64 attachment
//! of SIZE pseudo-random bytes (streamed, never held in memory) and prints
//! the attachment's SHA-256.
use std::io::{Read, Write};

use sha2::{Digest, Sha256};

fn generate(out: &str, size: u64) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(out)?);
    f.write_all(
        b"From: a@example.org\r\nSubject: big\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"=_big\"\r\n\r\n--=_big\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nSee the attachment.\r\n--=_big\r\n\
Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=\"big.bin\"\r\n\r\n",
    )?;
    let mut hasher = Sha256::new();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut left = size;
    let mut chunk = vec![0u8; 57 * 1024];
    while left > 0 {
        let n = (chunk.len() as u64).min(left) as usize;
        for b in &mut chunk[..n] {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = state as u8;
        }
        hasher.update(&chunk[..n]);
        f.write_all(&mailwire_mime::encoding::encode_base64(&chunk[..n]))?;
        left -= n as u64;
    }
    f.write_all(b"--=_big--\r\n")?;
    f.flush()?;
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!("{hex}");
    Ok(())
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("gen") {
        let size = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1 << 20);
        return generate(args.get(1).map_or("big.eml", String::as_str), size);
    }
    for path in &args {
        let mut f = std::fs::File::open(path)?;
        let mut s = mailwire_mime::summary::StreamSummarizer::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut max_buffered = 0;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            s.feed(&buf[..n]);
            max_buffered = max_buffered.max(s.buffered());
        }
        println!("{}", mailwire_mime::summary::parts_json(&s.finish()));
        eprintln!("most bytes held by the parser between reads: {max_buffered}");
    }
    Ok(())
}
