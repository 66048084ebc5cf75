//! One SMTP server session: the policy answers to the events of
//! `mailwire::smtp::server::Server` (who may send, who receives, AUTH), and
//! the hand-off of the content to the [`Store`](crate::store::Store).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mailwire::sasl::{
    FailureReason, Mechanism, Server as SaslServer, ServerOptions as SaslOptions, ServerStep,
};
use mailwire::smtp::server::{Event, Options, ReplyHandle, Server};
use mailwire::smtp::{BodyType, ForwardPath, Priority, PriorityPolicy, Reply, ReversePath};

use crate::accounts::Accounts;
use crate::auth_guard::{Attempt, AuthGuard};
use crate::driver::{Conn, Handler};
use crate::limits::Limiter;
use crate::maildir::queue_id;
use crate::rewrite::Expansion;
use crate::store::{Dest, Incoming, Store, Trace, received_field, unix_now};

/// Which listener a session came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Port {
    /// Port 25's role: mail for local users without AUTH; relay with AUTH.
    Mta,
    /// Port 587 (RFC 6409): AUTH required.
    Submission,
    /// Port 465 (RFC 8314): submission under implicit TLS.
    Smtps,
    /// Port 110's role (RFC 1939): POP3 with STLS.
    Pop3,
    /// Port 995 (RFC 8314): POP3 under implicit TLS.
    Pop3s,
    /// Port 143's role (RFC 9051): IMAP with STARTTLS.
    Imap,
    /// Port 993 (RFC 8314): IMAP under implicit TLS.
    Imaps,
}

impl Port {
    /// Whether the connection starts with a TLS handshake (RFC 8314).
    pub(crate) fn implicit_tls(self) -> bool {
        matches!(self, Port::Smtps | Port::Pop3s | Port::Imaps)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Port::Mta => "smtp",
            Port::Submission => "submission",
            Port::Smtps => "smtps",
            Port::Pop3 => "pop3",
            Port::Pop3s => "pop3s",
            Port::Imap => "imap",
            Port::Imaps => "imaps",
        }
    }
}

/// What all sessions share.
pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) tls: Arc<rustls::ServerConfig>,
    /// Every account's keys.
    pub(crate) accounts: Accounts,
    /// Connection limits (taken by the threads that accept).
    pub(crate) limiter: Arc<Limiter>,
    /// Failed AUTH attempts per client address.
    pub(crate) auth_guard: AuthGuard,
    /// The sender rewriting of forwarded mail (its secret also makes the
    /// list tokens).
    pub(crate) srs: crate::srs::Srs,
    /// The webmail's HTTPS base URL (`https://host[:port]`, no final
    /// slash), for the lists' one-click unsubscribe links (RFC 8058).
    pub(crate) public_url: Option<String>,
    /// The DKIM keys (`--dkim`).
    pub(crate) dkim: crate::dkim::Signers,
    /// The MTA-STS policy fetches that failed lately (not retried on every
    /// delivery).
    pub(crate) mta_sts_failures: crate::mta_sts::Failures,
    /// The greylist (`--greylist`), when on.
    pub(crate) greylist: Option<crate::greylist::Greylist>,
    /// The DMARC checks kept for aggregate reports (`--dmarc-reports`).
    pub(crate) dmarc_records: Option<crate::dmarc_report::Records>,
    /// The recipients per period of each account that logged in
    /// (`--send-rate`).
    pub(crate) send_rate: crate::limits::SendRate,
    /// Set by SIGTERM: finish open transactions, take no new ones.
    pub(crate) shutdown: Arc<AtomicBool>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

/// Random bytes from the kernel, hex-encoded.
pub(crate) fn random_hex(n: usize) -> String {
    use std::io::Read;
    let mut b = vec![0u8; n];
    let filled = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok();
    if !filled {
        // No /dev/urandom: fall back on the time and a counter (unique, not secret).
        let q = queue_id();
        for (i, c) in q.bytes().enumerate() {
            b[i % n] ^= c;
        }
    }
    crate::accounts::hex(&b)
}

/// The idle timeout of sessions that start while the server is under
/// stress ([`Limiter::stressed`]), instead of the RFC's minutes.
pub(crate) const STRESS_TIMEOUT: Duration = Duration::from_secs(10);

impl Shared {
    /// The SASL mechanisms of `wanted` that can be offered: CRAM-MD5 only
    /// while every account has its plaintext password (the `--user` demo
    /// accounts).
    /// The SASL mechanisms of the mailbox services (POP3, IMAP).
    pub(crate) fn mailbox_mechanisms(&self) -> Vec<Mechanism> {
        self.mechanisms(&[
            Mechanism::ScramSha256,
            Mechanism::CramMd5,
            Mechanism::Plain,
            Mechanism::Login,
        ])
    }

    pub(crate) fn mechanisms(&self, wanted: &[Mechanism]) -> Vec<Mechanism> {
        let cram = self.accounts.all_plaintext();
        wanted
            .iter()
            .copied()
            .filter(|m| cram || *m != Mechanism::CramMd5)
            .collect()
    }
}

crate::driver::impl_machine!(Server, Event);

/// A reply with an enhanced status code. The texts are ours, with at most
/// an address the machine already validated (no CR, LF or NUL); should one
/// ever be refused, a generic text takes its place.
fn reply(code: u16, enh: (u8, u16, u16), text: &str) -> Reply<'static> {
    Reply::single(code, Some(enh), text)
        .or_else(|_| Reply::single(code, Some(enh), "error"))
        .or_else(|_| Reply::single(451, None, "error"))
        .unwrap_or_else(|_| unreachable!("451 error is a valid reply"))
}

/// The transaction in progress.
#[derive(Debug, Default)]
struct Tx {
    id: String,
    sender: String,
    rcpts: Vec<(String, Dest)>,
    eight_bit: bool,
    smtputf8: bool,
    /// A recipient is forwarded to another domain (alias, forward file):
    /// the queued copy gets an SRS sender.
    forwarded: bool,
    /// Mailing-list addresses among the recipients, what for, and the
    /// list's configuration as it was at RCPT (a reload of the config file
    /// that drops the list meanwhile does not drop this post).
    lists: Vec<(String, crate::list::Role, crate::list::ListConf)>,
    /// Every accepted RCPT (the Delivered-To loop check).
    accepted: Vec<Accepted>,
    /// The DSN request of MAIL (ENVID, RET).
    dsn: crate::bounce::Request,
    /// MT-PRIORITY after [`mixer_priority`].
    priority: Option<Priority>,
    /// MAIL had REQUIRETLS (RFC 8689; the machine takes it under TLS only).
    requiretls: bool,
}

/// An accepted RCPT address.
#[derive(Debug)]
struct Accepted {
    addr: String,
    /// Ours (not relayed).
    ours: bool,
    /// The deliveries it expanded to.
    targets: Vec<(String, Dest)>,
    /// Its DSN request (NOTIFY, ORCPT), which its targets inherit.
    req: crate::bounce::RcptRequest,
}

impl Tx {
    /// The DSN request of each delivery (the first RCPT that led to it).
    fn rcpt_requests(&self) -> std::collections::BTreeMap<String, crate::bounce::RcptRequest> {
        let mut m = std::collections::BTreeMap::new();
        for a in &self.accepted {
            for (t, _) in &a.targets {
                m.entry(t.clone()).or_insert_with(|| a.req.clone());
            }
        }
        m
    }
}

