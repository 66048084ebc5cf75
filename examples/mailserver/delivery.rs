//! The queue runner: delivers queued messages to other servers with the
//! mailwire SMTP client machine, retries temporary failures on the
//! `--retry` schedule until `--expire`, and bounces permanent failures to the
//! sender as RFC 3464 reports.

use std::collections::BTreeMap;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mailwire::smtp::client::{Client, Envelope, Event, MailError, Options, Outcome, TlsMode};
use mailwire::smtp::{
    ForwardPath, Host, Keyword, Mailbox, Orcpt, Priority, RcptParams, Reply, ReversePath, XText,
};
use rustls::pki_types::ServerName;

use crate::driver::{Conn, Handler};

use crate::bounce::{self, Failure};
use crate::queue::{Entry, now_ms};
use crate::resolve::{ResolveError, Resolver};
use crate::smtp_session::Shared;
use crate::store::{Dest, split_addr, unix_now};
use crate::tls::OutboundMode;

/// The outcome for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RcptResult {
    /// Taken by the next server; `dsn`: with the DSN parameters (RFC 3461
    /// §5.2.1), so notices are its business from now on.
    Delivered { dsn: bool },
    /// Try again later.
    Temporary(String),
    /// Give up and bounce.
    Permanent(Failure),
}

/// The outcome of one connection to one host.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// The host could not take the message at all (connection refused,
    /// 421, timeout): try the next host.
    HostFailed(String),
    /// Per-recipient results.
    Done(Vec<(String, RcptResult)>),
    /// Per-recipient results of the recipients sent, and those the host's
    /// MAILMAX (RFC 9422) left unsent in this session: a new session to
    /// the same host takes them.
    Partial(Vec<(String, RcptResult)>, Vec<String>),
}

/// Runs until the queue shuts down (the parallel runner, [`crate::runner`]).
pub(crate) fn run_queue(shared: &Shared) {
    crate::runner::run(shared);
}

