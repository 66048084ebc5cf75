//! The queue runner: delivers queued messages to other servers with the
//! mailwire SMTP client machine, retries temporary failures on the
//! `--retry` schedule until `--expire`, and bounces permanent failures to the
//! sender as RFC 3464 reports.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::bounce::{self, Failure};
use crate::queue::{Entry, now_ms};
use crate::resolve::{ResolveError, Resolver};
use crate::smtp_session::Shared;
use crate::store::{Dest, split_addr, unix_now};

/// The outcome for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RcptResult {
    Delivered,
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
}

/// Runs until the queue shuts down.
pub(crate) fn run_queue(shared: &Shared) {
    let cfg = &shared.store.cfg;
    let resolver = Resolver::new(cfg.routes.clone(), cfg.mx_port);
    let queue = &shared.store.queue;
    while let Some(due) = queue.take_due(Duration::from_secs(1)) {
        for entry in due {
            process(shared, &resolver, entry);
        }
    }
}

fn process(shared: &Shared, resolver: &Resolver, mut entry: Entry) {
    let cfg = &shared.store.cfg;
    let queue = &shared.store.queue;
    let msg = match queue.read_message(&entry) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("queue id={}: cannot read the message: {e}; retrying later", entry.id);
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
            Some((_, d)) => by_domain.entry(d.to_ascii_lowercase()).or_default().push(r.clone()),
            None => results.push((
                r.clone(),
                RcptResult::Permanent(Failure {
                    rcpt: r.clone(),
                    status: "5.1.3".into(),
                    diagnostic: Some("bad recipient address syntax".into()),
                    remote_mta: None,
                }),
            )),
        }
    }
    for (domain, rcpts) in by_domain {
        results.extend(deliver_domain(shared, resolver, &entry, &domain, &rcpts, &msg));
    }

    let expired = now_ms().saturating_sub(entry.created) >= cfg.expire.as_millis() as u64;
    let mut remaining = Vec::new();
    let mut failures = Vec::new();
    let mut delivered = 0;
    entry.last_error.clear();
    for (rcpt, res) in results {
        match res {
            RcptResult::Delivered => delivered += 1,
            RcptResult::Temporary(why) if expired => failures.push(Failure {
                rcpt: rcpt.clone(),
                status: "4.4.7".into(),
                diagnostic: Some(format!("delivery time expired; last error: {why}")),
                remote_mta: None,
            }),
            RcptResult::Temporary(why) => {
                entry.last_error.insert(rcpt.clone(), why);
                remaining.push(rcpt);
            }
            RcptResult::Permanent(f) => failures.push(f),
        }
    }
    eprintln!(
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
    );
    if !failures.is_empty() {
        send_bounce(shared, &entry, &failures, &msg);
    }
    if remaining.is_empty() {
        if let Err(e) = queue.remove(&entry.id) {
            eprintln!("queue id={}: cannot remove: {e}", entry.id);
        }
    } else {
        entry.recipients = remaining;
        entry.attempts += 1;
        entry.next_attempt = now_ms() + cfg.retry_after(entry.attempts).as_millis() as u64;
        if let Err(e) = queue.update(entry) {
            eprintln!("queue: cannot save an entry: {e}");
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
    let all = |r: RcptResult| rcpts.iter().map(|x| (x.clone(), r.clone())).collect::<Vec<_>>();
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
                        }),
                    )
                })
                .collect();
        }
    };
    let mut last = String::from("no host to try");
    for t in &targets {
        for addr in &t.addrs {
            match crate::delivery::smtp_deliver(shared, *addr, &t.host, entry, rcpts, msg) {
                Attempt::Done(r) => return r,
                Attempt::HostFailed(why) => last = format!("{} ({addr}): {why}", t.host),
            }
        }
    }
    all(RcptResult::Temporary(last))
}

fn send_bounce(shared: &Shared, entry: &Entry, failures: &[Failure], msg: &[u8]) {
    if entry.sender.is_empty() {
        eprintln!("queue id={}: a bounce could not be delivered; dropped (never bounce a bounce)", entry.id);
        return;
    }
    let store = &shared.store;
    let dest = match store.classify(&entry.sender) {
        Some(d) => d,
        None => {
            eprintln!("queue id={}: no mailbox for the sender <{}>; bounce dropped", entry.id, entry.sender);
            return;
        }
    };
    let id = crate::maildir::queue_id();
    let dsn = bounce::build(
        &store.cfg.hostname,
        &entry.id,
        &entry.sender,
        entry.created / 1000,
        failures,
        msg,
        unix_now(),
    );
    let received = format!(
        "Received: by {} (mailwire) id {id};\r\n\t{}\r\n",
        store.cfg.hostname,
        crate::store::rfc5322_date(unix_now())
    );
    let mut data = received.into_bytes();
    data.extend_from_slice(&dsn);
    match store.inject(id.clone(), "", vec![(entry.sender.clone(), dest.clone())], &data) {
        Ok(_) => eprintln!(
            "queue id={}: bounce id={id} to <{}> ({})",
            entry.id,
            entry.sender,
            if dest == Dest::Remote { "queued" } else { "delivered" }
        ),
        Err(e) => eprintln!("queue id={}: cannot store the bounce: {e}", entry.id),
    }
}

/// Delivers `msg` to `rcpts` through the server at `addr`.
pub(crate) fn smtp_deliver(
    _shared: &Shared,
    _addr: SocketAddr,
    _host: &str,
    _entry: &Entry,
    _rcpts: &[String],
    _msg: &[u8],
) -> Attempt {
    Attempt::HostFailed("SMTP client not available yet".into())
}
