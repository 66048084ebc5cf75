//! [`ImapSession`] on tokio: the IMAP client machine
//! ([`mailwire_imap::client`]) over a tokio `TcpStream`, with tokio-rustls
//! for implicit TLS and STARTTLS. The session logic, options, results and
//! errors are those of [`crate::blocking::ImapSession`] (one
//! implementation, generic over the socket); fetched messages stream to
//! an [`AsyncWrite`], and IDLE is a [`Stream`].
//!
//! ```no_run
//! use mailwire::blocking::ImapOptions;
//! use mailwire::tokio::ImapSession;
//! # async fn run() -> Result<(), mailwire::blocking::ImapError> {
//! let mut imap = ImapSession::connect("imap.example.org:993", ImapOptions::default()).await?;
//! imap.login("fred", "secret").await?;
//! let inbox = imap.examine("INBOX").await?;
//! println!("{} messages", inbox.exists);
//! imap.logout().await
//! # }
//! ```

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use ::tokio::io::AsyncWrite;
use futures_core::Stream;
use mailwire_imap::client::{Capabilities, Completion, SelectedMailbox, Update};
use mailwire_imap::{
    CommandBody, Flag, SearchKey, Section, SelectParam, SequenceSet, SortCriterion, StoreKind,
    Thread, ThreadAlgorithm, Vec1,
};
use std::num::NonZeroU32;

use super::conn::{AsyncSink, Connection};
use crate::blocking::imap::{
    Core, Folder, FolderStatus, ImapError, ImapOptions, MessageSummary, SummaryItems,
};

/// An IMAP session on tokio. See the module docs and
/// [`crate::blocking::ImapSession`].
#[derive(Debug)]
pub struct ImapSession {
    core: Core<Connection>,
}

impl ImapSession {
    /// Connects, reads the greeting and the capabilities, and upgrades with
    /// STARTTLS when the options' `transport.security` says so.
    pub async fn connect(addr: &str, options: ImapOptions) -> Result<ImapSession, ImapError> {
        let conn = Connection::connect(addr, &options.transport).await?;
        let core = Core::start(conn, options).await?;
        Ok(ImapSession { core })
    }

    crate::blocking::imap::session_accessors!();

    /// [`blocking::ImapSession::capabilities`](crate::blocking::ImapSession::capabilities) on tokio.
    pub async fn capabilities(&mut self) -> Result<Capabilities, ImapError> {
        self.core.capabilities().await
    }

    /// [`blocking::ImapSession::login`](crate::blocking::ImapSession::login) on tokio.
    pub async fn login(&mut self, user: &str, password: &str) -> Result<(), ImapError> {
        self.core.login(user, password).await
    }

    /// [`blocking::ImapSession::run`](crate::blocking::ImapSession::run) on tokio.
    pub async fn run(&mut self, body: CommandBody<'static>) -> Result<Completion, ImapError> {
        self.core.run(body).await
    }

    /// [`blocking::ImapSession::unauthenticate`](crate::blocking::ImapSession::unauthenticate)
    /// on tokio.
    pub async fn unauthenticate(&mut self) -> Result<(), ImapError> {
        self.core.run(CommandBody::Unauthenticate).await.map(drop)
    }

    /// [`blocking::ImapSession::enable`](crate::blocking::ImapSession::enable) on tokio.
    pub async fn enable(&mut self, extensions: &[&str]) -> Result<Capabilities, ImapError> {
        self.core.enable(extensions).await
    }

    /// [`blocking::ImapSession::list_folders`](crate::blocking::ImapSession::list_folders) on tokio.
    pub async fn list_folders(&mut self, status: bool) -> Result<Vec<Folder>, ImapError> {
        self.core.list_folders(status).await
    }

    /// [`blocking::ImapSession::select`](crate::blocking::ImapSession::select) on tokio.
    pub async fn select(&mut self, folder: &str) -> Result<SelectedMailbox, ImapError> {
        self.core.select(folder).await
    }

    /// [`blocking::ImapSession::examine`](crate::blocking::ImapSession::examine) on tokio.
    pub async fn examine(&mut self, folder: &str) -> Result<SelectedMailbox, ImapError> {
        self.core.examine(folder).await
    }

    /// [`blocking::ImapSession::select_with`](crate::blocking::ImapSession::select_with) on tokio.
    pub async fn select_with(
        &mut self,
        folder: &str,
        read_only: bool,
        params: Vec<SelectParam>,
    ) -> Result<(SelectedMailbox, Completion), ImapError> {
        self.core.select_with(folder, read_only, params).await
    }

    /// [`blocking::ImapSession::uid_search`](crate::blocking::ImapSession::uid_search) on tokio.
    pub async fn uid_search(
        &mut self,
        criteria: Vec<SearchKey<'static>>,
    ) -> Result<Vec<u32>, ImapError> {
        self.core.uid_search(criteria).await
    }

    /// [`blocking::ImapSession::uid_sort`](crate::blocking::ImapSession::uid_sort) on tokio.
    pub async fn uid_sort(
        &mut self,
        criteria: Vec1<SortCriterion>,
        search: Vec<SearchKey<'static>>,
    ) -> Result<Vec<u32>, ImapError> {
        self.core.uid_sort(criteria, search).await
    }