/// One delivery attempt of `entry`: every recipient domain, then the
/// bounce for permanent failures and the entry updated or removed.
pub(crate) fn process(shared: &Shared, resolver: &Resolver, mut entry: Entry) {
    let cfg = &shared.store.cfg;
    let queue = &shared.store.queue;
    let msg = match queue.read_message(&entry) {
        Ok(m) => m,
        Err(e) => {
            crate::driver::log(format!(
                "queue id={}: cannot read the message: {e}; retrying later",
                entry.id
            ));
            entry.next_attempt = now_ms() + 60_000;
            let _ = queue.update(entry);
            return;
        }
    };
    // Group the recipients by domain, keeping their order.
    let mut by_domain: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut results: Vec<(String, RcptResult)> = Vec::new();
    for r in &entry.recipients {
        match split_addr(r) {
            Some((_, d)) => by_domain
                .entry(d.to_ascii_lowercase())
                .or_default()
                .push(r.clone()),
            None => results.push((
                r.clone(),
                RcptResult::Permanent(Failure {
                    rcpt: r.clone(),
                    status: "5.1.3".into(),
                    diagnostic: Some("bad recipient address syntax".into()),
                    remote_mta: None,
                    ..Default::default()
                }),
            )),
        }
    }
    for (domain, rcpts) in by_domain {
        results.extend(deliver_domain(
            shared, resolver, &entry, &domain, &rcpts, &msg,
        ));
    }

    let expired = now_ms().saturating_sub(entry.created) >= cfg.expire.as_millis() as u64;
    // The domains that took mail: their deferred messages go now.
    let mut took: Vec<String> = Vec::new();
    for (rcpt, res) in &results {
        if let (RcptResult::Delivered { .. }, Some((_, d))) = (res, split_addr(rcpt)) {
            let d = d.to_ascii_lowercase();
            if !took.contains(&d) {
                took.push(d);
            }
        }
    }
    if !took.is_empty() {
        let n = queue.wake_domains(&took);
        if n > 0 {
            crate::driver::log(format!(
                "queue: {} took mail again: {n} deferred message(s) retried now",
                took.join(", ")
            ));
        }
    }
    let mut remaining = Vec::new();
    let mut failures = Vec::new();
    let mut relayed = Vec::new();
    let mut delayed = Vec::new();
    // RFC 3461 §4.1 DELAY: one notice per message once it has waited
    // `--delay-warning`.
    let waited_long = !entry.delay_warned
        && now_ms().saturating_sub(entry.created) >= cfg.delay_warning.as_millis() as u64;
    let mut delivered = 0;
    entry.last_error.clear();
    for (rcpt, res) in results {
        match res {
            RcptResult::Delivered { dsn } => {
                delivered += 1;
                // RFC 3461 §5.2.2: a server without DSN took it, so a
                // requested success notice says "relayed".
                let req = entry.rcpt_request(&rcpt);
                if !dsn && req.wants_success() {
                    relayed.push(Failure {
                        action: bounce::Action::Relayed,
                        status: "2.0.0".into(),
                        orcpt: req.orcpt,
                        rcpt,
                        ..Default::default()
                    });
                }
            }
            RcptResult::Temporary(why) if expired => failures.push(Failure {
                rcpt: rcpt.clone(),
                status: "4.4.7".into(),
                diagnostic: Some(format!("delivery time expired; last error: {why}")),
                remote_mta: None,
                ..Default::default()
            }),
            RcptResult::Temporary(why) => {
                let req = entry.rcpt_request(&rcpt);
                if waited_long && req.wants_delay() {
                    delayed.push(Failure {
                        action: bounce::Action::Delayed,
                        status: "4.0.0".into(),
                        diagnostic: Some(why.clone()),
                        orcpt: req.orcpt,
                        rcpt: rcpt.clone(),
                        ..Default::default()
                    });
                }
                entry.last_error.insert(rcpt.clone(), why);
                remaining.push(rcpt);
            }
            RcptResult::Permanent(f) => failures.push(f),
        }
    }
    crate::driver::log(format!(
        "queue id={} from=<{}> attempt={} delivered={delivered} deferred={} bounced={}{}",
        entry.id,
        entry.sender,
        entry.attempts + 1,
        remaining.len(),
        failures.len(),
        entry
            .last_error
            .iter()
            .next()
            .map(|(r, e)| format!(" ({r}: {e})"))
            .unwrap_or_default()
    ));
    // NOTIFY: a failure is reported unless the recipient asked otherwise.
    failures.retain(|f| entry.rcpt_request(&f.rcpt).wants_failure());
    for f in &mut failures {
        f.orcpt = entry.rcpt_request(&f.rcpt).orcpt;
    }
    if !delayed.is_empty() {
        entry.delay_warned = true;
    }
    for report in [&failures, &relayed, &delayed] {
        if !report.is_empty() {
            send_bounce(shared, &entry, report, &msg);
        }
    }
    if remaining.is_empty() {
        if let Err(e) = queue.remove(&entry.id) {
            crate::driver::log(format!("queue id={}: cannot remove: {e}", entry.id));
        }
    } else {
        entry.recipients = remaining;
        entry.attempts += 1;
        entry.next_attempt = now_ms() + cfg.retry_after(entry.attempts).as_millis() as u64;
        if let Err(e) = queue.update(entry) {
            crate::driver::log(format!("queue: cannot save an entry: {e}"));
        }
    }
}

