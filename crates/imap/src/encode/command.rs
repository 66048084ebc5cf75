//! Commands.

use super::Encoder;
use super::response::status_attr_name;
use crate::types::command::{
    Command, CommandBody, FetchModifier, ListReturn, ListSelect, SearchReturn, SelectParam,
    SortKey, StoreKind,
};
use crate::types::core::IString;
use crate::types::mailbox::Mailbox;

impl Encoder<'_> {
    fn select_params(&mut self, p: &[SelectParam]) {
        if p.is_empty() {
            return;
        }
        self.sp();
        self.list(p, |e, p| match p {
            SelectParam::CondStore => e.raw(b"CONDSTORE"),
            SelectParam::QResync {
                uidvalidity,
                modseq,
                known_uids,
                seq_match,
            } => {
                e.raw(b"QRESYNC (");
                e.num(u64::from(*uidvalidity));
                e.sp();
                e.num(*modseq);
                if let Some(k) = known_uids {
                    e.sp();
                    e.sequence_set(k);
                }
                if let Some((a, b)) = seq_match {
                    e.raw(b" (");
                    e.sequence_set(a);
                    e.sp();
                    e.sequence_set(b);
                    e.out.push(b')');
                }
                e.out.push(b')');
            }
        });
    }

    /// `list-mailbox`: list-chars as they are, else a string.
    fn list_mailbox(&mut self, s: &IString<'_>) {
        let b = s.as_bytes();
        let ok = |c: u8| crate::types::core::is_atom_char(c) || c == b'%' || c == b'*' || c == b']';
        if !b.is_empty() && b.iter().all(|&c| ok(c)) {
            self.raw(b);
        } else {
            self.string(s);
        }
    }

    fn uid(&mut self, uid: bool) {
        if uid {
            self.raw(b"UID ");
        }
    }

    fn set_mailbox(
        &mut self,
        name: &[u8],
        uid: bool,
        set: &crate::SequenceSet,
        mailbox: &Mailbox<'_>,
    ) {
        self.uid(uid);
        self.raw(name);
        self.sp();
        self.sequence_set(set);
        self.sp();
        self.mailbox(mailbox);
    }

    pub(crate) fn command(&mut self, c: &Command<'_>) {
        self.raw(c.tag.as_str().as_bytes());
        self.sp();
        match &c.body {
            CommandBody::Capability => self.raw(b"CAPABILITY"),
            CommandBody::Noop => self.raw(b"NOOP"),
            CommandBody::Logout => self.raw(b"LOGOUT"),
            CommandBody::StartTls => self.raw(b"STARTTLS"),
            CommandBody::Namespace => self.raw(b"NAMESPACE"),
            CommandBody::Idle => self.raw(b"IDLE"),
            CommandBody::Check => self.raw(b"CHECK"),
            CommandBody::Close => self.raw(b"CLOSE"),
            CommandBody::Unselect => self.raw(b"UNSELECT"),
            CommandBody::Unauthenticate => self.raw(b"UNAUTHENTICATE"),
            CommandBody::Expunge => self.raw(b"EXPUNGE"),
            CommandBody::Authenticate {
                mechanism,
                initial_response,
            } => {
                self.raw(b"AUTHENTICATE ");
                self.atom(mechanism);
                if let Some(ir) = initial_response {
                    self.sp();
                    self.atom(ir.expose());
                }
            }
            CommandBody::Login { username, password } => {
                self.raw(b"LOGIN ");
                self.astring(username);
                self.sp();
                self.astring(password.expose());
            }
            CommandBody::Compress { algorithm } => {
                self.raw(b"COMPRESS ");
                self.atom(algorithm);
            }
            CommandBody::Enable(caps) => {
                self.raw(b"ENABLE ");
                self.sep(caps, |e, a| e.atom(a));
            }
            CommandBody::Select { mailbox, params } => {
                self.raw(b"SELECT ");
                self.mailbox(mailbox);
                self.select_params(params);
            }
            CommandBody::Examine { mailbox, params } => {
                self.raw(b"EXAMINE ");
                self.mailbox(mailbox);
                self.select_params(params);
            }
            CommandBody::Create {
                mailbox,
                special_use,
            } => {
                self.raw(b"CREATE ");
                self.mailbox(mailbox);
                if !special_use.is_empty() {
                    self.raw(b" (USE ");
                    self.list(special_use, |e, a| {
                        e.out.push(b'\\');
                        e.atom(a);
                    });
                    self.out.push(b')');
                }
            }
            CommandBody::Delete(m) => {
                self.raw(b"DELETE ");
                self.mailbox(m);
            }
            CommandBody::Subscribe(m) => {
                self.raw(b"SUBSCRIBE ");
                self.mailbox(m);
            }
            CommandBody::Unsubscribe(m) => {
                self.raw(b"UNSUBSCRIBE ");
                self.mailbox(m);
            }
            CommandBody::Rename { from, to } => {
                self.raw(b"RENAME ");
                self.mailbox(from);
                self.sp();
                self.mailbox(to);
            }
            CommandBody::List {
                select,
                reference,
                patterns,
                return_opts,
            } => {
                self.raw(b"LIST ");
                if !select.is_empty() {
                    self.list(select, |e, s| {
                        e.raw(match s {
                            ListSelect::Subscribed => b"SUBSCRIBED",
                            ListSelect::Remote => b"REMOTE",
                            ListSelect::RecursiveMatch => b"RECURSIVEMATCH",
                            ListSelect::SpecialUse => b"SPECIAL-USE",
                        })
                    });
                    self.sp();
                }
                self.mailbox(reference);
                self.sp();
                if patterns.len() == 1 {
                    self.list_mailbox(&patterns[0]);
                } else {
                    self.list(patterns, |e, p| e.list_mailbox(p));
                }
                if !return_opts.is_empty() {
                    self.raw(b" RETURN ");
                    self.list(return_opts, |e, r| match r {
                        ListReturn::Subscribed => e.raw(b"SUBSCRIBED"),
                        ListReturn::Children => e.raw(b"CHILDREN"),
                        ListReturn::SpecialUse => e.raw(b"SPECIAL-USE"),
                        ListReturn::Status(items) => {
                            e.raw(b"STATUS ");
                            e.list(items, |e, a| e.raw(status_attr_name(*a)));
                        }
                    });
                }
            }
            CommandBody::Lsub { reference, pattern } => {
                self.raw(b"LSUB ");
                self.mailbox(reference);
                self.sp();
                self.list_mailbox(pattern);
            }
            CommandBody::Status { mailbox, items } => {
                self.raw(b"STATUS ");
                self.mailbox(mailbox);
                self.sp();
                self.list(items, |e, a| e.raw(status_attr_name(*a)));
            }
            CommandBody::Append { mailbox, messages } => {
                self.raw(b"APPEND ");
                self.mailbox(mailbox);
                for m in messages {
                    self.sp();
                    if !m.flags.is_empty() {
                        self.flag_list(&m.flags);
                        self.sp();
                    }
                    if let Some(d) = &m.date {
                        self.date_time(d);
                        self.sp();
                    }
                    if m.utf8 {
                        self.raw(b"UTF8 (");
                        self.literal(&m.message.0, true);
                        self.out.push(b')');
                    } else {
                        self.binary(&m.message);
                    }
                }
            }
            CommandBody::UidExpunge(s) => {
                self.raw(b"UID EXPUNGE ");
                self.sequence_set(s);
            }
            CommandBody::Search {
                uid,
                return_opts,
                charset,
                criteria,
            } => {
                self.uid(*uid);
                self.raw(b"SEARCH");
                if let Some(r) = return_opts {
                    self.raw(b" RETURN ");
                    self.list(r, |e, r| match r {
                        SearchReturn::Min => e.raw(b"MIN"),
                        SearchReturn::Max => e.raw(b"MAX"),
                        SearchReturn::All => e.raw(b"ALL"),
                        SearchReturn::Count => e.raw(b"COUNT"),
                        SearchReturn::Save => e.raw(b"SAVE"),
                        SearchReturn::Partial(range) => {
                            e.raw(b"PARTIAL ");
                            e.partial_range(range);
                        }
                    });
                }
                if let Some(c) = charset {
                    self.raw(b" CHARSET ");
                    self.astring(c);
                }
                self.sp();
                self.search_keys(criteria);
            }
            CommandBody::Fetch {
                uid,
                set,
                attrs,
                modifiers,
            } => {
                self.uid(*uid);
                self.raw(b"FETCH ");
                self.sequence_set(set);
                self.sp();
                self.fetch_attrs(attrs);
                if !modifiers.is_empty() {
                    self.sp();
                    self.list(modifiers, |e, m| match m {
                        FetchModifier::ChangedSince(n) => {
                            e.raw(b"CHANGEDSINCE ");
                            e.num(*n);
                        }
                        FetchModifier::Vanished => e.raw(b"VANISHED"),
                    });
                }
            }
            CommandBody::Store {
                uid,
                set,
                unchanged_since,
                kind,
                silent,
                flags,
            } => {
                self.uid(*uid);
                self.raw(b"STORE ");
                self.sequence_set(set);
                self.sp();
                if let Some(n) = unchanged_since {
                    self.raw(b"(UNCHANGEDSINCE ");
                    self.num(*n);
                    self.raw(b") ");
                }
                self.raw(match kind {
                    StoreKind::Replace => b"FLAGS",
                    StoreKind::Add => b"+FLAGS",
                    StoreKind::Remove => b"-FLAGS",
                });
                if *silent {
                    self.raw(b".SILENT");
                }
                self.sp();
                self.flag_list(flags);
            }
            CommandBody::Copy { uid, set, mailbox } => {
                self.set_mailbox(b"COPY", *uid, set, mailbox)
            }
            CommandBody::Move { uid, set, mailbox } => {
                self.set_mailbox(b"MOVE", *uid, set, mailbox)
            }
            CommandBody::Sort {
                uid,
                criteria,
                charset,
                search,
            } => {
                self.uid(*uid);
                self.raw(b"SORT ");
                self.list(criteria, |e, c| {
                    if c.reverse {
                        e.raw(b"REVERSE ");
                    }
                    e.raw(match c.key {
                        SortKey::Arrival => b"ARRIVAL",
                        SortKey::Cc => b"CC",
                        SortKey::Date => b"DATE",
                        SortKey::From => b"FROM",
                        SortKey::Size => b"SIZE",
                        SortKey::Subject => b"SUBJECT",
                        SortKey::To => b"TO",
                        SortKey::DisplayFrom => b"DISPLAYFROM",
                        SortKey::DisplayTo => b"DISPLAYTO",
                    });
                });
                self.sp();
                self.astring(charset);
                self.sp();
                self.search_keys(search);
            }
            CommandBody::Thread {
                uid,
                algorithm,
                charset,
                search,
            } => {
                self.uid(*uid);
                self.raw(b"THREAD ");
                // A name: the two of RFC 5256, or an atom.
                self.raw(algorithm.name().as_bytes());
                self.sp();
                self.astring(charset);
                self.sp();
                self.search_keys(search);
            }
            CommandBody::Id(p) => {
                self.raw(b"ID ");
                self.id_params(p);
            }
            CommandBody::GetQuota(r) => {
                self.raw(b"GETQUOTA ");
                self.astring(r);
            }
            CommandBody::GetQuotaRoot(m) => {
                self.raw(b"GETQUOTAROOT ");
                self.mailbox(m);
            }
            CommandBody::SetQuota { root, limits } => {
                self.raw(b"SETQUOTA ");
                self.astring(root);
                self.sp();
                self.list(limits, |e, (a, n)| {
                    e.atom(a);
                    e.sp();
                    e.num(*n);
                });
            }
            CommandBody::GetMetadata {
                options,
                mailbox,
                entries,
            } => {
                self.raw(b"GETMETADATA ");
                let mut opts: Vec<(bool, u32)> = Vec::new();
                if let Some(n) = options.max_size {
                    opts.push((true, n));
                }
                if let Some(n) = options.depth {
                    opts.push((false, n));
                }
                if !opts.is_empty() {
                    self.list(&opts, |e, (is_size, n)| {
                        if *is_size {
                            e.raw(b"MAXSIZE ");
                            e.num(u64::from(*n));
                        } else if *n == u32::MAX {
                            e.raw(b"DEPTH infinity");
                        } else {
                            e.raw(b"DEPTH ");
                            e.num(u64::from(*n));
                        }
                    });
                    self.sp();
                }
                self.mailbox(mailbox);
                self.sp();
                if entries.len() == 1 {
                    self.astring(&entries[0]);
                } else {
                    self.list(entries, |e, s| e.astring(s));
                }
            }
            CommandBody::SetMetadata { mailbox, entries } => {
                self.raw(b"SETMETADATA ");
                self.mailbox(mailbox);
                self.sp();
                self.list(entries, |e, (k, v)| {
                    e.astring(k);
                    e.sp();
                    e.nstring(v);
                });
            }
        }
        self.crlf();
    }
}