    /// [`blocking::ImapSession::uid_thread`](crate::blocking::ImapSession::uid_thread) on tokio.
    pub async fn uid_thread(
        &mut self,
        algorithm: ThreadAlgorithm<'static>,
        search: Vec<SearchKey<'static>>,
    ) -> Result<Vec<Thread>, ImapError> {
        self.core.uid_thread(algorithm, search).await
    }

    /// [`blocking::ImapSession::fetch_summaries`](crate::blocking::ImapSession::fetch_summaries) on tokio.
    pub async fn fetch_summaries(
        &mut self,
        uids: &SequenceSet,
        what: SummaryItems,
        changed_since: Option<u64>,
    ) -> Result<Vec<MessageSummary>, ImapError> {
        self.core.fetch_summaries(uids, what, changed_since).await
    }

    /// [`blocking::ImapSession::fetch_header`](crate::blocking::ImapSession::fetch_header) on tokio.
    pub async fn fetch_header(&mut self, uid: u32) -> Result<Vec<u8>, ImapError> {
        self.core.fetch_header(uid).await
    }

    /// [`blocking::ImapSession::fetch_message_to`](crate::blocking::ImapSession::fetch_message_to) on tokio.
    pub async fn fetch_message_to(
        &mut self,
        uid: u32,
        out: &mut (impl AsyncWrite + Unpin),
    ) -> Result<u64, ImapError> {
        self.core.fetch_message_to(uid, &mut AsyncSink(out)).await
    }

    /// [`blocking::ImapSession::fetch_section_to`](crate::blocking::ImapSession::fetch_section_to) on tokio.
    pub async fn fetch_section_to(
        &mut self,
        uid: u32,
        section: Section<'static>,
        out: &mut (impl AsyncWrite + Unpin),
    ) -> Result<u64, ImapError> {
        self.core
            .fetch_section_to(uid, section, &mut AsyncSink(out))
            .await
    }

    /// [`blocking::ImapSession::fetch_binary_to`](crate::blocking::ImapSession::fetch_binary_to) on tokio.
    pub async fn fetch_binary_to(
        &mut self,
        uid: u32,
        part: Vec<NonZeroU32>,
        out: &mut (impl AsyncWrite + Unpin),
    ) -> Result<u64, ImapError> {
        self.core
            .fetch_binary_to(uid, part, &mut AsyncSink(out))
            .await
    }

    /// [`blocking::ImapSession::store_flags`](crate::blocking::ImapSession::store_flags) on tokio.
    pub async fn store_flags(
        &mut self,
        uids: &SequenceSet,
        kind: StoreKind,
        flags: Vec<Flag<'static>>,
    ) -> Result<(), ImapError> {
        self.core.store_flags(uids, kind, flags).await
    }

    /// [`blocking::ImapSession::move_messages`](crate::blocking::ImapSession::move_messages) on tokio.
    pub async fn move_messages(
        &mut self,
        uids: &SequenceSet,
        folder: &str,
    ) -> Result<(), ImapError> {
        self.core.move_messages(uids, folder).await
    }

    /// [`blocking::ImapSession::delete_messages`](crate::blocking::ImapSession::delete_messages) on tokio.
    pub async fn delete_messages(&mut self, uids: &SequenceSet) -> Result<(), ImapError> {
        self.core.delete_messages(uids).await
    }

    /// [`blocking::ImapSession::append`](crate::blocking::ImapSession::append) on tokio.
    pub async fn append(
        &mut self,
        folder: &str,
        flags: Vec<Flag<'static>>,
        message: &[u8],
    ) -> Result<Option<u32>, ImapError> {
        self.core.append(folder, flags, message).await
    }

    /// [`blocking::ImapSession::expunge`](crate::blocking::ImapSession::expunge) on tokio.
    pub async fn expunge(&mut self) -> Result<(), ImapError> {
        self.core.expunge().await
    }

    /// [`blocking::ImapSession::uid_expunge`](crate::blocking::ImapSession::uid_expunge) on tokio.
    pub async fn uid_expunge(&mut self, uids: &SequenceSet) -> Result<(), ImapError> {
        self.core.uid_expunge(uids).await
    }

    /// [`blocking::ImapSession::copy_messages`](crate::blocking::ImapSession::copy_messages) on tokio:
    /// `UID COPY` (RFC 9051 §6.4.7), the copies' UIDs from `COPYUID` (RFC 4315 §3).
    pub async fn copy_messages(
        &mut self,
        uids: &SequenceSet,
        folder: &str,
    ) -> Result<Option<Vec<u32>>, ImapError> {
        self.core.copy_messages(uids, folder).await
    }

    /// [`blocking::ImapSession::create_folder`](crate::blocking::ImapSession::create_folder) on tokio: `CREATE` (RFC 9051 §6.3.4).
    pub async fn create_folder(&mut self, name: &str) -> Result<(), ImapError> {
        self.core.create_folder(name).await
    }