fn deliver_domain(
    shared: &Shared,
    resolver: &Resolver,
    entry: &Entry,
    domain: &str,
    rcpts: &[String],
    msg: &[u8],
) -> Vec<(String, RcptResult)> {
    let all = |r: RcptResult| {
        rcpts
            .iter()
            .map(|x| (x.clone(), r.clone()))
            .collect::<Vec<_>>()
    };
    let targets = match resolver.resolve(domain) {
        Ok(t) => t,
        Err(ResolveError::Temporary(why)) => return all(RcptResult::Temporary(why)),
        Err(ResolveError::Permanent(why)) => {
            return rcpts
                .iter()
                .map(|r| {
                    (
                        r.clone(),
                        RcptResult::Permanent(Failure {
                            rcpt: r.clone(),
                            status: "5.1.2".into(),
                            diagnostic: Some(why.clone()),
                            remote_mta: None,
                            ..Default::default()
                        }),
                    )
                })
                .collect();
        }
    };
    let cfg = &shared.store.cfg;
    let mut tls_mode = cfg.tls_policy.for_domain(domain);
    let mut targets = targets;
    // RFC 8689 §4.2.2: `TLS-Required: No` (without REQUIRETLS) asks that
    // the recipient domain's TLS policy be ignored: no MTA-STS.
    let tls_optional = !entry.requiretls && tls_required_no(msg);
    // RFC 8461: the domain's MTA-STS policy, unless a route, a domain
    // literal or an explicit --tls-policy for the domain says otherwise.
    let sts = (!cfg.tls_policy.no_mta_sts
        && !tls_optional
        && !cfg.tls_policy.has_override(domain)
        && !resolver.bypasses_mx(domain))
    .then(|| {
        crate::mta_sts::policy_for(
            resolver,
            domain,
            cfg.tls_policy.mta_sts_port.unwrap_or(443),
            &|| cfg.tls_policy.client_config(OutboundMode::Require),
            &cfg.data.join("mta-sts"),
            &shared.mta_sts_failures,
            unix_now(),
        )
    })
    .flatten();
    let enforced = sts
        .as_ref()
        .is_some_and(|p| p.mode == crate::mta_sts::Mode::Enforce);
    if let Some(p) = sts.filter(|p| p.mode != crate::mta_sts::Mode::None) {
        let (ok, bad): (Vec<_>, Vec<_>) = targets.into_iter().partition(|t| p.matches(&t.host));
        let bad_names = bad.iter().map(|t| t.host.as_str()).collect::<Vec<_>>();
        if p.mode == crate::mta_sts::Mode::Enforce {
            // §5: only matching MX hosts, over STARTTLS with a certificate
            // valid for the MX name; else a temporary failure.
            if !bad.is_empty() {
                crate::driver::log(format!(
                    "mta-sts {domain}: enforce: MX {} not in the policy, skipped",
                    bad_names.join(", ")
                ));
            }
            if ok.is_empty() {
                return all(RcptResult::Temporary(format!(
                    "MTA-STS: no MX host of {domain} matches its enforce policy"
                )));
            }
            tls_mode = OutboundMode::Require;
            targets = ok;
        } else {
            // `testing`: deliver as usual, report the failures (here and
            // in `OutboundMode::Testing`'s STARTTLS and certificate checks).
            if tls_mode == OutboundMode::Opportunistic {
                tls_mode = OutboundMode::Testing;
            }
            if !bad.is_empty() {
                crate::driver::log(format!(
                    "mta-sts {domain}: testing: MX {} not in the policy; delivering anyway",
                    bad_names.join(", ")
                ));
            }
            targets = ok.into_iter().chain(bad).collect();
        }
    }
    if entry.requiretls {
        // RFC 8689 §4.2.1: only to MX hosts validated by the domain's
        // MTA-STS policy in enforce mode (DNSSEC is not checked here) or
        // named by a route of ours, over TLS with a certificate valid for
        // the host, which must offer REQUIRETLS (`smtp_deliver`).
        let routed = resolver.bypasses_mx(domain) && !domain.starts_with('[');
        if !routed && !enforced {
            return rcpts
                .iter()
                .map(|r| {
                    let why = format!(
                        "REQUIRETLS: the MX hosts of {domain} cannot be validated (no MTA-STS \
                         policy in enforce mode)"
                    );
                    (r.clone(), perm(r, "5.7.30", why, None))
                })
                .collect();
        }
        tls_mode = OutboundMode::Require;
    }
    let mut last = String::from("no host to try");
    for t in &targets {
        for addr in &t.addrs {
            match smtp_deliver(shared, *addr, &t.host, tls_mode, entry, rcpts, msg) {
                Attempt::Done(r) => return r,
                Attempt::Partial(r, rest) => {
                    return sessions_for_rest(r, rest, |rest| {
                        smtp_deliver(shared, *addr, &t.host, tls_mode, entry, rest, msg)
                    });
                }
                Attempt::HostFailed(why) => last = format!("{} ({addr}): {why}", t.host),
            }
        }
    }
    all(RcptResult::Temporary(last))
}