/// One session.
pub(crate) struct Session<'a> {
    shared: &'a Shared,
    port: Port,
    peer: SocketAddr,
    trace: Trace,
    user: Option<String>,
    /// The password's generation at log-in (see
    /// [`crate::accounts::Accounts::generation`]).
    generation: u64,
    sasl: Option<SaslServer>,
    tx: Option<Tx>,
    incoming: Option<Incoming>,
    data_error: Option<io::Error>,
    /// True from MAIL to the end of the transaction.
    in_tx: bool,
    pub(crate) messages: u32,
    /// The AUTH attempt in progress.
    attempt: Option<Attempt>,
    /// AUTH failures on this connection.
    auth_failures: u32,
    /// Recipients refused by policy on this connection (the machine counts
    /// bad commands itself).
    errors: u32,
    /// Recipients accepted on this connection.
    recipients: usize,
    /// `Received:` fields of the message coming in.
    hops: crate::hops::HopCounter,
    /// Its `Delivered-To:` fields.
    delivered_to: crate::hops::DeliveredTo,
    /// The content of a message to a mailing list (bounded by the message
    /// size limit), for the list to send on.
    list_buf: Option<Vec<u8>>,
    /// The start of the message (at most [`HEAD`] bytes, up to the end of
    /// its header). An authenticated user's: its From domain decides
    /// whether it is DKIM-signed, its `MT-Priority:` field may set its
    /// priority. Any other: whether it has DKIM signatures to check, or
    /// result fields that claim to be ours (see [`crate::dkim_verify`]).
    head: Option<Vec<u8>>,
    /// The DNS lookups of the DKIM, SPF, DMARC and DNSBL checks, made when
    /// first needed.
    resolver: Option<crate::resolve::Resolver>,
    /// The SPF result of the transaction, when checked.
    spf: Option<SpfChecked>,
    /// Whether a `--dnsbl` list has the client (the list and its answer),
    /// once looked up (at the session's first recipient).
    dnsbl: Option<Option<(String, std::net::Ipv4Addr)>>,
}

/// The SPF check of a transaction: the result for the
/// `Authentication-Results` field and for DMARC.
#[derive(Debug, Clone)]
struct SpfChecked {
    /// `spf=RESULT smtp.mailfrom=...` (RFC 8601 §2.7.2).
    resinfo: String,
    result: crate::spf::SpfResult,
    /// The domain checked: of MAIL FROM, or the HELO name for the null
    /// sender (what DMARC aligns, RFC 7489 §3.1.2).
    domain: String,
}

/// What the checks of a message from another server decided (RFC 7489
/// §6.3 for the DMARC policy of its author domain).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Deliver,
    /// Into each local recipient's Junk folder.
    Quarantine,
    /// Refused with 550 5.7.1: nothing stored.
    Reject,
}

/// Whether `addr` is a postmaster address, which the DNSBL and greylisting
/// never refuse (RFC 5321 §4.5.1: a sender must be able to reach a person).
fn is_postmaster(addr: &str) -> bool {
    addr.rsplit_once('@')
        .is_some_and(|(local, _)| local.eq_ignore_ascii_case("postmaster"))
}

/// A number from 0 to 99 at random: the DMARC `pct=` sampling (RFC 7489
/// §6.6.4). From the system's random source; 0 (the policy applies) if
/// it fails.
fn percent_roll() -> u8 {
    use ring::rand::SecureRandom as _;
    let mut b = [0u8; 4];
    if ring::rand::SystemRandom::new().fill(&mut b).is_err() {
        return 0;
    }
    (u32::from_le_bytes(b) % 100) as u8
}

/// How much of a message's start [`Session::head`] keeps.
const HEAD: usize = 64 * 1024;

impl std::fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("port", &self.port)
            .field("peer", &self.peer)
            .finish()
    }
}

/// The priority a message gets under the MIXER Priority Assignment Policy
/// (RFC 6710 Appendix A), and whether that differs from the one asked for.
///
/// MIXER has the three levels of the RFC 2156 `Priority:` field:
/// non-urgent (-4), normal (0) and urgent (4); any other value is moved to
/// the level on its side of 0. MIXER was chosen because these are the levels
/// that mail users know (a mail client's "low / normal / high"), and it
/// keeps the queue's ordering simple to explain. A sender that did not
/// authenticate may lower its own mail but not raise it (RFC 6710 §4.1:
/// the server decides who may use which priority): a positive value from
/// it becomes normal. Only users of ours, after AUTH, may send urgent
/// mail.
pub(crate) fn mixer_priority(asked: Priority, authenticated: bool) -> (Priority, bool) {
    let level = match asked.get() {
        p if p < 0 => -4,
        0 => 0,
        _ if authenticated => 4,
        _ => 0,
    };
    let given = Priority::new(level).unwrap_or(Priority::NORMAL);
    (given, given != asked)
}

/// The machine's options for a port.
pub(crate) fn options(shared: &Shared, port: Port, peer: SocketAddr) -> Options {
    let cfg = &shared.store.cfg;
    let mut o = Options::default();
    o.hostname = cfg.hostname.clone();
    o.starttls = port != Port::Smtps;
    o.implicit_tls = port == Port::Smtps;
    o.auth_mechanisms = shared.mechanisms(&[
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::CramMd5,
        Mechanism::ScramSha256,
    ]);
    o.allow_plaintext_auth = cfg.allow_plaintext_auth || peer.ip().is_loopback();
    o.auth_required = port != Port::Mta;
    o.max_message_size = cfg.max_size as u64;
    o.max_bad_commands = cfg.session.max_errors;
    o.max_recipients = cfg.session.max_recipients;
    // The machine keeps the transactions per connection and announces
    // them with the recipients per transaction (RFC 9422 LIMITS).
    o.max_transactions = Some(cfg.session.max_transactions as usize);
    // RFC 3461: NOTIFY, RET, ENVID and ORCPT are honoured through the queue.
    o.dsn = true;
    // RFC 6710: priorities order the queue and go on to the next hop,
    // under the MIXER policy (see `mixer_priority`).
    o.mt_priority = true;
    // RFC 8689: offered under TLS; such mail is relayed only as
    // `delivery.rs` says, or bounced.
    o.requiretls = true;
    o.mt_priority_policy = Some(PriorityPolicy::Mixer);
    if shared.limiter.stressed() {
        o.command_timeout = STRESS_TIMEOUT;
        o.data_timeout = STRESS_TIMEOUT;
    }
    o
}

impl<'a> Session<'a> {
    pub(crate) fn new(shared: &'a Shared, port: Port, peer: SocketAddr) -> Self {
        Self {
            shared,
            port,
            peer,
            trace: Trace {
                peer: format!("[{}]", peer.ip()),
                tls: port == Port::Smtps,
                ..Trace::default()
            },
            user: None,
            generation: 0,
            sasl: None,
            tx: None,
            incoming: None,
            data_error: None,
            in_tx: false,
            messages: 0,
            attempt: None,
            auth_failures: 0,
            errors: 0,
            recipients: 0,
            hops: crate::hops::HopCounter::default(),
            delivered_to: crate::hops::DeliveredTo::default(),
            list_buf: None,
            head: None,
            resolver: None,
            spf: None,
            dnsbl: None,
        }
    }

    /// `port peer [user=NAME ]`: the start of every log line of the
    /// session, in a buffer with room for `more` bytes.
    fn log_start(&self, more: usize) -> String {
        use std::fmt::Write as _;
        let mut line = String::with_capacity(64 + more);
        let _ = write!(line, "{} {} ", self.port.name(), self.peer);
        if let Some(u) = &self.user {
            let _ = write!(line, "user={u} ");
        }
        line
    }

    /// The SRS envelope sender of a transaction's queued copy, when it
    /// forwards mail of a foreign sender to another domain.
    fn srs_sender(&self, tx: &Tx) -> Option<String> {
        let cfg = &self.shared.store.cfg;
        let foreign =
            crate::store::split_addr(&tx.sender).is_some_and(|(_, d)| !cfg.is_local_domain(d));
        (tx.forwarded && foreign).then(|| {
            self.shared
                .srs
                .forward(&tx.sender, &cfg.domains[0], unix_now() / 86400)
        })
    }