    /// [`blocking::ImapSession::delete_folder`](crate::blocking::ImapSession::delete_folder) on tokio: `DELETE` (RFC 9051 §6.3.5).
    pub async fn delete_folder(&mut self, name: &str) -> Result<(), ImapError> {
        self.core.delete_folder(name).await
    }

    /// [`blocking::ImapSession::rename_folder`](crate::blocking::ImapSession::rename_folder) on tokio: `RENAME` (RFC 9051 §6.3.6).
    pub async fn rename_folder(&mut self, from: &str, to: &str) -> Result<(), ImapError> {
        self.core.rename_folder(from, to).await
    }

    /// [`blocking::ImapSession::subscribe`](crate::blocking::ImapSession::subscribe) on tokio: `SUBSCRIBE` (RFC 9051 §6.3.7).
    pub async fn subscribe(&mut self, name: &str) -> Result<(), ImapError> {
        self.core.subscribe(name).await
    }

    /// [`blocking::ImapSession::unsubscribe`](crate::blocking::ImapSession::unsubscribe) on tokio: `UNSUBSCRIBE` (RFC 9051 §6.3.8).
    pub async fn unsubscribe(&mut self, name: &str) -> Result<(), ImapError> {
        self.core.unsubscribe(name).await
    }

    /// [`blocking::ImapSession::folder_status`](crate::blocking::ImapSession::folder_status) on tokio: `STATUS` (RFC 9051 §6.3.11).
    pub async fn folder_status(&mut self, name: &str) -> Result<FolderStatus, ImapError> {
        self.core.folder_status(name).await
    }

    /// [`blocking::ImapSession::noop`](crate::blocking::ImapSession::noop) on tokio: `NOOP` (RFC 9051 §6.1.2); the updates it
    /// lets in come from [`take_updates`](Self::take_updates).
    pub async fn noop(&mut self) -> Result<(), ImapError> {
        self.core.noop().await
    }

    /// [`blocking::ImapSession::unselect`](crate::blocking::ImapSession::unselect) on tokio: `UNSELECT` (RFC 3691 §2, RFC 9051 §6.4.2),
    /// [`ImapError::Unsupported`] without it.
    pub async fn unselect(&mut self) -> Result<(), ImapError> {
        self.core.unselect().await
    }

    /// `LOGOUT`, then the connection is closed.
    pub async fn logout(mut self) -> Result<(), ImapError> {
        self.core.logout().await
    }

    /// `IDLE` (RFC 2177): a [`Stream`] of the selected mailbox's updates
    /// as the server sends them (those already received first), which ends
    /// when `timeout` has passed (`DONE` sent), when the server ends the
    /// IDLE, or after an error. Dropping the stream leaves the IDLE on
    /// until the session's next command, which ends it first.
    pub async fn idle(&mut self, timeout: Duration) -> Result<IdleStream<'_>, ImapError> {
        self.core.idle_start(timeout).await?;
        Ok(IdleStream {
            state: IdleState::Ready(&mut self.core),
        })
    }
}

/// One wait for the next IDLE update; it hands the session back.
type IdleStep<'a> = Pin<
    Box<
        dyn Future<Output = (&'a mut Core<Connection>, Option<Result<Update, ImapError>>)>
            + Send
            + 'a,
    >,
>;

enum IdleState<'a> {
    Ready(&'a mut Core<Connection>),
    Waiting(IdleStep<'a>),
    /// Only while one is swapped for the other.
    Gone,
}

/// The updates of an active IDLE; see [`ImapSession::idle`].
pub struct IdleStream<'a> {
    state: IdleState<'a>,
}

impl std::fmt::Debug for IdleStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let waiting = matches!(self.state, IdleState::Waiting(_));
        f.debug_struct("IdleStream")
            .field("waiting", &waiting)
            .finish_non_exhaustive()
    }
}

impl IdleStream<'_> {
    /// Ends the IDLE (`DONE`) and waits for its tagged OK. A wait that a
    /// dropped `next()` left unfinished ends first (at the next update or
    /// the IDLE's deadline).
    pub async fn done(mut self) -> Result<(), ImapError> {
        let core = match std::mem::replace(&mut self.state, IdleState::Gone) {
            IdleState::Ready(core) => core,
            IdleState::Waiting(step) => step.await.0,
            IdleState::Gone => return Ok(()),
        };
        core.idle_finish().await
    }
}

impl Stream for IdleStream<'_> {
    type Item = Result<Update, ImapError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let mut step = match std::mem::replace(&mut this.state, IdleState::Gone) {
            IdleState::Ready(core) => Box::pin(async move {
                let item = core.idle_next().await;
                (core, item)
            }) as IdleStep<'_>,
            IdleState::Waiting(step) => step,
            IdleState::Gone => return Poll::Ready(None),
        };
        match step.as_mut().poll(cx) {
            Poll::Pending => {
                this.state = IdleState::Waiting(step);
                Poll::Pending
            }
            Poll::Ready((core, item)) => {
                this.state = IdleState::Ready(core);
                Poll::Ready(item)
            }
        }
    }
}
