//! Responses.

use super::Encoder;
use crate::types::command::StatusAttr;
use crate::types::core::IString;
use crate::types::response::{
    Code, Data, ESearchItem, ListItem, Namespace, Response, StatusItem, StatusKind, Thread,
};

pub(crate) fn status_attr_name(a: StatusAttr) -> &'static [u8] {
    match a {
        StatusAttr::Messages => b"MESSAGES",
        StatusAttr::Recent => b"RECENT",
        StatusAttr::UidNext => b"UIDNEXT",
        StatusAttr::UidValidity => b"UIDVALIDITY",
        StatusAttr::Unseen => b"UNSEEN",
        StatusAttr::Deleted => b"DELETED",
        StatusAttr::Size => b"SIZE",
        StatusAttr::HighestModSeq => b"HIGHESTMODSEQ",
        StatusAttr::AppendLimit => b"APPENDLIMIT",
        StatusAttr::MailboxId => b"MAILBOXID",
    }
}

impl Encoder<'_> {
    fn code(&mut self, c: &Code<'_>) {
        match c {
            Code::Alert => self.raw(b"ALERT"),
            Code::BadCharset(l) => {
                self.raw(b"BADCHARSET");
                if !l.is_empty() {
                    self.sp();
                    self.list(l, |e, s| e.astring(s));
                }
            }
            Code::Capability(l) => {
                self.raw(b"CAPABILITY ");
                self.sep(l, |e, a| e.atom(a));
            }
            Code::Parse => self.raw(b"PARSE"),
            Code::PermanentFlags(f) => {
                self.raw(b"PERMANENTFLAGS ");
                self.flag_list(f);
            }
            Code::ReadOnly => self.raw(b"READ-ONLY"),
            Code::ReadWrite => self.raw(b"READ-WRITE"),
            Code::TryCreate => self.raw(b"TRYCREATE"),
            Code::UidNext(n) => {
                self.raw(b"UIDNEXT ");
                self.num(u64::from(n.get()));
            }
            Code::UidValidity(n) => {
                self.raw(b"UIDVALIDITY ");
                self.num(u64::from(n.get()));
            }
            Code::Unseen(n) => {
                self.raw(b"UNSEEN ");
                self.num(u64::from(n.get()));
            }
            Code::AppendUid { uidvalidity, uids } => {
                self.raw(b"APPENDUID ");
                self.num(u64::from(uidvalidity.get()));
                self.sp();
                self.sequence_set(uids);
            }
            Code::CopyUid {
                uidvalidity,
                source,
                destination,
            } => {
                self.raw(b"COPYUID ");
                self.num(u64::from(uidvalidity.get()));
                self.sp();
                self.sequence_set(source);
                self.sp();
                self.sequence_set(destination);
            }
            Code::UidNotSticky => self.raw(b"UIDNOTSTICKY"),
            Code::HighestModSeq(n) => {
                self.raw(b"HIGHESTMODSEQ ");
                self.num(*n);
            }
            Code::NoModSeq => self.raw(b"NOMODSEQ"),
            Code::Modified(s) => {
                self.raw(b"MODIFIED ");
                self.sequence_set(s);
            }
            Code::Closed => self.raw(b"CLOSED"),
            Code::MetadataLongEntries(n) => {
                self.raw(b"METADATA LONGENTRIES ");
                self.num(u64::from(*n));
            }
            Code::MetadataMaxSize(n) => {
                self.raw(b"METADATA MAXSIZE ");
                self.num(u64::from(*n));
            }
            Code::MetadataTooMany => self.raw(b"METADATA TOOMANY"),
            Code::MetadataNoPrivate => self.raw(b"METADATA NOPRIVATE"),
            // RFC 8474 §7: `"MAILBOXID" SP "(" objectid ")"`.
            Code::MailboxId(id) => {
                self.raw(b"MAILBOXID ");
                self.paren_object_id(id);
            }
            Code::Simple(a) => self.atom(a),
            Code::Other(a, t) => {
                self.atom(a);
                self.sp();
                // `]` would end the code early: drop it (the type allows it, the grammar does not).
                for &b in t.as_bytes() {
                    if b != b']' {
                        self.out.push(b);
                    }
                }
            }
        }
    }

    fn resp_text(&mut self, code: &Option<Code<'_>>, text: &crate::types::core::Text<'_>) {
        if let Some(c) = code {
            self.out.push(b'[');
            self.code(c);
            self.out.push(b']');
            if !text.as_bytes().is_empty() {
                self.sp();
            }
        } else if text.as_bytes().first() == Some(&b'[') {
            // Text that starts with `[` would read as a code: the RFC grammar has
            // no escape, so we keep it and rely on the lenient parser's fallback.
        }
        self.raw(text.as_bytes());
    }

    fn list_item(&mut self, name: &[u8], l: &ListItem<'_>) {
        self.raw(name);
        self.sp();
        self.list(&l.attributes, |e, a| {
            e.out.push(b'\\');
            e.atom(a);
        });
        self.sp();
        self.delimiter(l.delimiter);
        self.sp();
        self.mailbox(&l.mailbox);
        if !l.extended.is_empty() {
            self.sp();
            self.list(&l.extended, |e, (t, v)| {
                e.astring(t);
                e.sp();
                e.value(v);
            });
        }
    }

    fn namespaces(&mut self, l: &[Namespace<'_>]) {
        if l.is_empty() {
            self.raw(b"NIL");
            return;
        }
        self.out.push(b'(');
        for n in l {
            self.out.push(b'(');
            self.string(&n.prefix);
            self.sp();
            self.delimiter(n.delimiter);
            for (name, vals) in &n.extensions {
                self.sp();
                self.string(name);
                self.sp();
                self.list(vals, |e, s| e.string(s));
            }
            self.out.push(b')');
        }
        self.out.push(b')');
    }

    pub(crate) fn id_params(&mut self, p: &Option<Vec<(IString<'_>, Option<IString<'_>>)>>) {
        match p {
            None => self.raw(b"NIL"),
            Some(p) => self.list(p, |e, (k, v)| {
                e.string(k);
                e.sp();
                e.nstring(v);
            }),
        }
    }

    fn thread(&mut self, t: &Thread) {
        self.out.push(b'(');
        self.sep(&t.chain, |e, n| e.num(u64::from(*n)));
        if !t.chain.is_empty() && !t.children.is_empty() {
            self.sp();
        }
        for c in &t.children {
            self.thread(c);
        }
        self.out.push(b')');
    }

    fn numbers_modseq(&mut self, name: &[u8], numbers: &[u32], modseq: Option<u64>) {
        self.raw(name);
        for n in numbers {
            self.sp();
            self.num(u64::from(*n));
        }
        if let Some(m) = modseq {
            self.raw(b" (MODSEQ ");
            self.num(m);
            self.out.push(b')');
        }
    }

    fn data(&mut self, d: &Data<'_>) {
        match d {
            Data::Capability(l) => {
                self.raw(b"CAPABILITY ");
                self.sep(l, |e, a| e.atom(a));
            }
            Data::Enabled(l) => {
                self.raw(b"ENABLED");
                for a in l {
                    self.sp();
                    self.atom(a);
                }
            }
            Data::List(l) => self.list_item(b"LIST", l),
            Data::Lsub(l) => self.list_item(b"LSUB", l),
            Data::XList(l) => self.list_item(b"XLIST", l),
            Data::Status { mailbox, items } => {
                self.raw(b"STATUS ");
                self.mailbox(mailbox);
                self.sp();
                self.list(items, |e, it| match it {
                    StatusItem::Number(a, n) => {
                        e.raw(status_attr_name(*a));
                        e.sp();
                        match n {
                            Some(n) => e.num(*n),
                            None => e.raw(b"NIL"),
                        }
                    }
                    StatusItem::MailboxId(id) => {
                        e.raw(b"MAILBOXID ");
                        e.paren_object_id(id);
                    }
                });
            }
            Data::Search { numbers, modseq } => self.numbers_modseq(b"SEARCH", numbers, *modseq),
            Data::Sort { numbers, modseq } => self.numbers_modseq(b"SORT", numbers, *modseq),
            Data::Thread(l) => {
                self.raw(b"THREAD");
                if !l.is_empty() {
                    self.sp();
                }
                for t in l {
                    self.thread(t);
                }
            }
            Data::ESearch { tag, uid, items } => {
                self.raw(b"ESEARCH");
                if let Some(t) = tag {
                    self.raw(b" (TAG ");
                    self.string(t);
                    self.out.push(b')');
                }
                if *uid {
                    self.raw(b" UID");
                }
                for it in items {
                    self.sp();
                    match it {
                        ESearchItem::Min(n) => {
                            self.raw(b"MIN ");
                            self.num(u64::from(*n));
                        }
                        ESearchItem::Max(n) => {
                            self.raw(b"MAX ");
                            self.num(u64::from(*n));
                        }
                        ESearchItem::Count(n) => {
                            self.raw(b"COUNT ");
                            self.num(u64::from(*n));
                        }
                        ESearchItem::ModSeq(n) => {
                            self.raw(b"MODSEQ ");
                            self.num(*n);
                        }
                        ESearchItem::All(s) => {
                            self.raw(b"ALL ");
                            self.sequence_set(s);
                        }
                        ESearchItem::Partial { range, set } => {
                            self.raw(b"PARTIAL (");
                            self.partial_range(range);
                            self.sp();
                            match set {
                                Some(s) => self.sequence_set(s),
                                None => self.raw(b"NIL"),
                            }
                            self.out.push(b')');
                        }
                        ESearchItem::Other(a, v) => {
                            self.atom(a);
                            self.sp();
                            self.value(v);
                        }
                    }
                }
            }
            Data::Flags(f) => {
                self.raw(b"FLAGS ");
                self.flag_list(f);
            }
            Data::Exists(n) => {
                self.num(u64::from(*n));
                self.raw(b" EXISTS");
            }
            Data::Recent(n) => {
                self.num(u64::from(*n));
                self.raw(b" RECENT");
            }
            Data::Expunge(n) => {
                self.num(u64::from(n.get()));
                self.raw(b" EXPUNGE");
            }
            Data::Vanished { earlier, uids } => {
                self.raw(if *earlier {
                    b"VANISHED (EARLIER) "
                } else {
                    b"VANISHED "
                });
                self.sequence_set(uids);
            }
            Data::Fetch { seq, items } => {
                self.num(u64::from(seq.get()));
                self.raw(b" FETCH ");
                self.list(items, |e, it| e.fetch_item(it));
            }
            Data::Namespace {
                personal,
                other,
                shared,
            } => {
                self.raw(b"NAMESPACE ");
                self.namespaces(personal);
                self.sp();
                self.namespaces(other);
                self.sp();
                self.namespaces(shared);
            }
            Data::Id(p) => {
                self.raw(b"ID ");
                self.id_params(p);
            }
            Data::Quota { root, resources } => {
                self.raw(b"QUOTA ");
                self.astring(root);
                self.sp();
                self.list(resources, |e, (name, usage, limit)| {
                    e.atom(name);
                    e.sp();
                    e.num(*usage);
                    e.sp();
                    e.num(*limit);
                });
            }
            Data::QuotaRoot { mailbox, roots } => {
                self.raw(b"QUOTAROOT ");
                self.mailbox(mailbox);
                for r in roots {
                    self.sp();
                    self.astring(r);
                }
            }
            Data::Metadata { mailbox, entries } => {
                self.raw(b"METADATA ");
                self.mailbox(mailbox);
                self.sp();
                self.list(entries, |e, (k, v)| {
                    e.astring(k);
                    e.sp();
                    e.nstring(v);
                });
            }
            Data::MetadataKeys { mailbox, entries } => {
                self.raw(b"METADATA ");
                self.mailbox(mailbox);
                self.sp();
                self.sep(entries, |e, k| e.astring(k));
            }
            Data::Acl { mailbox, entries } => {
                self.raw(b"ACL ");
                self.mailbox(mailbox);
                for (who, rights) in entries {
                    self.sp();
                    self.astring(who);
                    self.sp();
                    self.astring(rights);
                }
            }
            Data::ListRights {
                mailbox,
                identifier,
                rights,
            } => {
                self.raw(b"LISTRIGHTS ");
                self.mailbox(mailbox);
                self.sp();
                self.astring(identifier);
                self.sp();
                self.sep(rights, |e, r| e.astring(r));
            }
            Data::MyRights { mailbox, rights } => {
                self.raw(b"MYRIGHTS ");
                self.mailbox(mailbox);
                self.sp();
                self.astring(rights);
            }
            Data::Other { name, number, rest } => {
                if let Some(n) = number {
                    self.num(u64::from(*n));
                    self.sp();
                }
                self.atom(name);
                self.raw(rest.as_bytes());
            }
        }
    }

    pub(crate) fn response(&mut self, r: &Response<'_>) {
        match r {
            Response::Continue(c) => {
                self.raw(b"+ ");
                self.resp_text(&c.code, &c.text);
            }
            Response::Data(d) => {
                self.raw(b"* ");
                self.data(d);
            }
            Response::Status(s) => {
                match &s.tag {
                    Some(t) => self.raw(t.as_str().as_bytes()),
                    None => self.out.push(b'*'),
                }
                self.raw(match s.kind {
                    StatusKind::Ok => b" OK",
                    StatusKind::No => b" NO",
                    StatusKind::Bad => b" BAD",
                    StatusKind::PreAuth => b" PREAUTH",
                    StatusKind::Bye => b" BYE",
                });
                if s.code.is_some() || !s.text.as_bytes().is_empty() {
                    self.sp();
                }
                self.resp_text(&s.code, &s.text);
            }
        }
        self.crlf();
    }
}