    /// A recipient refused by policy: `rep`, or 421 and the end of the
    /// connection once the errors reach the limit.
    fn refuse_rcpt(&mut self, m: &mut Server, handle: ReplyHandle, rep: Reply<'static>) {
        self.errors += 1;
        let rep = if self.errors >= self.shared.store.cfg.session.max_errors {
            self.log("too many errors: closing");
            reply(421, (4, 7, 0), "Error: too many errors")
        } else {
            rep
        };
        let _ = m.reply(handle, rep);
    }

    /// An AUTH attempt failed: wait (growing with the failures), then
    /// answer `rep`, or 421 and close after too many failures.
    fn auth_failed(&mut self, m: &mut Server, handle: ReplyHandle, rep: Reply<'static>, why: &str) {
        self.auth_failures += 1;
        let action = match self.attempt.take() {
            Some(a) => self.shared.auth_guard.failed(a, self.auth_failures),
            None => crate::auth_guard::FailureAction {
                delay: self.shared.auth_guard.policy().delay,
                disconnect: self.auth_failures
                    >= self.shared.auth_guard.policy().max_per_connection,
            },
        };
        self.log(&format!(
            "AUTH failed: {why} ({} on this connection; answered after {} ms)",
            self.auth_failures,
            action.delay.as_millis()
        ));
        crate::driver::blocking(|| std::thread::sleep(action.delay));
        let rep = if action.disconnect {
            reply(421, (4, 7, 0), "Too many authentication failures")
        } else {
            rep
        };
        let _ = m.reply(handle, rep);
    }

    fn log(&self, what: &str) {
        let mut line = self.log_start(what.len());
        line.push_str(what);
        crate::driver::log(line);
    }

    /// The log line of a stored message, built in one buffer.
    fn log_delivery(&self, tx: &Tx, size: u64, stored: &crate::store::Stored) {
        use std::fmt::Write as _;
        let mut line = self.log_start(96 + tx.sender.len());
        let _ = write!(line, "id={} from=<{}> rcpts=", tx.id, tx.sender);
        for (i, r) in tx.rcpts.iter().enumerate() {
            line.push_str(if i == 0 { "<" } else { ",<" });
            line.push_str(&r.0);
            line.push('>');
        }
        if let Some(p) = tx.priority {
            let _ = write!(line, " priority={p}");
        }
        if tx.requiretls {
            line.push_str(" requiretls");
        }
        let _ = write!(
            line,
            " size={size} local={} queued={} 250",
            stored.local.len(),
            stored.queued
        );
        crate::driver::log(line);
    }

    /// The Delivered-To loop check at the end of DATA: the recipients of
    /// ours that the message already names in a `Delivered-To:` field have
    /// seen it before (a forwarding loop). They are bounced (RFC 3464,
    /// status 5.4.6 of RFC 3463 §3.5) and the message is stored again for
    /// the others, if any (`inc` is then a new spool, or `None`).
    fn loop_check(
        &self,
        tx: &mut Tx,
        inc: &mut Option<Incoming>,
        delivered_to: &crate::hops::DeliveredTo,
    ) -> io::Result<()> {
        let looping: Vec<String> = tx
            .accepted
            .iter()
            .filter(|a| a.ours && delivered_to.contains(&a.addr))
            .map(|a| a.addr.clone())
            .collect();
        if looping.is_empty() {
            return Ok(());
        }
        let Some(old) = inc.take() else {
            return Ok(());
        };
        let remote_sender = old.remote_sender.clone();
        let content = old.into_content()?;
        let failures: Vec<crate::bounce::Failure> = tx
            .accepted
            .iter()
            .filter(|a| looping.contains(&a.addr) && a.req.wants_failure())
            .map(|Accepted { addr: a, req, .. }| crate::bounce::Failure {
                rcpt: a.clone(),
                orcpt: req.orcpt.clone(),
                status: "5.4.6".into(),
                diagnostic: Some(format!(
                    "mail forwarding loop for <{a}>: the message already has Delivered-To: {a}"
                )),
                remote_mta: None,
                ..Default::default()
            })
            .collect();
        self.log(&format!(
            "id={} mail loop (Delivered-To) for <{}>: not delivered",
            tx.id,
            looping.join(">,<")
        ));
        if !failures.is_empty() {
            crate::delivery::bounce_to_sender(
                self.shared,
                &tx.id,
                &tx.sender,
                unix_now(),
                &failures,
                &tx.dsn.with_requiretls(tx.requiretls),
                &content,
            );
        }
        let accepted = &tx.accepted;
        tx.rcpts.retain(|t| {
            accepted
                .iter()
                .any(|a| !looping.contains(&a.addr) && a.targets.contains(t))
        });
        if !tx.rcpts.is_empty() {
            *inc = Some(self.respool(tx, remote_sender, &content)?);
        }
        Ok(())
    }

    /// Spools `content` again as the transaction's message (after the first
    /// spool was read back by [`Incoming::into_content`]).
    fn respool(
        &self,
        tx: &Tx,
        remote_sender: Option<String>,
        content: &[u8],
    ) -> io::Result<Incoming> {
        let mut again =
            self.shared
                .store
                .begin(tx.id.clone(), &tx.sender, tx.rcpts.clone(), b"")?;
        again.eight_bit = tx.eight_bit;
        again.smtputf8 = tx.smtputf8;
        again.remote_sender = remote_sender;
        again.dsn = tx.dsn.clone();
        again.rcpt_dsn = tx.rcpt_requests();
        again.priority = tx.priority;
        again.requiretls = tx.requiretls;
        if let Err(e) = again.write(content) {
            again.abort();
            return Err(e);
        }
        Ok(again)
    }

    /// The `MT-Priority:` header field (RFC 6710 §9) of an authenticated
    /// user's message that came without an `MT-PRIORITY=` parameter: read
    /// as if it had been the parameter (the MSA case of RFC 6710 §4.1, which
    /// lets a submission server take the priority from the field), under
    /// the same MIXER policy. A field that is not a bare `priority-value`
    /// (`-4`, `+3`; no comment) is ignored, as is one from a client that did
    /// not authenticate: the field is only a hint from whoever wrote it.
    fn header_priority(
        &self,
        tx: &mut Tx,
        inc: &mut Option<Incoming>,
        header: &mailwire::message::HeaderSection<'_>,
    ) {
        if tx.priority.is_some() {
            return;
        }
        let Some(asked) = header
            .get("mt-priority")
            .and_then(|f| f.value_text().parse::<Priority>().ok())
        else {
            return;
        };
        let (given, _) = mixer_priority(asked, true);
        self.log(&format!(
            "id={} priority {given} from the MT-Priority field ({asked})",
            tx.id
        ));
        tx.priority = Some(given);
        if let Some(inc) = inc.as_mut() {
            inc.priority = Some(given);
        }
    }

    /// DKIM-signs (RFC 6376) an authenticated user's message whose From
    /// domain has a `--dkim` key: the spool is read back, signed and
    /// spooled again, before the commit makes it durable (the queue then
    /// sends the same signed bytes on every attempt). The DKIM-Signature
    /// field goes in front of the server's own trace fields.
    fn dkim_sign(
        &self,
        tx: &Tx,
        inc: &mut Option<Incoming>,
        header: &mailwire::message::HeaderSection<'_>,
    ) -> io::Result<()> {
        if self.shared.dkim.is_empty() {
            return Ok(());
        }
        let Some(domain) = crate::dkim::from_domain(header) else {
            return Ok(());
        };
        if !self.shared.dkim.signs(&domain) {
            return Ok(());
        }
        let Some(old) = inc.take() else {
            return Ok(());
        };
        let remote_sender = old.remote_sender.clone();
        let content = old.into_content()?;
        let signed = self.shared.dkim.sign(&domain, &content, unix_now());
        self.log(&format!("id={} DKIM-signed for {domain}", tx.id));
        *inc = Some(self.respool(tx, remote_sender, &signed)?);
        Ok(())
    }