/// The results of a host's first session, `results`, joined by those of
/// further sessions to it (`session`) for the recipients its MAILMAX (RFC
/// 9422) left, `rest`, as long as each session sends some of them; what a
/// session cannot take waits for the next attempt.
fn sessions_for_rest(
    mut results: Vec<(String, RcptResult)>,
    mut rest: Vec<String>,
    mut session: impl FnMut(&[String]) -> Attempt,
) -> Vec<(String, RcptResult)> {
    let wait = |r: &[String], why: &str| {
        r.iter()
            .map(|r| (r.clone(), RcptResult::Temporary(why.to_string())))
            .collect::<Vec<_>>()
    };
    while !rest.is_empty() {
        match session(&rest) {
            Attempt::Done(r) => {
                results.extend(r);
                return results;
            }
            Attempt::Partial(r, left) if left.len() < rest.len() => {
                results.extend(r);
                rest = left;
            }
            Attempt::Partial(r, left) => {
                results.extend(r);
                results.extend(wait(
                    &left,
                    "not attempted: the host took none in a new session",
                ));
                return results;
            }
            Attempt::HostFailed(why) => {
                results.extend(wait(&rest, &why));
                return results;
            }
        }
    }
    results
}

fn send_bounce(shared: &Shared, entry: &Entry, failures: &[Failure], msg: &[u8]) {
    let request = entry.dsn.with_requiretls(entry.requiretls);
    bounce_to_sender(
        shared,
        &entry.id,
        &entry.sender,
        entry.created / 1000,
        failures,
        &request,
        msg,
    );
}

/// Whether the message's header has `TLS-Required: No` (RFC 8689 §5.1).
fn tls_required_no(msg: &[u8]) -> bool {
    let header = mailwire::message::HeaderSection::parse(msg);
    header.fields().iter().any(|f| {
        f.name_bytes().eq_ignore_ascii_case(b"TLS-Required")
            && f.raw_value().trim_ascii().eq_ignore_ascii_case(b"No")
    })
}

/// Sends the RFC 3464 report of `failures` of message `qid` (which
/// arrived at `arrival_unix`) to `sender`: into a local mailbox or the
/// queue; never to the null sender.
pub(crate) fn bounce_to_sender(
    shared: &Shared,
    qid: &str,
    sender: &str,
    arrival_unix: u64,
    failures: &[Failure],
    request: &bounce::Request,
    msg: &[u8],
) {
    if sender.is_empty() {
        crate::driver::log(format!(
            "queue id={qid}: a bounce could not be delivered; dropped (never bounce a bounce)"
        ));
        return;
    }
    let store = &shared.store;
    // Forwarded mail left with an SRS sender of ours: the report goes to
    // the original sender it stands for.
    let original = split_addr(sender)
        .filter(|(_, d)| store.cfg.is_local_domain(d))
        .and_then(|(l, _)| shared.srs.reverse(l, unix_now() / 86400));
    let sender = original.as_deref().unwrap_or(sender);
    let dest = match store.classify(sender) {
        Some(d) => d,
        None => {
            crate::driver::log(format!(
                "queue id={qid}: no mailbox for the sender <{sender}>; bounce dropped"
            ));
            return;
        }
    };
    let id = crate::maildir::queue_id();
    let dsn = bounce::build(
        &store.cfg.hostname,
        qid,
        sender,
        arrival_unix,
        failures,
        request,
        msg,
        unix_now(),
        u64::from_str_radix(&crate::smtp_session::random_hex(8), 16).unwrap_or(0),
    );
    let received = format!(
        "Received: by {} (mailwire) id {id};\r\n\t{}\r\n",
        store.cfg.hostname,
        crate::store::rfc5322_date(unix_now())
    );
    let mut data = received.into_bytes();
    data.extend_from_slice(&dsn);
    // RFC 8689 §5: the report of a REQUIRETLS message goes with it too.
    match store.inject_requiring_tls(
        id.clone(),
        "",
        vec![(sender.to_string(), dest.clone())],
        &data,
        request.requiretls,
    ) {
        Ok(_) => crate::driver::log(format!(
            "queue id={qid}: bounce id={id} to <{sender}> ({})",
            if dest == Dest::Remote {
                "queued"
            } else {
                "delivered"
            }
        )),
        Err(e) => crate::driver::log(format!("queue id={qid}: cannot store the bounce: {e}")),
    }
}

crate::driver::impl_machine!(Client, Event);

/// The events of one outgoing session.
struct Outgoing {
    tls: Arc<rustls::ClientConfig>,
    server_name: ServerName<'static>,
    /// The message again, for a 7-bit retry.
    message: Bytes,
    envelope: Envelope,
    downgraded: bool,
    /// The DSN parameters are on the envelope (cleared when the server
    /// does not offer DSN and the message goes without them).
    dsn: bool,
    result: Option<Result<Outcome, MailError>>,
    closed: Option<String>,
    greeting: Option<String>,
    /// STARTTLS happened.
    tls_started: bool,
}

