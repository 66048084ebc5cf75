//! Print the header fields of messages.
//!
//! ```text
//! cargo run --release --example parse -- [--json] FILE...
//! ```
//!
//! Without `--json`, each file's fields are listed with their decoded
//! values. With `--json`, one JSON object per file, one per line:
//!
//! ```text
//! {"file": "path", "subject": "decoded text" | null,
//!  "from": [{"name": "decoded display name" | null, "address": "local@domain"}],
//!  "to": [...], "cc": [...], "reply_to": [...],   (group members listed, not the group's name)
//!  "date": "2005-05-17T15:58:25+02:00" | null,    (RFC 3339 with the message's own offset)
//!  "message_id": "id without angle brackets" | null,
//!  "defects": [{"kind": "...", "offset": 123}]}
//! ```
//!
//! A file that is not a message still yields an object (fields null,
//! defects saying why) and the program goes on with the next file. A file
//! that cannot be read gives an object with an `io-error` defect.

use std::io::Write;

use mailwire::message::{AddressList, Defect, Mailbox, Message, Summary};
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

/// One file's JSON object. `defects` collects the defects of every layer.
fn file_json(path: &str, bytes: &[u8]) -> Map<String, Value> {
    let msg = Message::parse(bytes);
    let summary = msg.summary();
    let mut obj = Map::new();
    obj.insert("file".into(), json!(path));
    header_keys(&mut obj, &summary);
    let defects = summary.defects.clone();
    obj.insert("defects".into(), defects_json(&defects));
    obj
}

fn io_error_json(path: &str, err: &std::io::Error) -> Map<String, Value> {
    let mut obj = Map::new();
    obj.insert("file".into(), json!(path));
    header_keys(&mut obj, &Summary::default());
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
    writeln!(out, "  (body: {} bytes)", msg.body().len())
}

fn main() {
    let mut json_mode = false;
    let mut files = Vec::new();
    for arg in std::env::args().skip(1) {
        if arg == "--json" {
            json_mode = true;
        } else {
            files.push(arg);
        }
    }
    if files.is_empty() {
        eprintln!("usage: parse [--json] FILE...");
        std::process::exit(2);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for path in &files {
        let result = match std::fs::read(path) {
            Ok(bytes) if json_mode => writeln!(out, "{}", Value::Object(file_json(path, &bytes))),
            Ok(bytes) => print_text(&mut out, path, &bytes),
            Err(e) if json_mode => writeln!(out, "{}", Value::Object(io_error_json(path, &e))),
            Err(e) => writeln!(out, "==> {path}\n  (error: {e})"),
        };
        if result.is_err() {
            // stdout closed (e.g. piped into head): stop quietly.
            break;
        }
    }
    let _ = out.flush();
}