    /// The SPF check (RFC 7208, see [`crate::spf`]) of the transaction's
    /// MAIL FROM (or HELO) identity for a client that is not logged in and
    /// not in `--trusted-networks`: the result for the `Authentication-Results`
    /// field, logged. DNS: up to [`crate::spf::DNS_BUDGET`].
    fn spf_check(&mut self) -> Option<SpfChecked> {
        let cfg = &self.shared.store.cfg;
        let ip = self.peer.ip();
        if !cfg.spf || !self.sender_checked() {
            return None;
        }
        // Nothing is stored without a recipient: nothing to tell.
        let tx = self.tx.as_ref().filter(|tx| !tx.rcpts.is_empty())?;
        let helo = self.trace.helo.as_str();
        let (local, domain) = crate::spf::identity(&tx.sender, helo)?;
        let resolver = self
            .resolver
            .get_or_insert_with(|| crate::resolve::Resolver::for_checks(cfg));
        let dns = crate::resolve::SpfDns {
            resolver,
            deadline: std::time::Instant::now() + crate::spf::DNS_BUDGET,
        };
        let result =
            crate::driver::blocking(|| crate::spf::check_host(&dns, ip, &local, &domain, helo));
        // The property's value as RFC 8601 §2.3 allows it (no white
        // space, comment or separator from the peer).
        let safe = |s: &str| -> String {
            s.chars()
                .filter(|c| {
                    !c.is_whitespace()
                        && !c.is_control()
                        && !matches!(c, ';' | '(' | ')' | '"' | '\\')
                })
                .take(255)
                .collect()
        };
        let property = if tx.sender.is_empty() {
            format!("smtp.helo={}", safe(&domain))
        } else {
            format!("smtp.mailfrom={}", safe(&format!("{local}@{domain}")))
        };
        let resinfo = format!("spf={} {property}", result.word());
        self.log(&format!("id={} {resinfo} client {ip}", tx.id));
        Some(SpfChecked {
            resinfo,
            result,
            domain,
        })
    }

