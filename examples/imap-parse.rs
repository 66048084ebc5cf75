//! Parses files as IMAP byte streams and prints one line per message.
//!
//! ```text
//! cargo run --release --example imap-parse -- [--responses | --commands] FILE...
//! ```
//!
//! Each file is read as a stream of server responses (the default) or of
//! client commands, split into messages by the literal-aware fragmenter and
//! parsed. Each message prints as its kind, its tag and, for FETCH, the
//! attributes. A file without any CRLF is taken to be a recording stored with
//! LF line ends (like ../shared/corpus/imap/) and each LF becomes CRLF first.
//! On the first failure the program prints the file, the byte offset and what
//! was expected, and exits with status 1.

use std::io::Write;
use std::process::ExitCode;

use mailwire::imap::{
    self, Command, CommandBody, Data, FetchAttr, FetchAttrs, FetchItem, FragmentOptions,
    Fragmenter, Frame, Response, StatusKind,
};

fn fetch_item_name(it: &FetchItem<'_>) -> String {
    match it {
        FetchItem::Flags(_) => "FLAGS".into(),
        FetchItem::Envelope(_) => "ENVELOPE".into(),
        FetchItem::InternalDate(_) => "INTERNALDATE".into(),
        FetchItem::Rfc822(_) => "RFC822".into(),
        FetchItem::Rfc822Header(_) => "RFC822.HEADER".into(),
        FetchItem::Rfc822Text(_) => "RFC822.TEXT".into(),
        FetchItem::Rfc822Size(_) => "RFC822.SIZE".into(),
        FetchItem::Body(_) => "BODY".into(),
        FetchItem::BodyStructure(_) => "BODYSTRUCTURE".into(),
        FetchItem::BodySection { data, .. } => {
            format!(
                "BODY[...]({} bytes)",
                data.as_ref().map_or(0, |d| d.as_bytes().len())
            )
        }
        FetchItem::Binary { data, .. } => format!(
            "BINARY[...]({} bytes)",
            data.as_ref().map_or(0, |d| d.0.len())
        ),
        FetchItem::BinarySize { .. } => "BINARY.SIZE".into(),
        FetchItem::Uid(_) => "UID".into(),
        FetchItem::ModSeq(_) => "MODSEQ".into(),
        FetchItem::Preview(_) => "PREVIEW".into(),
        FetchItem::SaveDate(_) => "SAVEDATE".into(),
        FetchItem::EmailId(_) => "EMAILID".into(),
        FetchItem::ThreadId(_) => "THREADID".into(),
        FetchItem::GmailMsgId(_) => "X-GM-MSGID".into(),
        FetchItem::GmailThrId(_) => "X-GM-THRID".into(),
        FetchItem::GmailLabels(_) => "X-GM-LABELS".into(),
        FetchItem::Other { name, .. } => name.as_str().to_owned(),
    }
}

fn status_name(k: StatusKind) -> &'static str {
    match k {
        StatusKind::Ok => "OK",
        StatusKind::No => "NO",
        StatusKind::Bad => "BAD",
        StatusKind::PreAuth => "PREAUTH",
        StatusKind::Bye => "BYE",
    }
}

fn describe_response(r: &Response<'_>) -> String {
    match r {
        Response::Continue(_) => "continuation".into(),
        Response::Status(s) => match &s.tag {
            Some(t) => format!("tagged {} tag={}", status_name(s.kind), t),
            None => format!("untagged {}", status_name(s.kind)),
        },
        Response::Data(Data::Fetch { seq, items }) => {
            let names: Vec<String> = items.iter().map(fetch_item_name).collect();
            format!("untagged FETCH seq={seq} [{}]", names.join(" "))
        }
        Response::Data(d) => {
            let name = match d {
                Data::Capability(_) => "CAPABILITY",
                Data::Enabled(_) => "ENABLED",
                Data::List(_) => "LIST",
                Data::Lsub(_) => "LSUB",
                Data::XList(_) => "XLIST",
                Data::Status { .. } => "STATUS",
                Data::Search { .. } => "SEARCH",
                Data::Sort { .. } => "SORT",
                Data::Thread(_) => "THREAD",
                Data::ESearch { .. } => "ESEARCH",
                Data::Flags(_) => "FLAGS",
                Data::Exists(_) => "EXISTS",
                Data::Recent(_) => "RECENT",
                Data::Expunge(_) => "EXPUNGE",
                Data::Vanished { .. } => "VANISHED",
                Data::Namespace { .. } => "NAMESPACE",
                Data::Id(_) => "ID",
                Data::Quota { .. } => "QUOTA",
                Data::QuotaRoot { .. } => "QUOTAROOT",
                Data::Metadata { .. } | Data::MetadataKeys { .. } => "METADATA",
                Data::Acl { .. } => "ACL",
                Data::ListRights { .. } => "LISTRIGHTS",
                Data::MyRights { .. } => "MYRIGHTS",
                Data::Other { name, .. } => return format!("untagged {} (unknown)", name),
                _ => "data",
            };
            format!("untagged {name}")
        }
    }
}

