//! Print the header fields and MIME parts of messages.
//!
//! ```text
//! cargo run --release --example parse -- [--json] [--stream] [--tree] FILE...
//! ```
//!
//! Without `--json`, each file's fields are listed with their decoded
//! values, then its leaf parts. With `--json`, one JSON object per file, one
//! per line:
//!
//! ```text
//! {"file": "path", "subject": "decoded text" | null,
//!  "from": [{"name": "decoded display name" | null, "address": "local@domain"}],
//!  "to": [...], "cc": [...], "reply_to": [...],   (group members listed, not the group's name)
//!  "date": "2005-05-17T15:58:25+02:00" | null,    (RFC 3339 with the message's own offset)
//!  "message_id": "id without angle brackets" | null,
//!  "parts": [{"section": "1.2", "content_type": "text/plain", "charset": "utf-8" | null,
//!             "disposition": "attachment" | "inline" | null, "filename": "decoded" | null,
//!             "size": 123, "sha256": "hex of the decoded bytes", "text": "decoded" | null}],
//!  "defects": [{"kind": "...", "offset": 123}]}
//! ```
//!
//! `"parts"` lists the leaf parts depth first, descending into message/rfc822
//! parts, with IMAP section numbers (RFC 3501 §6.4.5).
//!
//! `--stream` gives byte-identical output from the streaming parser
//! (`mailwire_mime::summary::StreamSummarizer`), reading the file in 64 KiB
//! chunks and never holding it whole: memory stays bounded whatever the
//! size of the attachments. `--tree` prints an outline of each message's
//! MIME tree instead.
//!
//! A file that is not a message still yields an object (fields null,
//! defects saying why) and the program goes on with the next file. A file
//! that cannot be read gives an object with an `io-error` defect.

use std::io::{Read, Write};

use mailwire::message::{AddressList, Defect, Mailbox, Message, Summary};
use mailwire::mime::summary::{PartSummary, StreamSummarizer, leaf_parts, outline};
use serde_json::{Map, Value, json};

fn mailbox_json(m: &Mailbox<'_>) -> Value {
    json!({ "name": m.name(), "address": m.addr_spec() })
}

fn list_json(list: &AddressList<'_>) -> Value {
    Value::Array(list.mailboxes().map(mailbox_json).collect())
}

fn defects_json(defects: &[Defect]) -> Value {
    Value::Array(
        defects
            .iter()
            .map(|d| json!({ "kind": d.kind.as_str(), "offset": d.offset }))
            .collect(),
    )
}

/// The header keys of one message's JSON object, in order (everything but
/// "file" and "defects"). Other keys (the MIME issue's "parts") are added
/// by the caller between these and "defects".
fn header_keys(obj: &mut Map<String, Value>, s: &Summary<'_>) {
    obj.insert("subject".into(), json!(s.subject.as_deref()));
    obj.insert(
        "from".into(),
        Value::Array(s.from.iter().map(mailbox_json).collect()),
    );
    obj.insert("to".into(), list_json(&s.to));
    obj.insert("cc".into(), list_json(&s.cc));
    obj.insert("reply_to".into(), list_json(&s.reply_to));
    obj.insert("date".into(), json!(s.date.map(|d| d.to_rfc3339())));
    obj.insert(
        "message_id".into(),
        json!(s.message_id.as_ref().map(|m| m.as_str())),
    );
}

/// The most header bytes looked at: a header section longer than this is
/// cut here (the message parser reports what it had to repair).
const HEADER_CAP: usize = 1 << 20;

/// Where the header section ends in `bytes`: just after the first empty
/// line (CRLF or bare LF), or `None` while there is none.
fn header_end(bytes: &[u8], from: usize) -> Option<usize> {
    if bytes.starts_with(b"\r\n") {
        return Some(2);
    }
    if bytes.starts_with(b"\n") {
        return Some(1);
    }
    let mut i = from.max(1);
    while let Some(p) = bytes[i..].iter().position(|&b| b == b'\n') {
        let lf = i + p;
        match bytes.get(lf + 1..lf + 3) {
            Some(b"\r\n") => return Some(lf + 3),
            _ if bytes.get(lf + 1) == Some(&b'\n') => return Some(lf + 2),
            _ => i = lf + 1,
        }
    }
    None
}

/// The header section as both modes see it: through the first empty line,
/// at most [`HEADER_CAP`] bytes. Parsing this prefix rather than the whole
/// file is what makes `--stream` output identical to the in-memory one.
fn header_prefix(bytes: &[u8]) -> &[u8] {
    let end = header_end(bytes, 0).unwrap_or(bytes.len());
    &bytes[..end.min(HEADER_CAP)]
}

fn parts_value(parts: &[PartSummary]) -> Value {
    Value::Array(
        parts
            .iter()
            .map(|p| {
                let mut o = Map::new();
                o.insert("section".into(), json!(p.section));
                o.insert("content_type".into(), json!(p.content_type));
                o.insert("charset".into(), json!(p.charset));
                o.insert("disposition".into(), json!(p.disposition));
                o.insert("filename".into(), json!(p.filename));
                o.insert("size".into(), json!(p.size));
                o.insert("sha256".into(), json!(p.sha256));
                o.insert("text".into(), json!(p.text));
                Value::Object(o)
            })
            .collect(),
    )
}