    /// The refusal of recipient `addr` for a client a `--dnsbl` list has
    /// (RFC 5782, see [`crate::dnsbl`]): looked up at the session's first
    /// recipient, for clients the checks are for. Postmaster is never
    /// refused (RFC 5321 §4.5.1), so a listed sender can still reach a
    /// person. DNS: up to [`crate::dnsbl::DNS_BUDGET`], once a session.
    fn dnsbl_refusal(&mut self, addr: &str) -> Option<Reply<'static>> {
        let cfg = &self.shared.store.cfg;
        if cfg.dnsbl.is_empty() || !self.sender_checked() || is_postmaster(addr) {
            return None;
        }
        let ip = self.peer.ip();
        if self.dnsbl.is_none() {
            let resolver = self
                .resolver
                .get_or_insert_with(|| crate::resolve::Resolver::for_checks(cfg));
            let dns = crate::resolve::SpfDns {
                resolver,
                deadline: std::time::Instant::now() + crate::dnsbl::DNS_BUDGET,
            };
            let found = crate::driver::blocking(|| crate::dnsbl::check(&dns, ip, &cfg.dnsbl));
            for f in &found.failed {
                self.log(&format!("dnsbl: lookup failed, not counted: {f}"));
            }
            if let Some((zone, code)) = &found.listed {
                self.log(&format!("dnsbl: client {ip} listed by {zone} ({code})"));
            }
            self.dnsbl = Some(found.listed);
        }
        let (zone, _) = self.dnsbl.as_ref()?.as_ref()?;
        Some(reply(
            554,
            (5, 7, 1),
            &format!("Service unavailable; client [{ip}] blocked using {zone}"),
        ))
    }

    /// The refusal for now (`451 4.7.1`) of recipient `addr` of a client
    /// network, sender and recipient the greylist (`--greylist`, see
    /// [`crate::greylist`]) has not seen retried; for clients the checks
    /// are for, and not for postmaster.
    fn greylisted(&self, addr: &str) -> Option<Reply<'static>> {
        let greylist = self.shared.greylist.as_ref()?;
        let tx = self.tx.as_ref()?;
        if !self.sender_checked() || is_postmaster(addr) {
            return None;
        }
        let ip = self.peer.ip();
        let (verdict, written) = greylist.check(ip, &tx.sender, addr, unix_now());
        if let Err(e) = written {
            self.log(&format!("greylist: not written: {e}"));
        }
        match verdict {
            crate::greylist::Verdict::Pass => None,
            crate::greylist::Verdict::Wait(secs) => {
                self.log(&format!(
                    "RCPT <{addr}> greylisted: client {ip}, sender <{}>",
                    tx.sender
                ));
                Some(reply(
                    451,
                    (4, 7, 1),
                    &format!("<{addr}>: Greylisted, please try again in {secs} seconds"),
                ))
            }
        }
    }

    /// The refusal of a recipient one of whose local accounts has used its
    /// quota (`--quota`) up: `452 4.2.2` (RFC 3463: mailbox full), a
    /// temporary failure, so that the sender retries while the user makes
    /// room. A message under the quota is taken whole, so an account can
    /// go past its quota by up to one message.
    fn mailbox_full(&self, targets: &[(String, Dest)]) -> Option<Reply<'static>> {
        let store = &self.shared.store;
        if !store.any_quota() {
            return None;
        }
        let mail = &store.mail;
        targets.iter().find_map(|(addr, d)| match d {
            // A delivery into a folder (`user/.tag`) is the account's.
            Dest::Local(to) => {
                let user = crate::store::account_of(to);
                // Full: not a byte or a message more fits (a usage that
                // cannot be read refuses nothing).
                let one = crate::mailstore::Usage {
                    bytes: 1,
                    messages: 1,
                };
                let full = mail
                    .exceeds(user, &store.quota_limits(user), one)
                    .is_ok_and(|over| over.is_some());
                if !full {
                    return None;
                }
                self.log(&format!("RCPT <{addr}>: the mailbox of {user} is full"));
                Some(reply(452, (4, 2, 2), &format!("<{addr}>: Mailbox full")))
            }
            _ => None,
        })
    }

    /// Whether the sender of this session's mail is one the SPF, DMARC and
    /// DNSBL checks are for: not a user who logged in, not a client of
    /// `--trusted-networks`, and not `--sink` (nothing stored).
    fn sender_checked(&self) -> bool {
        let cfg = &self.shared.store.cfg;
        !cfg.sink
            && self.user.is_none()
            && !crate::config::in_networks(self.peer.ip(), &cfg.trusted_networks)
    }

    /// The DKIM check (RFC 6376 §6) and the DMARC check (RFC 7489, see
    /// [`crate::dmarc`]) of a message from another server, told in an
    /// `Authentication-Results` field (RFC 8601) in front of the server's
    /// trace fields; and, in any message, the removal of result fields
    /// that claim to come from this server (RFC 8601 §5). Only a message
    /// with signatures, such fields, an author domain with a DMARC policy
    /// (or a header too long to tell from `header`, not `whole`) is read
    /// back and spooled again. The DMARC policy of a failing author domain
    /// is the verdict; no other result refuses a message. An authenticated
    /// user's message is not checked (it is ours to sign).
    fn authentication_results(
        &mut self,
        tx: &Tx,
        inc: &mut Option<Incoming>,
        header: &mailwire::message::HeaderSection<'_>,
        whole: bool,
    ) -> io::Result<Verdict> {
        use crate::dkim_verify::{
            DNS_BUDGET, Verdict as Dkim, claims_to_be_ours, results_field, rewrite, verify,
            within_budget,
        };
        use crate::dmarc::{Authenticated, Policy};
        let cfg = &self.shared.store.cfg;
        let check = self.user.is_none() && cfg.dkim_verify;
        let fields = header.fields();
        let signed = check && fields.iter().any(|f| f.is("dkim-signature"));
        let forged = fields.iter().any(|f| claims_to_be_ours(f, &cfg.hostname));
        let dmarc_on = cfg.dmarc && self.sender_checked();
        let mut authors = if dmarc_on {
            crate::dmarc::author_domains(header)
        } else {
            Vec::new()
        };
        if !signed && !forged && whole && authors.is_empty() {
            return Ok(Verdict::Deliver);
        }
        let Some(old) = inc.take() else {
            return Ok(Verdict::Deliver);
        };
        let remote_sender = old.remote_sender.clone();
        // A header longer than `header` holds is read whole now (it is
        // spooled again below in any case): its From fields may come after
        // what `header` saw, and a From hidden past the first 64 KiB must
        // not escape DMARC.
        let (mut old, mut content) = (Some(old), None);
        if !whole && let Some(o) = old.take() {
            let c = o.into_content()?;
            if dmarc_on {
                authors =
                    crate::dmarc::author_domains(&mailwire::message::HeaderSection::parse(&c));
            }
            content = Some(c);
        }
        // The DMARC policies and the DKIM keys of one message share one
        // DNS budget: up to DNS_BUDGET in all. No resolver is made for a
        // message that needs no lookup (only a forged field to remove).
        let resolver: Option<&crate::resolve::Resolver> =
            (check || !authors.is_empty()).then(|| {
                &*self
                    .resolver
                    .get_or_insert_with(|| crate::resolve::Resolver::for_checks(cfg))
            });
        let lookup = within_budget(
            |name: &str, left| {
                resolver
                    .ok_or("no DNS lookup for this message")?
                    .txt_within(name, Some(left))
                    .map_err(|e| e.to_string())
            },
            DNS_BUDGET,
        );
        let policies = crate::driver::blocking(|| crate::dmarc::policies(&lookup, &authors));
        if !signed && !forged && whole && policies.is_empty() {
            *inc = old;
            return Ok(Verdict::Deliver);
        }
        let content = match (content, old) {
            (Some(c), _) => c,
            (None, Some(o)) => o.into_content()?,
            (None, None) => return Ok(Verdict::Deliver),
        };
        let outcomes = if check {
            crate::driver::blocking(|| verify(&content, &lookup, unix_now()))
        } else {
            Vec::new()
        };
        drop(lookup);
        let passed: Vec<&str> = outcomes
            .iter()
            .filter(|o| o.verdict == Dkim::Pass)
            .map(|o| o.domain.as_str())
            .collect();
        let spf = self.spf.as_ref();
        let evaluations = crate::dmarc::evaluate(
            &policies,
            Authenticated {
                spf: spf.map(|s| (s.result, s.domain.as_str())),
                dkim: &passed,
            },
            percent_roll(),
        );
        let dmarc: Vec<String> = evaluations.iter().map(|e| e.resinfo()).collect();
        if let Some(records) = &self.shared.dmarc_records {
            let spf = spf.map(|s| (s.result, s.domain.as_str(), tx.sender.is_empty()));
            for e in &evaluations {
                if let Some(entry) =
                    crate::dmarc_report::Entry::of(e, self.peer.ip(), &outcomes, spf, unix_now())
                    && let Err(err) = records.record(&entry)
                {
                    self.log(&format!("dmarc report record: {err}"));
                }
            }
        }
        // `dkim=none` for an unsigned message read back for a forged field
        // or for DMARC; a header too long for `header` that turned out
        // unsigned gets no DKIM result (as a short unsigned one).
        let dkim = (check && (!outcomes.is_empty() || signed || forged || !policies.is_empty()))
            .then_some(outcomes.as_slice());
        let result = results_field(&cfg.hostname, dkim, spf.map(|s| s.resinfo.as_str()), &dmarc);
        if dkim.is_some() || !dmarc.is_empty() {
            self.log(&format!(
                "id={} {}",
                tx.id,
                result
                    .trim_end()
                    .replace("\r\n\t", " ")
                    .replace("\r\n ", " ")
            ));
        }
        if forged {
            self.log(&format!(
                "id={} removed a forged Authentication-Results field",
                tx.id
            ));
        }
        let verdict = match crate::dmarc::disposition(&evaluations) {
            Policy::Reject => Verdict::Reject,
            Policy::Quarantine => Verdict::Quarantine,
            Policy::None => Verdict::Deliver,
        };
        if verdict == Verdict::Reject {
            // Read back and removed: nothing of it is stored.
            return Ok(verdict);
        }
        let new = rewrite(&content, &self.shared.store.cfg.hostname, &result);
        let mut again = self.respool(tx, remote_sender, &new)?;
        again.junk = verdict == Verdict::Quarantine;
        *inc = Some(again);
        Ok(verdict)
    }

    /// The success notices (RFC 3461 NOTIFY=SUCCESS, action "delivered")
    /// of the recipients delivered here, to the sender.
    fn success_notices(&self, tx: &Tx, stored: &crate::store::Stored) {
        let delivered: Vec<crate::bounce::Failure> = tx
            .rcpt_requests()
            .into_iter()
            .filter(|(t, r)| {
                r.wants_success()
                    && tx
                        .rcpts
                        .iter()
                        .any(|(a, d)| a == t && matches!(d, Dest::Local(_)))
            })
            .map(|(rcpt, r)| crate::bounce::Failure {
                rcpt,
                action: crate::bounce::Action::Delivered,
                status: "2.0.0".into(),
                orcpt: r.orcpt,
                ..Default::default()
            })
            .collect();
        let Some(copy) = stored.local.first().filter(|_| !delivered.is_empty()) else {
            return;
        };
        match std::fs::read(copy) {
            Ok(content) => crate::delivery::bounce_to_sender(
                self.shared,
                &tx.id,
                &tx.sender,
                unix_now(),
                &delivered,
                &tx.dsn.with_requiretls(tx.requiretls),
                &content,
            ),
            Err(e) => self.log(&format!("id={} success notice: {e}", tx.id)),
        }
    }

    fn end_tx(&mut self) {
        if let Some(inc) = self.incoming.take() {
            inc.abort();
        }
        self.tx = None;
        self.data_error = None;
        self.in_tx = false;
        self.list_buf = None;
        self.head = None;
    }

    /// A recipient that is an address of a mailing list: posts only from
    /// members (unless the list is open).
    fn list_rcpt(
        &mut self,
        m: &mut Server,
        handle: ReplyHandle,
        list: String,
        role: crate::list::Role,
        conf: crate::list::ListConf,
    ) {
        let Some(tx) = self.tx.as_mut() else {
            let _ = m.reply(handle, reply(503, (5, 5, 1), "Need MAIL command"));
            return;
        };
        if role == crate::list::Role::Post
            && !conf.open
            && !crate::list::is_member(&conf, &tx.sender)
        {
            let rep = reply(
                550,
                (5, 7, 1),
                &format!("<{list}>: posting restricted to members"),
            );
            self.log(&format!("RCPT <{list}> refused: not a member"));
            self.refuse_rcpt(m, handle, rep);
            return;
        }
        if !tx.lists.iter().any(|(l, r, _)| *l == list && *r == role) {
            tx.lists.push((list, role, conf));
        }
        self.recipients += 1;
        let _ = m.accept(handle);
    }

    /// Hands a received message to its lists.
    fn run_lists(&mut self, tx: &Tx) -> io::Result<()> {
        let content = self.list_buf.take().unwrap_or_default();
        let store = &self.shared.store;
        for (list, role, conf) in &tx.lists {
            match role {
                crate::list::Role::Post => {
                    crate::list::post(self.shared, list, conf, &content)?;
                }
                crate::list::Role::Request => {
                    crate::list::request(self.shared, list, conf, &tx.sender, &content)?;
                }
                crate::list::Role::Bounce(member) => {
                    crate::list::bounce(&store.cfg.data, list, member.as_deref())?;
                }
            }
        }
        Ok(())
    }

    fn sasl_step(&mut self, m: &mut Server, handle: ReplyHandle, step: ServerStep) {
        let mut step = step;
        loop {
            let Some(sasl) = self.sasl.as_mut() else {
                return;
            };
            step = match step {
                ServerStep::Challenge(c) => {
                    let _ = m.auth_challenge(handle, &c);
                    return;
                }
                ServerStep::NeedPassword { authcid, .. } => {
                    let accounts = &self.shared.accounts;
                    let answered = if sasl.mechanism() == Mechanism::CramMd5 {
                        // Needs the plaintext (demo accounts only).
                        match accounts.plaintext(&authcid) {
                            Some(pw) => sasl.provide_password(pw).ok(),
                            None => sasl.reject().ok(),
                        }
                    } else {
                        // PLAIN, LOGIN: checked against the SCRAM keys, with
                        // the same work for an unknown user.
                        sasl.check_password(|pw| accounts.verify(&authcid, pw.expose()))
                            .ok()
                    };
                    answered.unwrap_or(ServerStep::Failure(FailureReason::InvalidCredentials))
                }
                ServerStep::NeedScramCredentials { authcid, .. } => {
                    // Unknown users get made-up keys and fail at the proof,
                    // like a wrong password.
                    let creds = self.shared.accounts.scram(&authcid);
                    match sasl.provide_scram_credentials(creds) {
                        Ok(s) => s,
                        Err(_) => ServerStep::Failure(FailureReason::InvalidCredentials),
                    }
                }
                ServerStep::Success {
                    authcid, authzid, ..
                } => {
                    self.sasl = None;
                    let ok = authzid
                        .as_deref()
                        .is_none_or(|z| z.is_empty() || z.eq_ignore_ascii_case(&authcid));
                    if ok {
                        if let Some(a) = self.attempt.take() {
                            self.shared.auth_guard.succeeded(a);
                        }
                        let _ = m.auth_success(handle);
                        let user = authcid.to_ascii_lowercase();
                        self.generation = self.shared.accounts.generation(&user);
                        self.user = Some(user);
                        self.trace.auth = true;
                    } else {
                        self.auth_failed(
                            m,
                            handle,
                            reply(535, (5, 7, 8), "Authentication credentials invalid"),
                            "authzid not allowed",
                        );
                    }
                    return;
                }
                ServerStep::Failure(reason) => {
                    self.sasl = None;
                    let r = if reason.is_client_error() {
                        reply(501, (5, 5, 2), "Malformed authentication response")
                    } else {
                        reply(535, (5, 7, 8), "Authentication credentials invalid")
                    };
                    self.auth_failed(m, handle, r, &reason.to_string());
                    return;
                }
                _ => {
                    self.sasl = None;
                    let _ = m.reply(handle, reply(504, (5, 5, 4), "Mechanism not supported"));
                    return;
                }
            };
        }
    }
}