impl Handler<Client> for Outgoing {
    fn event(&mut self, m: &mut Client, ev: Event, conn: &mut Conn) -> io::Result<()> {
        match ev {
            Event::Greeting(r) => self.greeting = Some(one_line(&r)),
            Event::StartTls => {
                let tls = rustls::ClientConnection::new(self.tls.clone(), self.server_name.clone())
                    .map_err(io::Error::other)?;
                conn.start_tls(tls)?;
                self.tls_started = true;
                m.handle_tls_established(Instant::now());
            }
            Event::MailSent {
                result: Err(MailError::EightBitUnsupported),
                ..
            } if !self.downgraded => {
                // RFC 6152 §3: the server has no 8BITMIME; convert to 7 bit.
                self.downgraded = true;
                let down = mailwire::mime::downgrade::downgrade_7bit(&self.message);
                // Kept: a later retry (without DSN or MT-PRIORITY) sends
                // the 7-bit form too.
                self.message = Bytes::from(down.bytes.into_owned());
                if m.send_mail(self.envelope.clone(), self.message.clone())
                    .is_err()
                {
                    self.result = Some(Err(MailError::EightBitUnsupported));
                    m.quit();
                }
            }
            Event::MailSent {
                result: Err(MailError::DsnUnsupported),
                ..
            } if self.dsn => {
                // RFC 3461 §5.2.2: relay without the parameters.
                self.dsn = false;
                without_dsn(&mut self.envelope);
                if m.send_mail(self.envelope.clone(), self.message.clone())
                    .is_err()
                {
                    self.result = Some(Err(MailError::DsnUnsupported));
                    m.quit();
                }
            }
            Event::MailSent {
                result: Err(MailError::MtPriorityUnsupported),
                ..
            } if self.envelope.params.mt_priority.is_some() => {
                // RFC 6710 §5: the next hop has no MT-PRIORITY; the
                // priority goes on in an `MT-Priority:` header field
                // (§9) instead of the MAIL parameter.
                let prio = self.envelope.params.mt_priority.take();
                if let Some(p) = prio.filter(|p| *p != Priority::NORMAL) {
                    self.message = with_priority_field(p, &self.message);
                }
                if m.send_mail(self.envelope.clone(), self.message.clone())
                    .is_err()
                {
                    self.result = Some(Err(MailError::MtPriorityUnsupported));
                    m.quit();
                }
            }
            Event::MailSent { result, .. } => {
                // RFC 9422: the recipients this transaction left past the
                // server's RCPTMAX go in another transaction of this
                // session (past its MAILMAX, in a new session:
                // `sessions_for_rest`).
                let rest = result.as_ref().ok().and_then(|o| o.rest(&self.envelope));
                let result = match (self.result.take(), result) {
                    // A later transaction of the message: its recipients'
                    // results join the first one's.
                    (Some(Ok(mut first)), later) => {
                        if let Ok(later) = later {
                            first.absorb(later);
                        }
                        Ok(first)
                    }
                    (_, result) => result,
                };
                if let Some(rest) = rest {
                    self.envelope = rest;
                    self.result = Some(result);
                    if m.send_mail(self.envelope.clone(), self.message.clone())
                        .is_err()
                    {
                        m.quit();
                    }
                    return Ok(());
                }
                self.result = Some(result);
                m.quit();
            }
            Event::Closed { reason } => self.closed = Some(reason.to_string()),
            _ => {}
        }
        Ok(())
    }
}

/// `message` with an `MT-Priority:` header field (RFC 6710 §9) in front,
/// any such field it had taken out: the field says what the last MTA that
/// knew the priority decided, and only that one.
fn with_priority_field(p: Priority, message: &[u8]) -> Bytes {
    let mut out = format!("MT-Priority: {p}\r\n").into_bytes();
    out.reserve(message.len());
    let mut rest = message;
    let mut in_field = false;
    // The header section, line by line, up to the empty line.
    while !rest.is_empty() && !rest.starts_with(b"\r\n") && !rest.starts_with(b"\n") {
        let line_len = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let line = &rest[..line_len];
        if !matches!(line.first(), Some(b' ' | b'\t')) {
            in_field = line.len() >= 12 && line[..12].eq_ignore_ascii_case(b"MT-Priority:");
        }
        if !in_field {
            out.extend_from_slice(line);
        }
        rest = &rest[line_len..];
    }
    out.extend_from_slice(rest);
    Bytes::from(out)
}

