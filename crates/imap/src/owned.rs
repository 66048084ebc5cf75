//! `into_owned` for the command types: detaches a parsed [`Command`] from
//! the receive buffer it borrows, so that the server machine can hand it to
//! the application inside an event (events carry owned payloads, STYLE.md (a)).

use crate::types::command::{AppendMessage, Command, CommandBody, ThreadAlgorithm};
use crate::types::core::{IString, NString};
use crate::types::fetch::{FetchAttr, FetchAttrs, Section, SectionText};
use crate::types::search::SearchKey;
use crate::types::secret::Secret;

fn owned_strings(v: Vec<IString<'_>>) -> Vec<IString<'static>> {
    v.into_iter().map(IString::into_owned).collect()
}

fn owned_pairs(v: Vec<(IString<'_>, NString<'_>)>) -> Vec<(IString<'static>, NString<'static>)> {
    v.into_iter()
        .map(|(k, v)| (k.into_owned(), v.map(IString::into_owned)))
        .collect()
}

impl Command<'_> {
    /// Detaches the command from the input it borrows.
    pub fn into_owned(self) -> Command<'static> {
        Command {
            tag: self.tag.into_owned(),
            body: self.body.into_owned(),
        }
    }
}

impl SectionText<'_> {
    /// Detaches the value from the input it borrows.
    pub fn into_owned(self) -> SectionText<'static> {
        match self {
            SectionText::Header => SectionText::Header,
            SectionText::HeaderFields(l) => SectionText::HeaderFields(owned_strings(l)),
            SectionText::HeaderFieldsNot(l) => SectionText::HeaderFieldsNot(owned_strings(l)),
            SectionText::Text => SectionText::Text,
            SectionText::Mime => SectionText::Mime,
        }
    }
}

impl Section<'_> {
    /// Detaches the value from the input it borrows.
    pub fn into_owned(self) -> Section<'static> {
        Section {
            part: self.part,
            text: self.text.map(SectionText::into_owned),
        }
    }
}

impl FetchAttr<'_> {
    /// Detaches the value from the input it borrows.
    pub fn into_owned(self) -> FetchAttr<'static> {
        match self {
            FetchAttr::Envelope => FetchAttr::Envelope,
            FetchAttr::Flags => FetchAttr::Flags,
            FetchAttr::InternalDate => FetchAttr::InternalDate,
            FetchAttr::Rfc822 => FetchAttr::Rfc822,
            FetchAttr::Rfc822Header => FetchAttr::Rfc822Header,
            FetchAttr::Rfc822Size => FetchAttr::Rfc822Size,
            FetchAttr::Rfc822Text => FetchAttr::Rfc822Text,
            FetchAttr::Body => FetchAttr::Body,
            FetchAttr::BodyStructure => FetchAttr::BodyStructure,
            FetchAttr::Uid => FetchAttr::Uid,
            FetchAttr::BodySection {
                peek,
                section,
                partial,
            } => FetchAttr::BodySection {
                peek,
                section: section.into_owned(),
                partial,
            },
            FetchAttr::Binary {
                peek,
                part,
                partial,
            } => FetchAttr::Binary {
                peek,
                part,
                partial,
            },
            FetchAttr::BinarySize(p) => FetchAttr::BinarySize(p),
            FetchAttr::ModSeq => FetchAttr::ModSeq,
            FetchAttr::Preview { lazy } => FetchAttr::Preview { lazy },
            FetchAttr::SaveDate => FetchAttr::SaveDate,
            FetchAttr::EmailId => FetchAttr::EmailId,
            FetchAttr::ThreadId => FetchAttr::ThreadId,
            FetchAttr::Other(a) => FetchAttr::Other(a.into_owned()),
        }
    }
}

impl FetchAttrs<'_> {
    /// Detaches the value from the input it borrows.
    pub fn into_owned(self) -> FetchAttrs<'static> {
        match self {
            FetchAttrs::All => FetchAttrs::All,
            FetchAttrs::Fast => FetchAttrs::Fast,
            FetchAttrs::Full => FetchAttrs::Full,
            FetchAttrs::List(l) => {
                FetchAttrs::List(l.into_iter().map(FetchAttr::into_owned).collect())
            }
        }
    }
}