impl Handler<Server> for Session<'_> {
    fn event(&mut self, m: &mut Server, ev: Event, conn: &mut Conn) -> io::Result<()> {
        match ev {
            Event::Hello { domain, extended } => {
                self.end_tx();
                self.trace.helo = domain.to_string();
                self.trace.extended = extended;
            }
            Event::Mail {
                handle,
                from,
                params,
            } => {
                self.end_tx();
                if self.shared.shutdown.load(Ordering::Relaxed) {
                    let _ = m.reply(handle, reply(421, (4, 3, 2), "Service shutting down"));
                    return Ok(());
                }
                if self.port != Port::Mta && self.user.is_none() {
                    self.log("MAIL refused: authentication required (530)");
                    let _ = m.reply(handle, reply(530, (5, 7, 0), "Authentication required"));
                    return Ok(());
                }
                if let Some(user) = &self.user
                    && self.shared.accounts.changed_since(user, self.generation)
                {
                    self.log(&format!("{user}'s password changed: closing"));
                    let _ = m.reply(
                        handle,
                        reply(421, (4, 7, 0), "Your password was changed: log in again"),
                    );
                    return Ok(());
                }
                let sender = match &from {
                    ReversePath::Null => String::new(),
                    ReversePath::Mailbox(mb) => mb.to_string(),
                };
                self.tx = Some(Tx {
                    id: queue_id(),
                    sender,
                    rcpts: Vec::new(),
                    eight_bit: params.body == Some(BodyType::EightBitMime),
                    smtputf8: params.smtputf8,
                    forwarded: false,
                    lists: Vec::new(),
                    accepted: Vec::new(),
                    dsn: crate::bounce::Request {
                        envid: params
                            .envid
                            .as_ref()
                            .map(|e| String::from_utf8_lossy(&e.decode()).into_owned()),
                        ret: params.ret,
                        requiretls: params.requiretls,
                    },
                    priority: None,
                    requiretls: params.requiretls,
                });
                self.in_tx = true;
                match params.mt_priority {
                    Some(asked) => {
                        let (given, changed) = mixer_priority(asked, self.user.is_some());
                        if let Some(tx) = self.tx.as_mut() {
                            tx.priority = Some(given);
                        }
                        if changed {
                            // RFC 6710 §4.1 and its X.3.6 code: accepted
                            // with another priority.
                            let text = format!("Requested priority was changed to {given}");
                            let _ = m.reply(handle, reply(250, (2, 3, 6), &text));
                        } else {
                            let _ = m.accept(handle);
                        }
                    }
                    None => {
                        let _ = m.accept(handle);
                    }
                }
            }
            Event::Rcpt { handle, to, params } => {
                let addr = match &to {
                    ForwardPath::Postmaster => {
                        format!("postmaster@{}", self.shared.store.cfg.domains[0])
                    }
                    ForwardPath::Mailbox(mb) => mb.to_string(),
                };
                if let Some(rep) = self.dnsbl_refusal(&addr) {
                    self.log(&format!("RCPT <{addr}> refused: {}", rep.text()));
                    self.refuse_rcpt(m, handle, rep);
                    return Ok(());
                }
                let routing = self.shared.store.routing();
                if let Some((list, role)) = crate::list::classify(&routing.lists, &addr)
                    && let Some(conf) = routing.lists.get(&list)
                {
                    self.list_rcpt(m, handle, list, role, conf.clone());
                    return Ok(());
                }
                let cx = crate::rewrite::Context {
                    srs: &self.shared.srs,
                    day: unix_now() / 86400,
                };
                let r = match crate::rewrite::expand(&routing, cx, &addr) {
                    Expansion::Remote if self.user.is_none() => Err(reply(
                        550,
                        (5, 7, 1),
                        &format!("<{addr}>: Relay access denied"),
                    )),
                    Expansion::Remote => Ok((vec![(addr.clone(), Dest::Remote)], false)),
                    // A remote target of ours is forwarded mail.
                    Expansion::Local(targets) => {
                        let forwarded = targets.iter().any(|(_, d)| *d == Dest::Remote);
                        Ok((targets, forwarded))
                    }
                    Expansion::Unknown => Err(reply(
                        550,
                        (5, 1, 1),
                        &format!("<{addr}>: Recipient address rejected: User unknown"),
                    )),
                };
                let r = r.and_then(|(targets, forwarded)| match self.mailbox_full(&targets) {
                    Some(rep) => Err(rep),
                    None => Ok((targets, forwarded)),
                });
                // An account past its --send-rate: refused for now (450
                // 4.7.1), logged for whoever watches for stolen passwords.
                if r.is_ok()
                    && let Some(user) = self.user.as_deref()
                    && !self.shared.send_rate.spend(user, std::time::Instant::now())
                {
                    self.log(&format!(
                        "RCPT <{addr}> refused: {user} has sent to its --send-rate of recipients"
                    ));
                    let _ = m.reply(
                        handle,
                        reply(
                            450,
                            (4, 7, 1),
                            &format!("<{addr}>: Too many recipients from your account, try later"),
                        ),
                    );
                    return Ok(());
                }
                // Greylisted: refused for now, without counting as an error
                // (a retry is what is asked for).
                if r.is_ok()
                    && let Some(rep) = self.greylisted(&addr)
                {
                    let _ = m.reply(handle, rep);
                    return Ok(());
                }
                let full =
                    self.recipients >= self.shared.store.cfg.session.max_recipients_per_connection;
                match (r, self.tx.as_mut()) {
                    (Ok(_), Some(_)) if full => {
                        let _ = m.reply(
                            handle,
                            reply(452, (4, 5, 3), "Too many recipients in this connection"),
                        );
                    }
                    (Ok((targets, forwarded)), Some(tx)) => {
                        tx.forwarded |= forwarded;
                        let ours = !matches!(targets.as_slice(), [(a, Dest::Remote)] if *a == addr);
                        for t in &targets {
                            if !tx.rcpts.contains(t) {
                                tx.rcpts.push(t.clone());
                            }
                        }
                        tx.accepted.push(Accepted {
                            addr: addr.clone(),
                            ours,
                            targets,
                            req: crate::bounce::RcptRequest {
                                notify: params.notify,
                                orcpt: params
                                    .orcpt
                                    .as_ref()
                                    .map(|o| format!("{};{}", o.addr_type, o.addr)),
                            },
                        });
                        self.recipients += 1;
                        let _ = m.accept(handle);
                    }
                    (Ok(_), None) => {
                        let _ = m.reply(handle, reply(503, (5, 5, 1), "Need MAIL command"));
                    }
                    (Err(rep), _) => {
                        self.log(&format!("RCPT <{addr}> refused: {}", rep.text()));
                        self.refuse_rcpt(m, handle, rep);
                    }
                }
            }
            Event::DataStart { .. } => {
                self.hops = Default::default();
                self.delivered_to = Default::default();
                self.spf = self.spf_check();
                if let Some(tx) = self.tx.as_ref() {
                    self.list_buf = (!tx.lists.is_empty()).then(Vec::new);
                }
                // `--sink` stores nothing: no header to look at.
                self.head = (self.user.is_some() || !self.shared.store.cfg.sink).then(Vec::new);
                if let Some(tx) = self.tx.as_ref().filter(|tx| !tx.rcpts.is_empty()) {
                    let for_rcpt = (tx.rcpts.len() == 1).then(|| tx.rcpts[0].0.as_str());
                    self.trace.tls = conn.is_tls() || self.port == Port::Smtps;
                    // `--sink` throws the content away: no trace field to build.
                    let prefix = if self.shared.store.cfg.sink {
                        String::new()
                    } else {
                        // Delivered-To (the loop check of the next round)
                        // when the message is for one address of ours:
                        // with more, it would tell each recipient the
                        // others (as `for` in Received).
                        let delivered = match tx.accepted.as_slice() {
                            [
                                Accepted {
                                    addr, ours: true, ..
                                },
                            ] => format!("Delivered-To: {addr}\r\n"),
                            _ => String::new(),
                        };
                        let spf = crate::dkim_verify::results_field(
                            &self.shared.store.cfg.hostname,
                            None,
                            self.spf.as_ref().map(|s| s.resinfo.as_str()),
                            &[],
                        );
                        spf + &delivered
                            + &received_field(
                                &self.shared.store.cfg.hostname,
                                &tx.id,
                                &self.trace,
                                for_rcpt,
                                unix_now(),
                            )
                    };
                    match self.shared.store.begin(
                        tx.id.clone(),
                        &tx.sender,
                        tx.rcpts.clone(),
                        prefix.as_bytes(),
                    ) {
                        Ok(mut inc) => {
                            inc.eight_bit = tx.eight_bit;
                            inc.smtputf8 = tx.smtputf8;
                            inc.remote_sender = self.srs_sender(tx);
                            inc.dsn = tx.dsn.clone();
                            inc.rcpt_dsn = tx.rcpt_requests();
                            inc.priority = tx.priority;
                            inc.requiretls = tx.requiretls;
                            self.incoming = Some(inc);
                        }
                        Err(e) => self.data_error = Some(e),
                    }
                }
            }
            Event::DataChunk(bytes) => {
                // Up to the end of the header: cut there, so that
                // ends_with tells it is complete (no rescan per chunk).
                if let Some(h) = self.head.as_mut()
                    && h.len() < HEAD
                    && !h.ends_with(b"\r\n\r\n")
                {
                    let from = h.len().saturating_sub(3);
                    h.extend_from_slice(&bytes[..bytes.len().min(HEAD - h.len())]);
                    if let Some(p) = h[from..].windows(4).position(|w| w == b"\r\n\r\n") {
                        h.truncate(from + p + 4);
                    }
                }
                self.hops.feed(&bytes);
                self.delivered_to.feed(&bytes);
                if let Some(b) = self.list_buf.as_mut() {
                    if b.len() + bytes.len() > crate::list::MAX_POST {
                        // Refused at the end of DATA (the buffer goes now).
                        self.list_buf = None;
                    } else {
                        b.extend_from_slice(&bytes);
                    }
                }
                if let Some(inc) = self.incoming.as_mut()
                    && let Err(e) = inc.write(&bytes)
                {
                    self.data_error = Some(e);
                    if let Some(inc) = self.incoming.take() {
                        inc.abort();
                    }
                }
            }
            Event::DataEnd { handle, size } => {
                let mut tx = self.tx.take();
                let mut inc = self.incoming.take();
                let hops = std::mem::take(&mut self.hops);
                let delivered_to = std::mem::take(&mut self.delivered_to);
                let list_too_big = tx
                    .as_ref()
                    .is_some_and(|t| !t.lists.is_empty() && self.list_buf.is_none());
                let refusal = if hops.too_many() {
                    self.log(&format!(
                        "refused: {} Received fields: a mail loop",
                        hops.hops()
                    ));
                    Some(reply(554, (5, 4, 6), "Too many hops: mail loop detected"))
                } else if list_too_big {
                    self.log("refused: too big for a mailing list");
                    Some(reply(
                        552,
                        (5, 3, 4),
                        "Message too big for the mailing list",
                    ))
                } else {
                    None
                };
                if let Some(r) = refusal {
                    if let Some(inc) = inc.take() {
                        inc.abort();
                    }
                    self.in_tx = false;
                    let _ = m.reply(handle, r);
                    return Ok(());
                }
                if let Some(tx) = tx.as_mut()
                    && self.data_error.is_none()
                    && !hops.too_many()
                    && let Err(e) = self.loop_check(tx, &mut inc, &delivered_to)
                {
                    self.data_error = Some(e);
                }
                // The header, parsed once for all its readers: an
                // authenticated user's MT-Priority field and DKIM From;
                // the DKIM signatures of anybody else's message; result
                // fields that claim to be ours in either.
                let head = self.head.take();
                let header = head.as_deref().map(mailwire::message::HeaderSection::parse);
                // Shorter than the limit: the whole message was seen.
                let whole = head
                    .as_ref()
                    .is_some_and(|h| h.len() < HEAD || h.ends_with(b"\r\n\r\n"));
                if let (Some(tx), Some(header)) = (tx.as_ref(), header.as_ref())
                    && self.data_error.is_none()
                {
                    match self.authentication_results(tx, &mut inc, header, whole) {
                        Ok(Verdict::Reject) => {
                            self.log(&format!(
                                "id={} refused: the DMARC policy of its From domain",
                                tx.id
                            ));
                            self.in_tx = false;
                            let _ = m.reply(
                                handle,
                                reply(
                                    550,
                                    (5, 7, 1),
                                    "Rejected by the DMARC policy of the From domain",
                                ),
                            );
                            return Ok(());
                        }
                        Ok(_) => {}
                        Err(e) => self.data_error = Some(e),
                    }
                }
                if self.user.is_some() {
                    if let (Some(tx), Some(header)) = (tx.as_mut(), header.as_ref()) {
                        self.header_priority(tx, &mut inc, header);
                    }
                    if let (Some(tx), Some(header)) = (tx.as_ref(), header.as_ref())
                        && self.data_error.is_none()
                        && let Err(e) = self.dkim_sign(tx, &mut inc, header)
                    {
                        self.data_error = Some(e);
                    }
                }
                let r = match (tx, inc, self.data_error.take()) {
                    // Every recipient was a loop, bounced.
                    (Some(tx), None, None) if tx.rcpts.is_empty() && tx.lists.is_empty() => {
                        self.messages += 1;
                        reply(250, (2, 0, 0), &format!("Ok: queued as {}", tx.id))
                    }
                    // Only list addresses: nothing to store here.
                    (Some(tx), None, None) if tx.rcpts.is_empty() && !tx.lists.is_empty() => {
                        match self.run_lists(&tx) {
                            Ok(()) => {
                                self.messages += 1;
                                reply(250, (2, 0, 0), &format!("Ok: queued as {}", tx.id))
                            }
                            Err(e) => {
                                self.log(&format!("id={} list: {e}", tx.id));
                                reply(451, (4, 3, 0), "Local error in processing, try again later")
                            }
                        }
                    }
                    (Some(tx), Some(inc), None) => match inc.commit(&self.shared.store) {
                        Ok(stored) => {
                            self.messages += 1;
                            self.log_delivery(&tx, size, &stored);
                            if let Err(e) = self.run_lists(&tx) {
                                self.log(&format!("id={} list: {e}", tx.id));
                            }
                            self.success_notices(&tx, &stored);
                            if let Some(copy) = stored.local.first() {
                                let users = crate::vacation::local_users(&tx.rcpts);
                                crate::vacation::after_delivery(
                                    &self.shared.store,
                                    &tx.sender,
                                    &users,
                                    copy,
                                );
                            }
                            let mut text = String::with_capacity(16 + tx.id.len());
                            text.push_str("Ok: queued as ");
                            text.push_str(&tx.id);
                            reply(250, (2, 0, 0), &text)
                        }
                        Err(e) => {
                            self.log(&format!("id={} store failed: {e}", tx.id));
                            reply(451, (4, 3, 0), "Local error in processing, try again later")
                        }
                    },
                    (tx, inc, err) => {
                        if let Some(inc) = inc {
                            inc.abort();
                        }
                        self.log(&format!(
                            "id={} store failed: {}",
                            tx.map(|t| t.id).unwrap_or_default(),
                            err.map(|e| e.to_string())
                                .unwrap_or_else(|| "no transaction".into())
                        ));
                        reply(451, (4, 3, 0), "Local error in processing, try again later")
                    }
                };
                self.in_tx = false;
                let _ = m.reply(handle, r);
                if self.shared.shutdown.load(Ordering::Relaxed) {
                    m.shutdown();
                }
            }
            Event::MessageAborted { reason } => {
                if let Some(tx) = &self.tx {
                    self.log(&format!("id={} aborted: {reason:?}", tx.id));
                }
                self.end_tx();
            }
            Event::AuthStart {
                handle,
                mechanism,
                initial_response,
            } => {
                match self.shared.auth_guard.begin(self.peer.ip(), Instant::now()) {
                    Ok(a) => self.attempt = Some(a),
                    Err(_) => {
                        self.log("AUTH refused: address blocked after repeated failures");
                        let _ = m.reply(
                            handle,
                            reply(
                                421,
                                (4, 7, 0),
                                "Too many authentication failures from your address, try later",
                            ),
                        );
                        return Ok(());
                    }
                }
                let nonce = match mechanism {
                    Mechanism::CramMd5 => format!(
                        "<{}.{}@{}>",
                        random_hex(8),
                        unix_now(),
                        self.shared.store.cfg.hostname
                    ),
                    _ => random_hex(18),
                };
                match SaslServer::new(mechanism, &nonce, SaslOptions::default()) {
                    Ok(mut s) => {
                        let step =
                            s.start(initial_response.as_ref().map(|r| r.expose().as_slice()));
                        self.sasl = Some(s);
                        self.sasl_step(m, handle, step);
                    }
                    Err(_) => {
                        let _ = m.reply(
                            handle,
                            reply(454, (4, 7, 0), "Temporary authentication failure"),
                        );
                    }
                }
            }
            Event::AuthResponse { handle, response } => match self.sasl.as_mut() {
                Some(s) => {
                    let step = s.step(response.expose());
                    self.sasl_step(m, handle, step);
                }
                None => {
                    let _ = m.reply(
                        handle,
                        reply(503, (5, 5, 1), "No authentication in progress"),
                    );
                }
            },
            Event::AuthCancelled => {
                // Still counted against the address (begin counted it).
                self.sasl = None;
                self.attempt = None;
            }
            Event::StartTls => {
                let tls = rustls::ServerConnection::new(self.shared.tls.clone())
                    .map_err(io::Error::other)?;
                conn.start_tls(tls)?;
                self.trace = Trace {
                    peer: self.trace.peer.clone(),
                    tls: true,
                    ..Trace::default()
                };
                self.user = None;
                self.end_tx();
                m.handle_tls_established(Instant::now());
            }
            Event::Closed { reason } => {
                self.end_tx();
                // A normal end (QUIT) needs no line of its own: each
                // transaction already logged one.
                if reason != mailwire::smtp::ConnectionError::Quit {
                    self.log(&format!("closed: {reason} ({} messages)", self.messages));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn tick(&mut self, m: &mut Server) -> bool {
        if self.shared.shutdown.load(Ordering::Relaxed) && !self.in_tx {
            m.shutdown();
            return true;
        }
        false
    }

    fn end(&mut self) {
        self.end_tx();
    }
}

/// A session for an accepted connection: the machine (its greeting
/// queued) and the handler.
pub(crate) fn start(shared: &Shared, port: Port, peer: SocketAddr) -> (Server, Session<'_>) {
    let m = Server::new(options(shared, port, peer), Instant::now());
    (m, Session::new(shared, port, peer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: i8) -> Priority {
        Priority::new(v).unwrap()
    }

    /// RFC 6710 Appendix A (MIXER) and §4.1: three levels; a sender without
    /// AUTH may not raise its mail above normal.
    #[test]
    fn rfc6710_appendix_a_mixer_levels() {
        for (asked, auth, given) in [
            (-9, false, -4),
            (-1, true, -4),
            (-4, false, -4),
            (0, false, 0),
            (4, true, 4),
            (9, true, 4),
            (1, true, 4),
            (4, false, 0),
            (9, false, 0),
        ] {
            let (g, changed) = mixer_priority(p(asked), auth);
            assert_eq!(g, p(given), "{asked} auth={auth}");
            assert_eq!(changed, asked != given, "{asked} auth={auth}");
        }
    }
}
