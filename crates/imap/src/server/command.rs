//! The commands the machine checks, and answers itself where it can.

use super::event::Event;
use super::state::{Allowed, Kind, Mode, State};
use super::{LiteralExtension, Server};
use crate::types::command::{Command, CommandBody};
use crate::types::core::{Atom, IString, Tag};
use crate::types::flag::Capability;
use crate::types::response::{Code, Data, StatusKind};
use crate::types::secret::Vec1;

fn cap(name: &'static str) -> Capability<'static> {
    Atom::unvalidated(name)
}

/// Extensions ENABLE can turn on (RFC 5161 §4: those whose RFC says so).
const ENABLEABLE: [&str; 4] = ["CONDSTORE", "QRESYNC", "UTF8=ACCEPT", "IMAP4rev2"];

impl Server {
    /// The capabilities offered now (RFC 9051 §7.2.2: they change with TLS
    /// and authentication). Order: STARTTLS, `AUTH=`, LOGINDISABLED,
    /// SASL-IR (before authentication only), the revisions, LITERAL±, ID,
    /// then, once authenticated, ENABLE, IDLE, UNSELECT, NAMESPACE and
    /// [`Options::capabilities`](super::Options::capabilities).
    pub fn capabilities(&self) -> Vec<Capability<'static>> {
        let o = &self.options;
        let mut c = Vec::new();
        let authed = self.is_authenticated();
        if !authed {
            if o.starttls && self.tls.is_none() {
                c.push(cap("STARTTLS"));
            }
            let mechs: Vec<_> = self.mechanisms().collect();
            for m in &mechs {
                if let Ok(a) = Atom::new(format!("AUTH={}", m.name())) {
                    c.push(a);
                }
            }
            if !self.plaintext_ok() {
                c.push(cap("LOGINDISABLED"));
            }
            if o.sasl_ir && !mechs.is_empty() {
                c.push(cap("SASL-IR"));
            }
        }
        if o.imap4rev1 {
            c.push(cap("IMAP4rev1"));
        }
        if o.imap4rev2 {
            c.push(cap("IMAP4rev2"));
        }
        match o.literal {
            LiteralExtension::Plus => c.push(cap("LITERAL+")),
            LiteralExtension::Minus => c.push(cap("LITERAL-")),
            LiteralExtension::None => {}
        }
        if o.id.is_some() {
            c.push(cap("ID"));
        }
        if authed {
            for (on, name) in [
                (o.enable, "ENABLE"),
                (o.idle, "IDLE"),
                (o.unselect, "UNSELECT"),
                (o.unauthenticate, "UNAUTHENTICATE"),
                (o.namespaces.is_some(), "NAMESPACE"),
                (o.compress, "COMPRESS=DEFLATE"),
            ] {
                if on {
                    c.push(cap(name));
                }
            }
            c.extend(o.capabilities.iter().cloned());
        }
        c
    }

    pub(super) fn capability_code(&self) -> Option<Code<'static>> {
        Vec1::try_from(self.capabilities())
            .ok()
            .map(Code::Capability)
    }

    fn offered(&self, name: &str) -> bool {
        self.capabilities()
            .iter()
            .any(|c| c.as_str().eq_ignore_ascii_case(name))
            || (name.eq_ignore_ascii_case("IMAP4rev2") && self.options.imap4rev2)
    }

    /// Whether the options switch the command on.
    fn command_offered(&self, body: &CommandBody<'_>) -> bool {
        let o = &self.options;
        match body {
            CommandBody::StartTls => o.starttls && self.tls.is_none(),
            CommandBody::Enable(_) => o.enable,
            CommandBody::Idle => o.idle,
            CommandBody::Unselect => o.unselect,
            CommandBody::Unauthenticate => o.unauthenticate,
            CommandBody::Namespace => o.namespaces.is_some(),
            CommandBody::Id(_) => o.id.is_some(),
            CommandBody::Compress { .. } => o.compress,
            // Extension commands need their capability (IMAP4rev2 includes
            // MOVE and UIDPLUS's UID EXPUNGE, RFC 9051 §6.4.8, §6.4.9).
            CommandBody::Move { .. } => o.imap4rev2 || self.app_offers("MOVE"),
            CommandBody::UidExpunge(_) => o.imap4rev2 || self.app_offers("UIDPLUS"),
            CommandBody::Sort { .. } => self.app_offers("SORT"),
            CommandBody::Thread { .. } => self.app_offers("THREAD="),
            CommandBody::GetQuota(_)
            | CommandBody::GetQuotaRoot(_)
            | CommandBody::SetQuota { .. } => self.app_offers("QUOTA"),
            CommandBody::GetMetadata { .. } | CommandBody::SetMetadata { .. } => {
                self.app_offers("METADATA")
            }
            _ => true,
        }
    }

    /// Whether [`Options::capabilities`](super::Options::capabilities)
    /// holds a capability starting with `prefix` (`SORT` also matches
    /// `SORT=DISPLAY`).
    fn app_offers(&self, prefix: &str) -> bool {
        self.options.capabilities.iter().any(|c| {
            c.as_str()
                .get(..prefix.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
        })
    }

    /// The machine's own OK to a command it answered: updates the moment
    /// allows go out first.
    fn done(&mut self, tag: &Tag<'_>, name: &str) {
        self.flush_updates(true);
        self.tagged(tag, StatusKind::Ok, None, &format!("{name} completed"));
    }

    /// COMPRESS (RFC 4978 §3): `NO [COMPRESSIONACTIVE]` once compressed
    /// already, NO for an algorithm other than DEFLATE; otherwise the OK,
    /// after which the driver compresses ([`Event::Compress`]). A client
    /// that sent more before the answer breaks §3 (it cannot know yet how
    /// to send it): those bytes may be either, so the session ends unread.
    fn compress(&mut self, tag: &Tag<'_>, algorithm: &str) {
        if self.compressed {
            let code = Code::Simple(cap("COMPRESSIONACTIVE"));
            self.tagged(tag, StatusKind::No, Some(code), "DEFLATE active already");
        } else if !algorithm.eq_ignore_ascii_case("DEFLATE") {
            self.tagged(tag, StatusKind::No, None, "Unknown compression algorithm");
        } else if self.frag.buffered() > 0 {
            self.bye(None, "Nothing may follow COMPRESS before its answer");
            self.close(super::ConnectionError::PipelinedAfterCompress);
        } else {
            self.done(tag, "COMPRESS");
            self.compressed = true;
            self.events.push_back(Event::Compress);
        }
    }

    pub(super) fn command(&mut self, cmd: Command<'_>) {
        let tag = cmd.tag.into_owned();
        let body = cmd.body;
        if !self.command_offered(&body) {
            self.bad_command(Some(tag), "Unknown command");
            return;
        }
        if !Allowed::of(&body).permits(self.state) {
            // Not a syntax error: the client's view of the state may lag
            // behind (a pipelined command after a failed SELECT).
            self.tagged(
                &tag,
                StatusKind::Bad,
                None,
                "Command not allowed in this state",
            );
            return;
        }
        match body {
            CommandBody::Capability => {
                if let Ok(caps) = Vec1::try_from(self.capabilities()) {
                    self.data(&Data::Capability(caps));
                }
                self.done(&tag, "CAPABILITY");
            }
            CommandBody::Noop if !matches!(self.state, State::Selected { .. }) => {
                self.done(&tag, "NOOP")
            }
            CommandBody::Logout => {
                let (bye, ok) = (
                    self.options.texts.logout_bye.clone(),
                    self.options.texts.logout.clone(),
                );
                self.bye(None, &bye);
                self.tagged(&tag, StatusKind::Ok, None, &ok);
                self.close(super::ConnectionError::Logout);
            }
            CommandBody::Id(params) => {
                let ours = self.options.id.clone().unwrap_or_default();
                let ours: Vec<(IString<'static>, Option<IString<'static>>)> = ours
                    .into_iter()
                    .filter_map(|(k, v)| {
                        Some((IString::try_from(k).ok()?, IString::try_from(v).ok()))
                    })
                    .collect();
                self.data(&Data::Id((!ours.is_empty()).then_some(ours)));
                self.events.push_back(Event::ClientId(params.map(|p| {
                    p.into_iter()
                        .map(|(k, v)| (k.into_owned(), v.map(IString::into_owned)))
                        .collect()
                })));
                self.done(&tag, "ID");
            }
            CommandBody::StartTls => {
                let t = self.options.texts.starttls.clone();
                self.tagged(&tag, StatusKind::Ok, None, &t);
                self.mode = Mode::WaitTls;
                self.events.push_back(Event::StartTls);
            }
            CommandBody::Compress { algorithm } => self.compress(&tag, algorithm.as_str()),
            CommandBody::Login { username, password } => {
                self.login(tag, username.as_bytes(), password.expose().as_bytes())
            }
            CommandBody::Authenticate {
                mechanism,
                initial_response,
            } => self.authenticate(
                tag,
                mechanism.as_str(),
                initial_response
                    .as_ref()
                    .map(|r| r.expose().as_str().as_bytes()),
            ),
            CommandBody::Enable(caps) => {
                let mut newly = Vec::new();
                for c in caps {
                    let known = ENABLEABLE
                        .iter()
                        .any(|e| c.as_str().eq_ignore_ascii_case(e));
                    if known && self.offered(c.as_str()) && !self.is_enabled(c.as_str()) {
                        let c = c.into_owned();
                        if c.as_str().eq_ignore_ascii_case("QRESYNC")
                            && !self.is_enabled("CONDSTORE")
                        {
                            // RFC 7162 §3.2.3: QRESYNC implies CONDSTORE.
                            self.enabled.push(cap("CONDSTORE"));
                        }
                        self.enabled.push(c.clone());
                        newly.push(c);
                    }
                }
                self.data(&Data::Enabled(newly.clone()));
                let t = self.options.texts.enable.clone();
                self.tagged(&tag, StatusKind::Ok, None, &t);
                if !newly.is_empty() {
                    self.events.push_back(Event::Enabled(newly));
                }
            }
            CommandBody::Namespace => {
                let ns = self.options.namespaces.clone().unwrap_or_default();
                self.data(&Data::Namespace {
                    personal: ns.personal,
                    other: ns.other,
                    shared: ns.shared,
                });
                self.done(&tag, "NAMESPACE");
            }
            CommandBody::Idle => {
                self.flush_updates(true);
                let t = self.options.texts.idle.clone();
                self.continuation(&t);
                self.mode = Mode::Idle { tag };
                self.events.push_back(Event::IdleStarted);
            }
            CommandBody::Unselect => {
                if let State::Selected { proof, .. } = self.state {
                    self.state = State::Authenticated(proof);
                }
                self.updates.clear();
                self.events.push_back(Event::Unselected);
                self.tagged(&tag, StatusKind::Ok, None, "UNSELECT completed");
            }
            CommandBody::Unauthenticate => {
                // RFC 8437 §3: back to the not authenticated state, as at
                // the start of the connection but for TLS and COMPRESS,
                // which stay: the mailbox closed without expunge, the
                // ENABLEd extensions off. The capabilities change back.
                // The count of authentications stays: it makes each
                // exchange's SASL nonce a new one, in this session too.
                self.state = State::NotAuthenticated;
                self.updates.clear();
                self.enabled.clear();
                self.events.push_back(Event::Unauthenticated);
                let code = self.capability_code();
                self.tagged(&tag, StatusKind::Ok, code, "UNAUTHENTICATE completed");
            }
            body @ (CommandBody::Select { .. } | CommandBody::Examine { .. }) => {
                let examine = matches!(body, CommandBody::Examine { .. });
                if let State::Selected { proof, .. } = self.state {
                    // RFC 9051 §6.3.2: the selected mailbox is closed first
                    // (no expunge), and the client told so when it can
                    // follow (RFC 7162 §3.2.11, IMAP4rev2).
                    self.state = State::Authenticated(proof);
                    self.updates.clear();
                    if self.is_enabled("QRESYNC") || self.is_enabled("IMAP4rev2") {
                        let t = self.options.texts.closed.clone();
                        self.status(None, StatusKind::Ok, Some(Code::Closed), &t);
                    }
                }
                self.command_event(tag, body.into_owned(), Kind::Select { examine });
            }
            CommandBody::Close => self.command_event(tag, CommandBody::Close, Kind::Close),
            body => self.command_event(tag, body.into_owned(), Kind::Other),
        }
    }

    fn data(&mut self, d: &Data<'_>) {
        crate::encode::response(
            &crate::types::response::Response::Data(d.clone()),
            &mut self.out,
        );
    }
}
