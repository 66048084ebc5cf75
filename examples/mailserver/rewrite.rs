//! Recipient rewriting at RCPT time: aliases (`--alias`, the config file's
//! `[aliases]`), per-account forward files, plus-addressing
//! (`user+tag@domain` is `user`), and the return path of SRS addresses.
//!
//! - An alias stands for one or more addresses, local or remote, which may
//!   be aliases themselves (up to [`MAX_DEPTH`] levels; a loop ends the
//!   expansion of that branch). The expansion is done once, when the
//!   recipient is accepted.
//! - An account with a file `DATA/mailboxes/USER/forward` (one address a
//!   line, `#` comments, and the word `keep` to keep a copy as well) has
//!   its mail sent on to those addresses.
//! - Mail forwarded to another domain (by an alias or a forward file)
//!   leaves with an SRS envelope sender ([`crate::srs`]); mail to an
//!   `SRS0=...` address of ours (a bounce of such mail) goes back to the
//!   original sender, if the address is ours and recent.
//! - `user+tag@domain` of a local domain, when no account or alias has that
//!   exact name, is `user@domain`, delivered into the Maildir++ folder
//!   `USER/.tag/` when that folder exists (made by the user; the tag is
//!   lower-cased and must be letters, digits, `-` or `_`), otherwise into
//!   the inbox. `Dest::Local` then names the folder, `USER/.tag`, which the
//!   store joins to the mailboxes directory like an account name. POP3
//!   serves the inbox only.
//!
//! Accepting a remote recipient without AUTH is the session's decision
//! (relay): it is made on the address as given, not on what an alias of
//! ours expands to.

use std::collections::HashSet;

use crate::config::Config;
use crate::srs::Srs;
use crate::store::{Dest, account_of, split_addr};

/// How deep aliases may nest.
pub(crate) const MAX_DEPTH: usize = 8;
/// Most addresses one recipient may expand to.
pub(crate) const MAX_TARGETS: usize = 1000;

/// What a recipient address becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expansion {
    /// Not ours: relay to it (after AUTH).
    Remote,
    /// Ours: these deliveries (at least one). A remote one among them is
    /// forwarded mail (its sender is rewritten with SRS).
    Local(Vec<(String, Dest)>),
    /// A local domain without such an account or alias.
    Unknown,
}

/// What the rewriting needs besides the configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    pub(crate) srs: &'a Srs,
    /// Days since 1970 (for SRS).
    pub(crate) day: u64,
}

/// The targets of an account's forward file, and whether to keep a copy;
/// `None` without a file (or with one that names no address).
pub(crate) fn forward_file(cfg: &Config, user: &str) -> Option<(Vec<String>, bool)> {
    let path = cfg.data.join("mailboxes").join(user).join("forward");
    let text = std::fs::read_to_string(path).ok()?;
    let mut keep = false;
    let mut targets = Vec::new();
    for line in text.lines().take(MAX_TARGETS) {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.eq_ignore_ascii_case("keep") {
            keep = true;
        } else if split_addr(line).is_some() && !line.contains(char::is_whitespace) {
            targets.push(line.to_string());
        }
    }
    (!targets.is_empty()).then_some((targets, keep))
}