impl SearchKey<'_> {
    /// Detaches the value from the input it borrows.
    pub fn into_owned(self) -> SearchKey<'static> {
        use SearchKey as K;
        match self {
            K::All => K::All,
            K::Answered => K::Answered,
            K::Bcc(s) => K::Bcc(s.into_owned()),
            K::Before(d) => K::Before(d),
            K::Body(s) => K::Body(s.into_owned()),
            K::Cc(s) => K::Cc(s.into_owned()),
            K::Deleted => K::Deleted,
            K::Draft => K::Draft,
            K::Flagged => K::Flagged,
            K::From(s) => K::From(s.into_owned()),
            K::Header(n, v) => K::Header(n.into_owned(), v.into_owned()),
            K::Keyword(a) => K::Keyword(a.into_owned()),
            K::Larger(n) => K::Larger(n),
            K::New => K::New,
            K::Not(k) => K::Not(Box::new(k.into_owned())),
            K::Old => K::Old,
            K::On(d) => K::On(d),
            K::Or(a, b) => K::Or(Box::new(a.into_owned()), Box::new(b.into_owned())),
            K::Recent => K::Recent,
            K::Seen => K::Seen,
            K::SentBefore(d) => K::SentBefore(d),
            K::SentOn(d) => K::SentOn(d),
            K::SentSince(d) => K::SentSince(d),
            K::Since(d) => K::Since(d),
            K::Smaller(n) => K::Smaller(n),
            K::Subject(s) => K::Subject(s.into_owned()),
            K::Text(s) => K::Text(s.into_owned()),
            K::To(s) => K::To(s.into_owned()),
            K::Uid(s) => K::Uid(s),
            K::Unanswered => K::Unanswered,
            K::Undeleted => K::Undeleted,
            K::Undraft => K::Undraft,
            K::Unflagged => K::Unflagged,
            K::Unkeyword(a) => K::Unkeyword(a.into_owned()),
            K::Unseen => K::Unseen,
            K::SequenceSet(s) => K::SequenceSet(s),
            K::And(l) => K::And(l.map(SearchKey::into_owned)),
            K::ModSeq { entry, modseq } => K::ModSeq {
                entry: entry.map(|(n, t)| (n.into_owned(), t)),
                modseq,
            },
            K::Older(n) => K::Older(n),
            K::Younger(n) => K::Younger(n),
            K::SavedBefore(d) => K::SavedBefore(d),
            K::SavedOn(d) => K::SavedOn(d),
            K::SavedSince(d) => K::SavedSince(d),
            K::SaveDateSupported => K::SaveDateSupported,
            K::EmailId(a) => K::EmailId(a.into_owned()),
            K::ThreadId(a) => K::ThreadId(a.into_owned()),
        }
    }
}

impl AppendMessage<'_> {
    /// Detaches the value from the input it borrows.
    pub fn into_owned(self) -> AppendMessage<'static> {
        AppendMessage {
            flags: self.flags.into_iter().map(|f| f.into_owned()).collect(),
            date: self.date,
            message: self.message.into_owned(),
            utf8: self.utf8,
        }
    }
}

impl ThreadAlgorithm<'_> {
    /// Detaches the value from the input it borrows.
    pub fn into_owned(self) -> ThreadAlgorithm<'static> {
        match self {
            ThreadAlgorithm::OrderedSubject => ThreadAlgorithm::OrderedSubject,
            ThreadAlgorithm::References => ThreadAlgorithm::References,
            ThreadAlgorithm::Other(a) => ThreadAlgorithm::Other(a.into_owned()),
        }
    }
}

