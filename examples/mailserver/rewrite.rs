//! Recipient rewriting at RCPT time: aliases (`--alias`, the config file's
//! `[aliases]`) and plus-addressing (`user+tag@domain` is `user`).
//!
//! - An alias stands for one or more addresses, local or remote, which may
//!   be aliases themselves (up to [`MAX_DEPTH`] levels; a loop ends the
//!   expansion of that branch). The expansion is done once, when the
//!   recipient is accepted; the envelope sender is kept (no SRS: a remote
//!   target's SPF check of the sender may fail).
//! - `user+tag@domain` of a local domain, when no account or alias has that
//!   exact name, is `user@domain` (the tag is not used for a folder yet).
//!
//! Accepting a remote recipient without AUTH is the session's decision
//! (relay): it is made on the address as given, not on what an alias of
//! ours expands to.

use std::collections::HashSet;

use crate::config::Config;
use crate::store::{Dest, split_addr};

/// How deep aliases may nest.
pub(crate) const MAX_DEPTH: usize = 8;
/// Most addresses one recipient may expand to.
pub(crate) const MAX_TARGETS: usize = 1000;

/// What a recipient address becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expansion {
    /// Not ours: relay to it (after AUTH).
    Remote,
    /// Ours: these deliveries (at least one).
    Local(Vec<(String, Dest)>),
    /// A local domain without such an account or alias.
    Unknown,
}

/// The account for a local part of a local domain, with plus-addressing.
fn account(cfg: &Config, local: &str) -> Option<String> {
    if let Some(u) = cfg.user(local) {
        return Some(u.name.clone());
    }
    let (base, _tag) = local.split_once('+')?;
    cfg.user(base).map(|u| u.name.clone())
}

/// The alias targets of `addr` (lower case), with plus-addressing
/// (`info+x@` is `info@` when only the latter is an alias).
fn alias<'c>(cfg: &'c Config, addr: &str) -> Option<&'c Vec<String>> {
    if let Some(t) = cfg.aliases.get(addr) {
        return Some(t);
    }
    let (local, domain) = split_addr(addr)?;
    let (base, _tag) = local.split_once('+')?;
    cfg.aliases.get(&format!("{base}@{domain}"))
}

/// Expands one recipient address.
pub(crate) fn expand(cfg: &Config, addr: &str) -> Expansion {
    let Some((_, domain)) = split_addr(addr) else {
        return Expansion::Unknown;
    };
    let local_domain = cfg.is_local_domain(domain);
    let lower = addr.to_ascii_lowercase();
    if !local_domain && alias(cfg, &lower).is_none() {
        return Expansion::Remote;
    }
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    walk(cfg, addr, 0, &mut seen, &mut out);
    if out.is_empty() {
        Expansion::Unknown
    } else {
        Expansion::Local(out)
    }
}

fn walk(
    cfg: &Config,
    addr: &str,
    depth: usize,
    seen: &mut HashSet<String>,
    out: &mut Vec<(String, Dest)>,
) {
    let lower = addr.to_ascii_lowercase();
    if depth > MAX_DEPTH || out.len() >= MAX_TARGETS || !seen.insert(lower.clone()) {
        return;
    }
    if let Some(targets) = alias(cfg, &lower) {
        for t in targets {
            walk(cfg, t, depth + 1, seen, out);
        }
        return;
    }
    let Some((local, domain)) = split_addr(addr) else {
        return;
    };
    let dest = if cfg.is_local_domain(domain) {
        match account(cfg, local) {
            Some(user) => Dest::Local(user),
            None => return,
        }
    } else {
        Dest::Remote
    };
    let dup = out.iter().any(|(a, d)| match (d, &dest) {
        (Dest::Local(x), Dest::Local(y)) => x == y,
        (Dest::Remote, Dest::Remote) => a.eq_ignore_ascii_case(addr),
        _ => false,
    });
    if !dup {
        out.push((addr.to_string(), dest));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Command;

    fn cfg(args: &[&str]) -> Config {
        let mut all = vec!["--domain", "a.test", "--user", "alice:1", "--user", "bob:2"];
        all.extend_from_slice(args);
        match Config::parse(all).unwrap() {
            Command::Run(c) => *c,
            other => panic!("{other:?}"),
        }
    }

    fn local(addrs: &[(&str, &str)]) -> Expansion {
        Expansion::Local(
            addrs
                .iter()
                .map(|(a, u)| {
                    let d = if u.is_empty() {
                        Dest::Remote
                    } else {
                        Dest::Local(u.to_string())
                    };
                    (a.to_string(), d)
                })
                .collect(),
        )
    }

    #[test]
    fn accounts_plus_addressing_and_remote() {
        let c = cfg(&[]);
        assert_eq!(
            expand(&c, "Alice@A.test"),
            local(&[("Alice@A.test", "alice")])
        );
        assert_eq!(
            expand(&c, "alice+news@a.test"),
            local(&[("alice+news@a.test", "alice")])
        );
        assert_eq!(expand(&c, "carol@a.test"), Expansion::Unknown);
        assert_eq!(expand(&c, "carol+x@a.test"), Expansion::Unknown);
        assert_eq!(expand(&c, "x@b.test"), Expansion::Remote);
        assert_eq!(expand(&c, "nodomain"), Expansion::Unknown);
    }

    #[test]
    fn aliases_nested_deduplicated_and_looping() {
        let c = cfg(&[
            "--alias",
            "team@a.test=alice@a.test,staff@a.test,x@b.test",
            "--alias",
            "staff@a.test=bob@a.test,ALICE@a.test,x@B.test",
            "--alias",
            "loop1@a.test=loop2@a.test",
            "--alias",
            "loop2@a.test=loop1@a.test,bob+l@a.test",
            "--alias",
            "gone@a.test=nobody@a.test",
        ]);
        assert_eq!(
            expand(&c, "Team@a.test"),
            local(&[
                ("alice@a.test", "alice"),
                ("bob@a.test", "bob"),
                // Depth first: staff's spelling comes before team's own.
                ("x@B.test", "")
            ])
        );
        assert_eq!(expand(&c, "team+x@a.test"), expand(&c, "team@a.test"));
        assert_eq!(
            expand(&c, "loop1@a.test"),
            local(&[("bob+l@a.test", "bob")])
        );
        assert_eq!(expand(&c, "gone@a.test"), Expansion::Unknown);
    }

    #[test]
    fn alias_of_a_foreign_address_and_depth_limit() {
        // An alias may be given for an address of another domain (ours to
        // rewrite once it reaches us).
        let c = cfg(&["--alias", "old@b.test=alice@a.test"]);
        assert_eq!(
            expand(&c, "old@b.test"),
            local(&[("alice@a.test", "alice")])
        );
        let mut args = Vec::new();
        for i in 0..12 {
            args.push("--alias".to_string());
            args.push(format!("d{i}@a.test=d{}@a.test", i + 1));
        }
        args.push("--alias".to_string());
        args.push("d12@a.test=alice@a.test".to_string());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let c = cfg(&refs);
        assert_eq!(expand(&c, "d0@a.test"), Expansion::Unknown, "too deep");
        assert_eq!(expand(&c, "d5@a.test"), local(&[("alice@a.test", "alice")]));
    }
}