fn fetch_attr_name(a: &FetchAttr<'_>) -> String {
    match a {
        FetchAttr::BodySection { peek: true, .. } => "BODY.PEEK[...]".into(),
        FetchAttr::BodySection { .. } => "BODY[...]".into(),
        FetchAttr::Binary { .. } => "BINARY[...]".into(),
        FetchAttr::BinarySize(_) => "BINARY.SIZE[...]".into(),
        FetchAttr::Other(a) => a.as_str().to_owned(),
        FetchAttr::Envelope => "ENVELOPE".into(),
        FetchAttr::Flags => "FLAGS".into(),
        FetchAttr::InternalDate => "INTERNALDATE".into(),
        FetchAttr::Rfc822 => "RFC822".into(),
        FetchAttr::Rfc822Header => "RFC822.HEADER".into(),
        FetchAttr::Rfc822Size => "RFC822.SIZE".into(),
        FetchAttr::Rfc822Text => "RFC822.TEXT".into(),
        FetchAttr::Body => "BODY".into(),
        FetchAttr::BodyStructure => "BODYSTRUCTURE".into(),
        FetchAttr::Uid => "UID".into(),
        FetchAttr::ModSeq => "MODSEQ".into(),
        FetchAttr::SaveDate => "SAVEDATE".into(),
        FetchAttr::EmailId => "EMAILID".into(),
        FetchAttr::ThreadId => "THREADID".into(),
        FetchAttr::Preview { lazy: true } => "PREVIEW (LAZY)".into(),
        FetchAttr::Preview { .. } => "PREVIEW".into(),
    }
}

fn describe_command(c: &Command<'_>) -> String {
    let mut s = format!("command {} tag={}", c.body.name(), c.tag);
    if let CommandBody::Fetch { attrs, .. } = &c.body {
        let names: Vec<String> = match attrs {
            FetchAttrs::All => vec!["ALL".into()],
            FetchAttrs::Fast => vec!["FAST".into()],
            FetchAttrs::Full => vec!["FULL".into()],
            FetchAttrs::List(l) => l.iter().map(fetch_attr_name).collect(),
        };
        s.push_str(&format!(" [{}]", names.join(" ")));
    }
    s
}

fn to_crlf(data: Vec<u8>) -> Vec<u8> {
    if memchr_crlf(&data) || !data.contains(&b'\n') {
        return data;
    }
    let mut out = Vec::with_capacity(data.len() + data.len() / 16);
    for b in data {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

fn memchr_crlf(data: &[u8]) -> bool {
    data.windows(2).any(|w| w == b"\r\n")
}

fn main() -> ExitCode {
    let mut commands = false;
    let mut files = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--responses" => commands = false,
            "--commands" => commands = true,
            "-h" | "--help" => {
                eprintln!("usage: imap-parse [--responses | --commands] FILE...");
                return ExitCode::SUCCESS;
            }
            _ => files.push(arg),
        }
    }
    if files.is_empty() {
        eprintln!("usage: imap-parse [--responses | --commands] FILE...");
        return ExitCode::from(2);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for file in &files {
        let data = match std::fs::read(file) {
            Ok(d) => to_crlf(d),
            Err(e) => {
                let _ = out.flush();
                eprintln!("{file}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut opts = FragmentOptions::default();
        // Recorded servers miscount a literal now and then; commands stay strict.
        opts.blank_line_after_literal_continues = !commands;
        let mut f = Fragmenter::new(opts);
        f.push(&data);
        loop {
            let start = f.consumed();
            match f.poll() {
                Ok(Some(Frame::LiteralAnnounced { .. })) => {}
                Ok(Some(Frame::Message(msg))) => {
                    let line = if commands {
                        imap::parse::command(&msg).map(|(c, _)| describe_command(&c))
                    } else {
                        imap::parse::response(&msg).map(|(r, _)| describe_response(&r))
                    };
                    match line {
                        Ok(l) => {
                            let _ = writeln!(out, "{file}: {l}");
                        }
                        Err(e) => {
                            let _ = out.flush();
                            eprintln!(
                                "{file}: parse error at byte {}: expected {}",
                                start + e.offset as u64,
                                e.expected
                            );
                            return ExitCode::FAILURE;
                        }
                    }
                }
                Ok(None) => {
                    if f.buffered() > 0 {
                        let _ = out.flush();
                        eprintln!(
                            "{file}: parse error at byte {}: expected CRLF (input ends inside a message)",
                            data.len()
                        );
                        return ExitCode::FAILURE;
                    }
                    break;
                }
                Err(e) => {
                    let _ = out.flush();
                    eprintln!("{file}: framing error at byte {}: {e}", f.consumed());
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    let _ = out.flush();
    ExitCode::SUCCESS
}