/// The mailbox for a local part of a local domain, with plus-addressing:
/// the account, or its folder for the tag when that exists.
fn account(cfg: &Config, local: &str) -> Option<String> {
    if let Some(u) = cfg.user(local) {
        return Some(u.name.clone());
    }
    let (base, tag) = local.split_once('+')?;
    let user = cfg.user(base)?.name.clone();
    let tag = tag.to_ascii_lowercase();
    let safe = !tag.is_empty()
        && tag.len() <= 64
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let folder = format!("{user}/.{tag}");
    let exists = safe
        && cfg
            .data
            .join("mailboxes")
            .join(&folder)
            .join("new")
            .is_dir();
    Some(if exists { folder } else { user })
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
pub(crate) fn expand(cfg: &Config, cx: Context<'_>, addr: &str) -> Expansion {
    let Some((local, domain)) = split_addr(addr) else {
        return Expansion::Unknown;
    };
    let local_domain = cfg.is_local_domain(domain);
    let lower = addr.to_ascii_lowercase();
    if !local_domain && alias(cfg, &lower).is_none() {
        return Expansion::Remote;
    }
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    if local_domain
        && local
            .get(..5)
            .is_some_and(|p| p.eq_ignore_ascii_case("SRS0="))
    {
        // A bounce of forwarded mail: back to the original sender.
        return match cx.srs.reverse(local, cx.day) {
            Some(orig) => match split_addr(&orig) {
                Some((_, d)) if !cfg.is_local_domain(d) => {
                    Expansion::Local(vec![(orig, Dest::Remote)])
                }
                Some(_) => {
                    walk(cfg, &orig, 0, &mut seen, &mut out);
                    if out.is_empty() {
                        Expansion::Unknown
                    } else {
                        Expansion::Local(out)
                    }
                }
                None => Expansion::Unknown,
            },
            None => Expansion::Unknown,
        };
    }
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
            Some(user) => {
                let account = account_of(&user);
                if let Some((targets, keep)) = forward_file(cfg, account) {
                    for t in &targets {
                        walk(cfg, t, depth + 1, seen, out);
                    }
                    if !keep {
                        return;
                    }
                }
                Dest::Local(user)
            }
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

    fn srs() -> Srs {
        Srs::new(vec![1; 32])
    }

    fn expand(c: &Config, addr: &str) -> Expansion {
        let s = srs();
        super::expand(c, Context { srs: &s, day: 100 }, addr)
    }

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
    fn plus_address_into_an_existing_folder() {
        let dir = std::env::temp_dir().join(format!("mailwire-plus-{}", std::process::id()));
        let data = dir.to_str().unwrap().to_string();
        let c = cfg(&["--data", &data]);
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(dir.join("mailboxes/alice/.news").join(sub)).unwrap();
        }
        assert_eq!(
            expand(&c, "alice+News@a.test"),
            local(&[("alice+News@a.test", "alice/.news")])
        );
        assert_eq!(
            expand(&c, "alice+other@a.test"),
            local(&[("alice+other@a.test", "alice")]),
            "no such folder: the inbox"
        );
        for tricky in ["alice+../bob@a.test", "alice+.news@a.test", "alice+@a.test"] {
            assert_eq!(expand(&c, tricky), local(&[(tricky, "alice")]), "{tricky}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn forward_files_and_srs_returns() {
        let dir = std::env::temp_dir().join(format!("mailwire-fwd-{}", std::process::id()));
        let data = dir.to_str().unwrap().to_string();
        let c = cfg(&["--data", &data]);
        let fwd = |user: &str, text: &str| {
            let d = dir.join("mailboxes").join(user);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("forward"), text).unwrap();
        };
        fwd("alice", "# away\nx@b.test\nbob@a.test  # and bob\n");
        fwd("bob", "keep\nalice@a.test\n");
        // alice -> x@b.test and bob; bob keeps his copy and sends on to
        // alice, which is a loop: cut.
        assert_eq!(
            expand(&c, "alice@a.test"),
            local(&[("x@b.test", ""), ("bob@a.test", "bob")])
        );
        assert_eq!(
            forward_file(&c, "bob"),
            Some((vec!["alice@a.test".to_string()], true))
        );
        fwd("bob", "# nothing\nkeep\n");
        assert_eq!(forward_file(&c, "bob"), None, "no address: no forwarding");

        let s = srs();
        let rewritten = s.forward("carol@c.test", "a.test", 100);
        assert_eq!(
            expand(&c, &rewritten),
            local(&[("carol@c.test", "")]),
            "a bounce goes back"
        );
        let back_home = s.forward("bob@a.test", "a.test", 100);
        assert_eq!(expand(&c, &back_home), local(&[("bob@a.test", "bob")]));
        assert_eq!(
            expand(&c, "SRS0=zzzz=aa=c.test=carol@a.test"),
            Expansion::Unknown
        );
        let _ = std::fs::remove_dir_all(&dir);
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