/// The envelope without its DSN parameters.
fn without_dsn(env: &mut Envelope) {
    env.params.ret = None;
    env.params.envid = None;
    for (_, p) in &mut env.recipients {
        p.notify = None;
        p.orcpt = None;
    }
}

/// The RCPT parameters of a queued recipient's DSN request (an ORCPT that
/// does not parse, which the session would have refused, is left out).
fn rcpt_params(req: &bounce::RcptRequest) -> RcptParams<'static> {
    let orcpt = req.orcpt.as_ref().and_then(|o| {
        let (t, a) = o.split_once(';')?;
        Some(Orcpt {
            addr_type: Keyword::try_from(t.to_string()).ok()?,
            addr: XText::try_from(a.to_string()).ok()?,
        })
    });
    RcptParams {
        notify: req.notify,
        orcpt,
        ..Default::default()
    }
}

fn one_line(r: &Reply<'_>) -> String {
    r.lines()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_string()
}

/// The reply as the server sent it (code, enhanced code, text), on one line.
fn reply_text(r: &Reply<'_>) -> String {
    let raw = String::from_utf8_lossy(r.as_bytes());
    let joined: Vec<&str> = raw.lines().map(str::trim_end).collect();
    joined
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_string()
}

fn status_of_reply(r: &Reply<'_>) -> String {
    match r.enhanced() {
        Some(e) => e.to_string(),
        None => bounce::status_of(r.code().get(), &one_line(r)),
    }
}

fn perm(rcpt: &str, status: &str, diag: String, host: Option<&str>) -> RcptResult {
    RcptResult::Permanent(Failure {
        rcpt: rcpt.to_string(),
        status: status.to_string(),
        diagnostic: Some(diag),
        remote_mta: host.map(str::to_string),
        ..Default::default()
    })
}