/// One file's JSON object from its header section and its leaf parts.
fn object(path: &str, head: &[u8], parts: &[PartSummary]) -> Map<String, Value> {
    let msg = Message::parse(head);
    let summary = msg.summary();
    let mut obj = Map::new();
    obj.insert("file".into(), json!(path));
    header_keys(&mut obj, &summary);
    obj.insert("parts".into(), parts_value(parts));
    obj.insert("defects".into(), defects_json(&summary.defects));
    obj
}

/// One file's JSON object, the whole file in memory.
fn file_json(path: &str, bytes: &[u8]) -> Map<String, Value> {
    let parts = leaf_parts(&mailwire::mime::Message::parse(bytes));
    object(path, header_prefix(bytes), &parts)
}

/// One file's JSON object from the streaming parser: the file is read in
/// 64 KiB chunks; only the header section (at most [`HEADER_CAP`]) and the
/// text of `text/*` parts are kept.
fn stream_json(path: &str) -> std::io::Result<Map<String, Value>> {
    let mut file = std::fs::File::open(path)?;
    let mut summarizer = StreamSummarizer::new();
    let mut head = Vec::new();
    let mut head_done = false;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        summarizer.feed(&buf[..n]);
        if !head_done {
            let scanned = head.len().saturating_sub(2);
            head.extend_from_slice(&buf[..n.min(HEADER_CAP + 1 - head.len())]);
            if let Some(end) = header_end(&head, scanned) {
                head.truncate(end.min(HEADER_CAP));
                head_done = true;
            } else if head.len() > HEADER_CAP {
                head.truncate(HEADER_CAP);
                head_done = true;
            }
        }
    }
    Ok(object(path, &head, &summarizer.finish()))
}

fn io_error_json(path: &str, err: &std::io::Error) -> Map<String, Value> {
    let mut obj = Map::new();
    obj.insert("file".into(), json!(path));
    header_keys(&mut obj, &Summary::default());
    obj.insert("parts".into(), Value::Array(Vec::new()));
    eprintln!("{path}: {err}");
    obj.insert(
        "defects".into(),
        json!([{ "kind": "io-error", "offset": 0 }]),
    );
    obj
}

fn print_text(out: &mut impl Write, path: &str, bytes: &[u8]) -> std::io::Result<()> {
    let msg = Message::parse(bytes);
    writeln!(out, "==> {path}")?;
    for f in msg.fields() {
        let value = mailwire::message::decode_unstructured(f.raw_value());
        writeln!(out, "{}: {}", f.name(), value)?;
    }
    let s = msg.summary();
    if let Some(d) = s.date {
        writeln!(out, "  (date: {})", d.to_rfc3339())?;
    }
    for m in s
        .from
        .iter()
        .chain(s.to.mailboxes())
        .chain(s.cc.mailboxes())
    {
        writeln!(out, "  (address: {} name: {:?})", m.addr_spec(), m.name())?;
    }
    for d in &s.defects {
        writeln!(out, "  (defect: {} at {})", d.kind, d.offset)?;
    }
    writeln!(out, "  (body: {} bytes)", msg.body().len())?;
    for p in leaf_parts(&mailwire::mime::Message::parse(bytes)) {
        writeln!(
            out,
            "  (part {}: {} {} bytes{}{})",
            p.section,
            p.content_type,
            p.size,
            p.filename
                .as_deref()
                .map(|f| format!(" filename {f:?}"))
                .unwrap_or_default(),
            p.disposition
                .as_deref()
                .map(|d| format!(" {d}"))
                .unwrap_or_default(),
        )?;
    }
    Ok(())
}

fn main() {
    let (mut json_mode, mut stream, mut tree) = (false, false, false);
    let mut files = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--json" => json_mode = true,
            "--stream" => stream = true,
            "--tree" => tree = true,
            _ => files.push(arg),
        }
    }
    if files.is_empty() {
        eprintln!("usage: parse [--json] [--stream] [--tree] FILE...");
        std::process::exit(2);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for path in &files {
        let result = if json_mode && stream {
            match stream_json(path) {
                Ok(obj) => writeln!(out, "{}", Value::Object(obj)),
                Err(e) => writeln!(out, "{}", Value::Object(io_error_json(path, &e))),
            }
        } else {
            match std::fs::read(path) {
                Ok(bytes) if tree => write!(
                    out,
                    "==> {path}\n{}",
                    outline(&mailwire::mime::Message::parse(&bytes))
                ),
                Ok(bytes) if json_mode => {
                    writeln!(out, "{}", Value::Object(file_json(path, &bytes)))
                }
                Ok(bytes) => print_text(&mut out, path, &bytes),
                Err(e) if json_mode => writeln!(out, "{}", Value::Object(io_error_json(path, &e))),
                Err(e) => writeln!(out, "==> {path}\n  (error: {e})"),
            }
        };
        if result.is_err() {
            // stdout closed (e.g. piped into head): stop quietly.
            break;
        }
    }
    let _ = out.flush();
}