impl CommandBody<'_> {
    /// Detaches the command from the input it borrows.
    pub fn into_owned(self) -> CommandBody<'static> {
        use CommandBody as B;
        match self {
            B::Capability => B::Capability,
            B::Noop => B::Noop,
            B::Logout => B::Logout,
            B::StartTls => B::StartTls,
            B::Authenticate {
                mechanism,
                initial_response,
            } => B::Authenticate {
                mechanism: mechanism.into_owned(),
                initial_response: initial_response
                    .map(|r| Secret::new(r.into_inner().into_owned())),
            },
            B::Login { username, password } => B::Login {
                username: username.into_owned(),
                password: Secret::new(password.into_inner().into_owned()),
            },
            B::Enable(caps) => B::Enable(caps.map(|c| c.into_owned())),
            B::Compress { algorithm } => B::Compress {
                algorithm: algorithm.into_owned(),
            },
            B::Select { mailbox, params } => B::Select {
                mailbox: mailbox.into_owned(),
                params,
            },
            B::Examine { mailbox, params } => B::Examine {
                mailbox: mailbox.into_owned(),
                params,
            },
            B::Create {
                mailbox,
                special_use,
            } => B::Create {
                mailbox: mailbox.into_owned(),
                special_use: special_use.into_iter().map(|a| a.into_owned()).collect(),
            },
            B::Delete(m) => B::Delete(m.into_owned()),
            B::Rename { from, to } => B::Rename {
                from: from.into_owned(),
                to: to.into_owned(),
            },
            B::Subscribe(m) => B::Subscribe(m.into_owned()),
            B::Unsubscribe(m) => B::Unsubscribe(m.into_owned()),
            B::List {
                select,
                reference,
                patterns,
                return_opts,
            } => B::List {
                select,
                reference: reference.into_owned(),
                patterns: patterns.map(IString::into_owned),
                return_opts,
            },
            B::Lsub { reference, pattern } => B::Lsub {
                reference: reference.into_owned(),
                pattern: pattern.into_owned(),
            },
            B::Namespace => B::Namespace,
            B::Status { mailbox, items } => B::Status {
                mailbox: mailbox.into_owned(),
                items,
            },
            B::Append { mailbox, messages } => B::Append {
                mailbox: mailbox.into_owned(),
                messages: messages.map(AppendMessage::into_owned),
            },
            B::Idle => B::Idle,
            B::Check => B::Check,
            B::Close => B::Close,
            B::Unselect => B::Unselect,
            B::Unauthenticate => B::Unauthenticate,
            B::Expunge => B::Expunge,
            B::UidExpunge(s) => B::UidExpunge(s),
            B::Search {
                uid,
                return_opts,
                charset,
                criteria,
            } => B::Search {
                uid,
                return_opts,
                charset: charset.map(IString::into_owned),
                criteria: criteria.map(SearchKey::into_owned),
            },
            B::Fetch {
                uid,
                set,
                attrs,
                modifiers,
            } => B::Fetch {
                uid,
                set,
                attrs: attrs.into_owned(),
                modifiers,
            },
            B::Store {
                uid,
                set,
                unchanged_since,
                kind,
                silent,
                flags,
            } => B::Store {
                uid,
                set,
                unchanged_since,
                kind,
                silent,
                flags: flags.into_iter().map(|f| f.into_owned()).collect(),
            },
            B::Copy { uid, set, mailbox } => B::Copy {
                uid,
                set,
                mailbox: mailbox.into_owned(),
            },
            B::Move { uid, set, mailbox } => B::Move {
                uid,
                set,
                mailbox: mailbox.into_owned(),
            },
            B::Sort {
                uid,
                criteria,
                charset,
                search,
            } => B::Sort {
                uid,
                criteria,
                charset: charset.into_owned(),
                search: search.map(SearchKey::into_owned),
            },
            B::Thread {
                uid,
                algorithm,
                charset,
                search,
            } => B::Thread {
                uid,
                algorithm: algorithm.into_owned(),
                charset: charset.into_owned(),
                search: search.map(SearchKey::into_owned),
            },
            B::Id(p) => B::Id(p.map(owned_pairs)),
            B::GetQuota(r) => B::GetQuota(r.into_owned()),
            B::GetQuotaRoot(m) => B::GetQuotaRoot(m.into_owned()),
            B::SetQuota { root, limits } => B::SetQuota {
                root: root.into_owned(),
                limits: limits
                    .into_iter()
                    .map(|(a, n)| (a.into_owned(), n))
                    .collect(),
            },
            B::GetMetadata {
                options,
                mailbox,
                entries,
            } => B::GetMetadata {
                options,
                mailbox: mailbox.into_owned(),
                entries: owned_strings(entries),
            },
            B::SetMetadata { mailbox, entries } => B::SetMetadata {
                mailbox: mailbox.into_owned(),
                entries: owned_pairs(entries),
            },
        }
    }
}