/// Delivers `msg` to `rcpts` (of `domain`) through the server at `addr`
/// (`host` is its name, for TLS and the bounce) with TLS as `tls_mode`
/// says.
fn smtp_deliver(
    shared: &Shared,
    addr: SocketAddr,
    host: &str,
    tls_mode: OutboundMode,
    entry: &Entry,
    rcpts: &[String],
    msg: &[u8],
) -> Attempt {
    let cfg = &shared.store.cfg;
    let mut results: Vec<(String, RcptResult)> = Vec::new();
    let mut mailboxes = Vec::new();
    for r in rcpts {
        match Mailbox::try_from(r.clone()) {
            Ok(mb) => mailboxes.push((r.clone(), mb)),
            Err(_) => results.push((
                r.clone(),
                perm(r, "5.1.3", "bad recipient address syntax".into(), None),
            )),
        }
    }
    if mailboxes.is_empty() {
        return Attempt::Done(results);
    }
    let from = if entry.sender.is_empty() {
        ReversePath::Null
    } else {
        match Mailbox::try_from(entry.sender.clone()) {
            Ok(mb) => ReversePath::Mailbox(mb),
            Err(_) => ReversePath::Null,
        }
    };
    let mut envelope = Envelope {
        from,
        params: Default::default(),
        recipients: mailboxes
            .iter()
            .map(|(r, mb)| {
                (
                    ForwardPath::Mailbox(mb.clone()),
                    rcpt_params(&entry.rcpt_request(r)),
                )
            })
            .collect(),
    };
    // RFC 3461 §5.2.1: the DSN parameters go on with the message.
    envelope.params.envid = entry
        .dsn
        .envid
        .as_ref()
        .map(|e| XText::encode(e.as_bytes()));
    envelope.params.ret = entry.dsn.ret;
    // RFC 6710: the priority goes on (see `Outgoing` for a next hop
    // without MT-PRIORITY).
    envelope.params.mt_priority = entry.priority;
    envelope.params.requiretls = entry.requiretls;
    let dsn = envelope.params.envid.is_some()
        || envelope.params.ret.is_some()
        || envelope
            .recipients
            .iter()
            .any(|(_, p)| p.notify.is_some() || p.orcpt.is_some());
    let sock = match TcpStream::connect_timeout(&addr, Duration::from_secs(30)) {
        Ok(s) => s,
        Err(e) => return Attempt::HostFailed(format!("connect: {e}")),
    };
    let mut conn = match Conn::new(sock, Duration::from_secs(300)) {
        Ok(c) => c,
        Err(e) => return Attempt::HostFailed(e.to_string()),
    };
    let tls = match cfg.tls_policy.client_config(tls_mode) {
        Ok(t) => t,
        Err(e) => return Attempt::HostFailed(format!("TLS setup: {e}")),
    };
    let server_name = ServerName::try_from(host.to_string())
        .unwrap_or_else(|_| ServerName::IpAddress(addr.ip().into()));
    let mut opts = Options::default();
    if let Ok(h) = Host::try_from(cfg.hostname.clone()) {
        opts.helo_domain = h;
    }
    opts.starttls = match tls_mode {
        OutboundMode::Opportunistic | OutboundMode::Testing => TlsMode::Opportunistic,
        OutboundMode::Require => TlsMode::Required,
    };
    let mut m = Client::new(opts, Instant::now());
    let message = Bytes::copy_from_slice(msg);
    if m.send_mail(envelope.clone(), message.clone()).is_err() {
        return Attempt::HostFailed("the client refused the message".into());
    }
    let mut h = Outgoing {
        tls,
        server_name,
        message,
        envelope,
        downgraded: false,
        dsn,
        result: None,
        closed: None,
        greeting: None,
        tls_started: false,
    };
    let io_res = crate::driver::drive(&mut m, &mut conn, &mut h);
    conn.close();
    if tls_mode == OutboundMode::Testing && !h.tls_started {
        crate::driver::log(format!(
            "mta-sts testing: {host} ({addr}) offered no STARTTLS; delivering anyway"
        ));
    }
    let outcome = match h.result {
        Some(Ok(o)) => o,
        Some(Err(MailError::TooLarge { size, limit })) => {
            for (r, _) in &mailboxes {
                results.push((
                    r.clone(),
                    perm(
                        r,
                        "5.3.4",
                        format!("message of {size} octets exceeds the limit of {limit}"),
                        Some(host),
                    ),
                ));
            }
            return Attempt::Done(results);
        }
        Some(Err(MailError::RequireTlsUnsupported)) => {
            // RFC 8689 §4.2.1: a host that does not offer REQUIRETLS under
            // TLS does not get the message.
            for (r, _) in &mailboxes {
                let why = "REQUIRETLS: the server does not offer REQUIRETLS".into();
                results.push((r.clone(), perm(r, "5.7.30", why, Some(host))));
            }
            return Attempt::Done(results);
        }
        Some(Err(MailError::SmtpUtf8Unsupported)) => {
            for (r, _) in &mailboxes {
                results.push((
                    r.clone(),
                    perm(
                        r,
                        "5.6.7",
                        "the server does not offer SMTPUTF8".into(),
                        Some(host),
                    ),
                ));
            }
            return Attempt::Done(results);
        }
        Some(Err(e)) => return Attempt::HostFailed(e.to_string()),
        None => {
            let why = match (io_res, h.closed, h.greeting) {
                (Err(e), _, _) => e.to_string(),
                (Ok(()), Some(c), _) => c,
                (Ok(()), None, Some(g)) => format!("session ended after greeting {g}"),
                (Ok(()), None, None) => "connection closed".into(),
            };
            return Attempt::HostFailed(why);
        }
    };
    // A refused MAIL applies to every recipient.
    if let Some(mail) = outcome.mail.as_ref().filter(|r| !r.code().is_positive()) {
        let transient = mail.code().get() < 500;
        for (r, _) in &mailboxes {
            let res = if transient {
                RcptResult::Temporary(format!("{host} said: {}", reply_text(mail)))
            } else {
                perm(r, &status_of_reply(mail), reply_text(mail), Some(host))
            };
            results.push((r.clone(), res));
        }
        return Attempt::Done(results);
    }
    let mut unsent = Vec::new();
    for (i, (r, _)) in mailboxes.iter().enumerate() {
        let rr = outcome.recipients.get(i);
        let res = match rr {
            Some(x) if x.delivered => RcptResult::Delivered { dsn: h.dsn },
            // Never sent (past the server's LIMITS, RFC 9422): a new
            // session sends it.
            Some(x) if x.reply.is_none() => {
                unsent.push(r.clone());
                continue;
            }
            Some(x) => {
                // Which reply decided: RCPT's when it failed, else the data's.
                let decisive = match &x.reply {
                    Some(rep) if !rep.code().is_positive() => Some(rep),
                    _ => outcome.data.as_ref(),
                };
                match decisive {
                    Some(rep) if rep.code().get() >= 500 => {
                        perm(r, &status_of_reply(rep), reply_text(rep), Some(host))
                    }
                    Some(rep) => RcptResult::Temporary(format!("{host} said: {}", reply_text(rep))),
                    None => RcptResult::Temporary(format!("{host}: no reply")),
                }
            }
            None => RcptResult::Temporary(format!("{host}: no result")),
        };
        results.push((r.clone(), res));
    }
    if unsent.is_empty() {
        Attempt::Done(results)
    } else {
        Attempt::Partial(results, unsent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(r: &[(String, RcptResult)]) -> Vec<(&str, bool)> {
        r.iter()
            .map(|(n, res)| (n.as_str(), matches!(res, RcptResult::Delivered { .. })))
            .collect()
    }

    fn sent(r: &[String]) -> Vec<(String, RcptResult)> {
        r.iter()
            .map(|r| (r.clone(), RcptResult::Delivered { dsn: false }))
            .collect()
    }

    /// RFC 9422: the recipients a host's MAILMAX left go in new sessions
    /// while each sends some; one that sends none, or fails, leaves the
    /// rest to the next attempt.
    #[test]
    fn rfc9422_rest_in_new_sessions() {
        let first = sent(&["a".into()]);
        let rest: Vec<String> = ["b", "c", "d"].map(String::from).to_vec();
        // Two at a time: two more sessions.
        let mut calls = Vec::new();
        let r = sessions_for_rest(first.clone(), rest.clone(), |rest| {
            calls.push(rest.len());
            let n = rest.len().min(2);
            if n == rest.len() {
                Attempt::Done(sent(rest))
            } else {
                Attempt::Partial(sent(&rest[..n]), rest[n..].to_vec())
            }
        });
        assert_eq!(calls, [3, 1]);
        assert_eq!(
            names(&r),
            [("a", true), ("b", true), ("c", true), ("d", true)]
        );
        // A session that sends none: no more sessions.
        let mut calls = 0;
        let r = sessions_for_rest(first.clone(), rest.clone(), |rest| {
            calls += 1;
            Attempt::Partial(Vec::new(), rest.to_vec())
        });
        assert_eq!(calls, 1);
        assert_eq!(
            names(&r),
            [("a", true), ("b", false), ("c", false), ("d", false)]
        );
        // A host that fails in the second session.
        let r = sessions_for_rest(first, rest, |_| Attempt::HostFailed("421".into()));
        assert!(matches!(&r[1].1, RcptResult::Temporary(w) if w == "421"));
        assert_eq!(r.len(), 4);
    }

    /// RFC 8689 §5.1: `TLS-Required: No` in any case and spacing, in the
    /// header only.
    #[test]
    fn rfc8689_5_1_tls_required_no() {
        assert!(tls_required_no(
            b"Subject: x\r\nTLS-Required: No\r\n\r\nbody\r\n"
        ));
        assert!(tls_required_no(b"tls-required:  no \r\n\r\n"));
        assert!(!tls_required_no(b"TLS-Required: Yes\r\n\r\n"));
        assert!(!tls_required_no(b"Subject: x\r\n\r\nTLS-Required: No\r\n"));
        assert!(!tls_required_no(b"X-TLS-Required: No\r\n\r\n"));
    }

    /// RFC 6710 §5 and §9: the field goes in front; one already there
    /// (folded or not) is replaced, the body is untouched.
    #[test]
    fn rfc6710_9_priority_field_replaces_any_other() {
        let p = Priority::new(-4).unwrap();
        let m = b"Subject: x\r\nmt-priority: 9\r\n  (folded)\r\nTo: a@b\r\n\r\nMT-Priority: 2\r\n";
        assert_eq!(
            &with_priority_field(p, m)[..],
            &b"MT-Priority: -4\r\nSubject: x\r\nTo: a@b\r\n\r\nMT-Priority: 2\r\n"[..]
        );
        assert_eq!(
            &with_priority_field(Priority::new(4).unwrap(), b"\r\nbody")[..],
            &b"MT-Priority: 4\r\n\r\nbody"[..]
        );
    }
}
