//! Accounts and their credentials.
//!
//! A password is kept as SCRAM-SHA-256 keys (RFC 5802 §3, RFC 7677): salt,
//! iteration count, `StoredKey` and `ServerKey`, written in the text form
//! PostgreSQL uses, `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`
//! (base64). From these keys the server can
//! - run SCRAM-SHA-256 itself (the client proves it knows the password);
//! - check a password sent with PLAIN, LOGIN or POP3 `USER`/`PASS`:
//!   `SaltedPassword = Hi(password, salt, i)`, `ClientKey =
//!   HMAC(SaltedPassword, "Client Key")`, `StoredKey = H(ClientKey)`, and
//!   the result compared with the stored key in constant time.
//!
//! CRAM-MD5 (and APOP) need the password itself, so they work only for the
//! demo accounts given as `--user NAME:PASSWORD`; with any hashed account
//! the servers stop offering CRAM-MD5.
//!
//! An unknown user costs the same as a known one: PLAIN is checked against
//! keys made up for the name (a salt and keys derived from a secret drawn at
//! start, so the same name always gets the same salt, as RFC 5802 §9 asks),
//! with the same iteration count, and SCRAM is run with those keys to the
//! end, where the proof fails like a wrong password.
//!
//! A user changes their password in the webmail: the new keys go into
//! `DATA/passwords` (one `NAME KEYS MARK` line an account, mode 0600,
//! written atomically), which overrides the configuration's credential at
//! once in the running server and at every start, as long as the
//! configuration's credential is the one the user changed: `MARK` is a
//! digest of it ([`config_mark`]). When an administrator gives the account
//! a new password in the configuration (a user who forgot theirs), the
//! mark no longer matches and the configuration's password is in force
//! (once the running server reads its config file again, or at the next
//! start); the stale line is dropped from the file. A line without
//! a mark (written before there were marks) overrides as before.

use std::collections::HashMap;
use std::fmt;
use std::io::Read as _;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::{RwLock, RwLockReadGuard};

use mailwire::sasl::framing;
use mailwire::sasl::{ScramCredentials, ScramHash, Secret};
use sha2::{Digest as _, Sha256};

/// The iteration count for new keys (RFC 7677 §4: at least 4096).
pub(crate) const ITERATIONS: u32 = 4096;

const SCHEME: &str = "SCRAM-SHA-256";

/// How an account's password is known.
#[derive(Clone)]
pub(crate) enum Credential {
    /// The password itself (`--user NAME:PASSWORD`, demo only).
    Plain(Secret<String>),
    /// SCRAM-SHA-256 keys (the config file).
    Scram(ScramCredentials),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Credential::Plain(_) => "Plain(<redacted>)",
            Credential::Scram(_) => "Scram(<keys>)",
        })
    }
}

/// `n` random bytes from the kernel.
pub(crate) fn random_bytes(n: usize) -> Result<Vec<u8>, String> {
    let mut b = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| format!("/dev/urandom: {e}"))?;
    Ok(b)
}

/// `bytes` in lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|x| format!("{x:02x}")).collect()
}

/// New keys for `password` with a random 16-byte salt.
pub(crate) fn hash_password(password: &str, iterations: u32) -> Result<ScramCredentials, String> {
    let iterations = NonZeroU32::new(iterations).ok_or("zero iterations")?;
    let salt = random_bytes(16)?;
    ScramCredentials::derive(ScramHash::Sha256, password, &salt, iterations)
        .map_err(|e| e.to_string())
}

/// The text form of SCRAM-SHA-256 keys.
pub(crate) fn format_scram(c: &ScramCredentials) -> String {
    format!(
        "{SCHEME}${}:{}${}:{}",
        c.iterations(),
        framing::encode(c.salt()),
        framing::encode(c.stored_key().expose()),
        framing::encode(c.server_key().expose())
    )
}

/// Parses `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`.
pub(crate) fn parse_scram(s: &str) -> Result<ScramCredentials, String> {
    let bad = |why: &str| {
        format!("bad password hash ({why}): expected {SCHEME}$ITERATIONS:SALT$STOREDKEY:SERVERKEY")
    };
    let rest = s
        .strip_prefix(SCHEME)
        .and_then(|r| r.strip_prefix('$'))
        .ok_or_else(|| bad("scheme"))?;
    let (params, keys) = rest.split_once('$').ok_or_else(|| bad("no keys"))?;
    let (iter, salt) = params.split_once(':').ok_or_else(|| bad("no salt"))?;
    let (stored, server) = keys.split_once(':').ok_or_else(|| bad("no server key"))?;
    let iterations = iter
        .parse::<u32>()
        .ok()
        .and_then(NonZeroU32::new)
        .ok_or_else(|| bad("iterations"))?;
    if iterations.get() < ITERATIONS {
        return Err(bad("fewer than 4096 iterations (RFC 7677 §4)"));
    }
    let b64 = |v: &str, what: &str| framing::decode(v.as_bytes()).map_err(|_| bad(what));
    ScramCredentials::new(
        ScramHash::Sha256,
        b64(salt, "salt")?,
        iterations,
        Secret::new(b64(stored, "stored key")?),
        Secret::new(b64(server, "server key")?),
    )
    .map_err(|e| bad(&e.to_string()))
}

/// A digest of an account's credential in the configuration, which a
/// line of `DATA/passwords` keeps to say which credential it replaced: of
/// the keys' text form, or for a plaintext demo password of keys derived
/// from it with a salt made from the account's name (the same at every
/// start, and as slow to guess from as the stored keys).
pub(crate) fn config_mark(name: &str, credential: &Credential) -> Result<String, String> {
    let keys = match credential {
        Credential::Scram(c) => format_scram(c),
        Credential::Plain(pw) => {
            let salt = Sha256::digest(format!("mailwire config mark {name}"));
            let iterations = NonZeroU32::new(ITERATIONS).ok_or("iterations")?;
            let c =
                ScramCredentials::derive(ScramHash::Sha256, pw.expose(), &salt[..16], iterations)
                    .map_err(|e| e.to_string())?;
            format_scram(&c)
        }
    };
    Ok(hex(&Sha256::digest(keys.as_bytes())[..16]))
}

/// What [`Accounts::reload`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Reloaded {
    /// Accounts whose password changed, in force now.
    pub(crate) changed: Vec<String>,
    /// Accounts the configuration gained: they can log in now.
    pub(crate) added: Vec<String>,
    /// Accounts the configuration lost: shut out now.
    pub(crate) removed: Vec<String>,
    /// Why the passwords file was not read or written again, when it was
    /// not: the accounts above are in force all the same (in memory); a
    /// line left for a changed account is not taken at a start, its mark
    /// being the old credential's, but a password the user of an added
    /// account had set stays out until the file's next reading.
    pub(crate) file_error: Option<String>,
}

/// What [`Accounts::prepare_reload`] made: the configuration's account
/// names, and the entries of those gained or changed.
pub(crate) struct PreparedReload {
    names: std::collections::HashSet<String>,
    fresh: Vec<(String, Entry)>,
}

/// Reads the passwords file `file`, keeps the lines `keep` keeps (each
/// line is shown to it once, in order), adds `add`, and writes the file
/// again when that changed it. A missing file is an empty one; a file
/// that is there but does not read is an error, not an empty file (the
/// other accounts' lines must not be lost).
fn rewrite_changes(
    file: &std::path::Path,
    mut keep: impl FnMut(&str) -> bool,
    add: Option<&str>,
) -> Result<(), String> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("{}: {e}", file.display())),
    };
    let lines: Vec<&str> = text.lines().filter(|l| keep(l)).chain(add).collect();
    if add.is_none() && lines.len() == text.lines().count() {
        return Ok(());
    }
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    crate::maildir::write_atomic_private(file, text.as_bytes())
        .map_err(|e| format!("{}: {e}", file.display()))
}

/// Takes a passwords-file line (see [`Accounts::with_changes`]) into `map`
/// when it is of an account `of` names: its keys replace the
/// configuration's while its mark is that of the configuration's
/// credential; a line with another mark is to be dropped (false: the
/// configuration's password was changed after the user's). Other lines
/// are kept as they are.
fn take_change(map: &mut HashMap<String, Entry>, line: &str, of: impl Fn(&str) -> bool) -> bool {
    let mut words = line.split(' ');
    let (Some(name), Some(keys), mark) = (words.next(), words.next(), words.next()) else {
        return true;
    };
    let Some(e) = map.get_mut(name).filter(|_| of(name)) else {
        return true;
    };
    if mark.is_some_and(|m| m != e.mark) {
        eprintln!(
            "account {name}: its password in the configuration changed after the user \
             changed it: the configuration's is in force"
        );
        return false;
    }
    if let Ok(keys) = parse_scram(keys) {
        e.scram = keys;
        e.plain = None;
    }
    true
}

/// Whether a passwords-file line is not `name`'s (a line that names no
/// account is kept too).
fn not_of(line: &str, name: &str) -> bool {
    line.split_once(' ').is_none_or(|(n, _)| n != name)
}

struct Entry {
    scram: ScramCredentials,
    plain: Option<Secret<String>>,
    /// [`config_mark`] of the configuration's credential.
    mark: String,
    /// How many times the password was changed since the start (see
    /// [`Accounts::generation`]).
    generation: u64,
}

impl Entry {
    /// The entry of a configured account: its credential's keys (derived
    /// from a plaintext password, which is kept for CRAM-MD5), whose
    /// [`config_mark`] is `mark`.
    fn configured(u: &crate::config::User, mark: String, generation: u64) -> Result<Self, String> {
        let (scram, plain) = match &u.credential {
            Credential::Plain(pw) => (
                hash_password(pw.expose(), ITERATIONS)
                    .map_err(|e| format!("account {}: {e}", u.name))?,
                Some(pw.clone()),
            ),
            Credential::Scram(c) => (c.clone(), None),
        };
        Ok(Entry {
            scram,
            plain,
            mark,
            generation,
        })
    }
}

/// Every account's keys, for the SMTP and POP3 sessions.
pub(crate) struct Accounts {
    map: RwLock<HashMap<String, Entry>>,
    /// The passwords users changed (`DATA/passwords`), when kept.
    changed: Option<PathBuf>,
    /// Drawn at start: the made-up keys of unknown users come from it.
    secret: Vec<u8>,
    /// The iteration count of the made-up keys (the most common one).
    iterations: NonZeroU32,
}

impl fmt::Debug for Accounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accounts")
            .field("names", &self.read().keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Accounts {
    /// The accounts of the configuration; plaintext passwords get their
    /// keys derived here.
    pub(crate) fn new(users: &[crate::config::User]) -> Result<Self, String> {
        let mut map = HashMap::new();
        let mut counts: HashMap<u32, usize> = HashMap::new();
        for u in users {
            let entry = Entry::configured(u, config_mark(&u.name, &u.credential)?, 0)?;
            *counts.entry(entry.scram.iterations().get()).or_default() += 1;
            map.insert(u.name.clone(), entry);
        }
        let iterations = counts
            .into_iter()
            .max_by_key(|&(i, n)| (n, i))
            .and_then(|(i, _)| NonZeroU32::new(i))
            .or(NonZeroU32::new(ITERATIONS))
            .ok_or("iterations")?;
        Ok(Accounts {
            map: RwLock::new(map),
            changed: None,
            secret: random_bytes(32)?,
            iterations,
        })
    }

    /// The accounts with the passwords changed in `file` (see the module
    /// text) over the configuration's; later changes are written there. A
    /// missing file changes nothing; a line for no account, or one that
    /// does not parse, is skipped; a line whose mark is not that of the
    /// configuration's credential is dropped (from the file too: the
    /// configuration's password was changed after the user's).
    pub(crate) fn with_changes(mut self, file: PathBuf) -> Result<Self, String> {
        let map = self.map.get_mut().unwrap_or_else(|e| e.into_inner());
        rewrite_changes(&file, |line| take_change(map, line, |_| true), None)?;
        self.changed = Some(file);
        Ok(self)
    }

    /// Makes `new` the password of `name` (lower case): its keys replace
    /// the old ones here and in the file of [`Accounts::with_changes`]
    /// before this returns. `Err`: not changed.
    pub(crate) fn change_password(&self, name: &str, new: &str) -> Result<(), String> {
        let keys = hash_password(new, ITERATIONS)?;
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        let Some(mark) = map.get(name).map(|e| e.mark.clone()) else {
            return Err("no such account".into());
        };
        if let Some(file) = &self.changed {
            let line = format!("{name} {} {mark}", format_scram(&keys));
            rewrite_changes(file, |l| not_of(l, name), Some(&line))?;
        }
        let generation = map.get(name).map_or(0, |e| e.generation + 1);
        map.insert(
            name.to_string(),
            Entry {
                scram: keys,
                plain: None,
                mark,
                generation,
            },
        );
        Ok(())
    }

    /// [`Accounts::prepare_reload`] then [`Accounts::apply_reload`], for
    /// the tests.
    #[cfg(test)]
    pub(crate) fn reload(&self, users: &[crate::config::User]) -> Result<Reloaded, String> {
        Ok(self.apply_reload(self.prepare_reload(users)?))
    }

    /// The accounts of a configuration read again (its file changed): an
    /// account whose credential there is not the one in force at the
    /// start, or at the last reload, takes it at once, as if the server
    /// had started with it (its line in the passwords file, a password the
    /// user set over the old one, is dropped; its sessions end, see
    /// [`Accounts::generation`]). An account the configuration lost can
    /// no longer log in, and its sessions end (its keys are made-up ones,
    /// as for a name that is no account); an account it gained can log in
    /// (the store routes mail by the same reading, [`Store::take_routing`],
    /// which the caller calls between the two halves, so that the
    /// account's folders exist before it can log in, and nothing changes
    /// when either this half or the routing fails). The answer of the
    /// second half names them all, for the log.
    ///
    /// This half changes nothing and is the one that can fail (a
    /// credential whose keys cannot be derived): the marks of `users`, and
    /// the entries of the accounts gained or changed, made before the
    /// write lock (a plaintext password's keys take a while to derive, and
    /// logins wait on the lock). Only a reading changes a mark, and the
    /// config watcher is the one reader, so the entries are still the ones
    /// to put in force when [`Accounts::apply_reload`] takes them.
    ///
    /// [`Store::take_routing`]: crate::store::Store::take_routing
    pub(crate) fn prepare_reload(
        &self,
        users: &[crate::config::User],
    ) -> Result<PreparedReload, String> {
        let marks = users
            .iter()
            .map(|u| config_mark(&u.name, &u.credential))
            .collect::<Result<Vec<_>, _>>()?;
        let stale: Vec<bool> = {
            let map = self.map.read().unwrap_or_else(|e| e.into_inner());
            users
                .iter()
                .zip(&marks)
                .map(|(u, mark)| map.get(&u.name).is_none_or(|e| &e.mark != mark))
                .collect()
        };
        let fresh = users
            .iter()
            .zip(marks)
            .zip(stale)
            .filter(|&(_, stale)| stale)
            .map(|((u, mark), _)| Ok((u.name.clone(), Entry::configured(u, mark, 0)?)))
            .collect::<Result<Vec<_>, String>>()?;
        Ok(PreparedReload {
            names: users.iter().map(|u| u.name.clone()).collect(),
            fresh,
        })
    }

    /// The second half of a reading: puts what
    /// [`Accounts::prepare_reload`] made in force. It cannot fail; the
    /// passwords file's reading or writing, when it fails, is in the
    /// answer ([`Reloaded::file_error`]).
    pub(crate) fn apply_reload(&self, prepared: PreparedReload) -> Reloaded {
        let PreparedReload { names, fresh } = prepared;
        let mut out = Reloaded::default();
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        for (name, mut entry) in fresh {
            let Some(e) = map.get_mut(&name) else {
                out.added.push(name.clone());
                map.insert(name, entry);
                continue;
            };
            // An account shut out at an earlier reading has no mark.
            let list = if e.mark.is_empty() {
                &mut out.added
            } else {
                &mut out.changed
            };
            entry.generation = e.generation + 1;
            *e = entry;
            list.push(name);
        }
        for (name, e) in map.iter_mut() {
            // Shut out once (a shut-out account has no mark).
            if e.mark.is_empty() || names.contains(name) {
                continue;
            }
            *e = Entry {
                scram: self.dummy(name),
                plain: None,
                mark: String::new(),
                generation: e.generation + 1,
            };
            out.removed.push(name.clone());
        }
        out.removed.sort();
        // The lines of the changed accounts go; an added account's line
        // counts as at a start.
        if !(out.changed.is_empty() && out.added.is_empty())
            && let Some(file) = &self.changed
        {
            let (changed, added) = (&out.changed, &out.added);
            out.file_error = rewrite_changes(
                file,
                |l| {
                    changed.iter().all(|c| not_of(l, c))
                        && take_change(&mut map, l, |n| added.iter().any(|a| a == n))
                },
                None,
            )
            .err();
        }
        out
    }

    /// A number that changes whenever `name`'s password does (0 for no
    /// account). A session keeps it from its log-in and ends once it
    /// differs ([`Accounts::changed_since`]), so that a password changed
    /// (because someone else learnt it) also shuts out the IMAP, POP3 and
    /// SMTP sessions that logged in with the old one.
    pub(crate) fn generation(&self, name: &str) -> u64 {
        self.read().get(name).map_or(0, |e| e.generation)
    }

    /// Whether `name`'s password changed since its [`Accounts::generation`]
    /// was `generation`.
    pub(crate) fn changed_since(&self, name: &str, generation: u64) -> bool {
        self.generation(name) != generation
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, Entry>> {
        self.map.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `name` (lower case) is an account.
    pub(crate) fn exists(&self, name: &str) -> bool {
        self.read().contains_key(name)
    }

    /// A tag of `name`'s password (case-insensitive), mixed with `salt`
    /// under `mac` (a keyed hash), in hex: the same while the password is,
    /// another once it changes (the webmail's sessions end then). `None`
    /// when `name` is no account. A plaintext password is tagged itself
    /// (its SCRAM keys get a new salt at every start), a SCRAM one by its
    /// keys.
    pub(crate) fn credential_tag(
        &self,
        name: &str,
        salt: &[u8],
        mac: impl Fn(&[u8]) -> [u8; 32],
    ) -> Option<String> {
        let map = self.read();
        let e = map.get(&name.to_ascii_lowercase())?;
        let mut data = salt.to_vec();
        match &e.plain {
            Some(pw) => {
                data.extend_from_slice(b"\0plain\0");
                data.extend_from_slice(pw.expose().as_bytes());
            }
            None => {
                data.extend_from_slice(b"\0scram\0");
                data.extend_from_slice(format_scram(&e.scram).as_bytes());
            }
        }
        Some(hex(&mac(&data)))
    }

    /// Whether every account has its plaintext password (CRAM-MD5 and APOP
    /// can then be offered).
    pub(crate) fn all_plaintext(&self) -> bool {
        self.read().values().all(|e| e.plain.is_some())
    }

    /// The plaintext password, for CRAM-MD5 (demo accounts only).
    pub(crate) fn plaintext(&self, name: &str) -> Option<Secret<String>> {
        self.read()
            .get(&name.to_ascii_lowercase())
            .and_then(|e| e.plain.clone())
    }

    fn made_up(&self, what: &str, name: &str) -> Vec<u8> {
        let mut h = Sha256::new();
        h.update(&self.secret);
        h.update(what.as_bytes());
        h.update([0]);
        h.update(name.as_bytes());
        h.finalize().to_vec()
    }

    /// Keys made up for a name that is no account: the same for the same
    /// name, unusable without the secret.
    fn dummy(&self, name: &str) -> ScramCredentials {
        let mut salt = self.made_up("salt", name);
        salt.truncate(16);
        ScramCredentials::new(
            ScramHash::Sha256,
            salt,
            self.iterations,
            Secret::new(self.made_up("stored", name)),
            Secret::new(self.made_up("server", name)),
        )
        .unwrap_or_else(|_| unreachable!("32-byte keys and a 16-byte salt"))
    }

    /// The SCRAM keys for `name` (case-insensitive): the account's, or
    /// made-up ones for an unknown user, so that SCRAM fails at the proof
    /// like a wrong password.
    pub(crate) fn scram(&self, name: &str) -> ScramCredentials {
        let name = name.to_ascii_lowercase();
        let known = self.read().get(&name).map(|e| e.scram.clone());
        known.unwrap_or_else(|| self.dummy(&name))
    }

    /// Whether `password` is the password of `name` (case-insensitive).
    /// Does the same work for an unknown user.
    pub(crate) fn verify(&self, name: &str, password: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        let found = self.read().get(&lower).map(|e| e.scram.clone());
        let (known, keys) = match found {
            Some(keys) => (true, keys),
            None => (false, self.dummy(&lower)),
        };
        let Ok(given) =
            ScramCredentials::derive(keys.hash(), password, keys.salt(), keys.iterations())
        else {
            return false;
        };
        let same = keys.stored_key().ct_eq(given.stored_key().expose());
        known & same
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::User;

    /// A scratch directory (removed when the test ends) and the
    /// passwords file in it.
    fn passwords_file() -> (crate::testdir::TestDir, std::path::PathBuf) {
        let dir = crate::testdir::TestDir::new("accounts");
        let file = dir.join("passwords");
        (dir, file)
    }

    /// The accounts of `users` with the changes in `file`, as at a start.
    fn start(users: &[User], file: &std::path::Path) -> Accounts {
        Accounts::new(users)
            .unwrap()
            .with_changes(file.to_path_buf())
            .unwrap()
    }

    fn users() -> Vec<User> {
        vec![
            User {
                name: "demo".into(),
                credential: Credential::Plain(Secret::new("demo".into())),
            },
            User {
                name: "alice".into(),
                credential: Credential::Scram(hash_password("s3cret", 4096).unwrap()),
            },
        ]
    }

    /// A changed password is in force at once, written to the file (mode
    /// 0600, without the password), and over the configuration's at the
    /// next start; the old one no longer works; no account, no change.
    #[test]
    fn changed_passwords_kept() {
        use std::os::unix::fs::PermissionsExt as _;
        let (_dir, file) = passwords_file();
        // One configuration for both starts (its hashed password, salted
        // at random, must be the same text).
        let config = users();
        let a = start(&config, &file);
        assert!(a.plaintext("demo").is_some());
        let tag = |a: &Accounts| a.credential_tag("demo", b"salt", |d| Sha256::digest(d).into());
        let before = tag(&a);
        let logged_in = a.generation("demo");
        a.change_password("demo", "a new one!").unwrap();
        assert!(
            a.changed_since("demo", logged_in),
            "the other sessions see the change"
        );
        assert!(!a.changed_since("alice", a.generation("alice")));
        assert!(a.verify("demo", "a new one!"));
        assert!(!a.verify("demo", "demo"));
        assert_eq!(
            a.plaintext("demo"),
            None,
            "no plaintext for CRAM-MD5 any more"
        );
        assert_ne!(tag(&a), before, "the webmail's sessions see the change");
        a.change_password("alice", "another one").unwrap();
        a.change_password("demo", "third time").unwrap();
        assert!(a.change_password("nobody", "whatever1").is_err());
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(!text.contains("third time"));
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let b = start(&config, &file);
        assert!(b.verify("demo", "third time") && b.verify("alice", "another one"));
        assert!(!b.verify("alice", "s3cret"));
    }

    /// An administrator's new password in the configuration wins over the
    /// user's older change at the next start, and the stale line leaves
    /// the file; the same configuration keeps the user's change; a line
    /// without a mark (an older file) still overrides.
    #[test]
    fn config_change_after_the_users_wins() {
        let (_dir, file) = passwords_file();
        let start = |users: &[User]| start(users, &file);
        let config = users();
        let a = start(&config);
        a.change_password("alice", "mine now").unwrap();
        a.change_password("demo", "mine too").unwrap();
        let b = start(&config);
        assert!(b.verify("alice", "mine now") && b.verify("demo", "mine too"));
        // The administrator resets alice (new keys) and demo (new password).
        let mut reset = users();
        reset[0].credential = Credential::Plain(Secret::new("reset 1".into()));
        reset[1].credential = Credential::Scram(hash_password("reset 2", 4096).unwrap());
        let c = start(&reset);
        assert!(c.verify("demo", "reset 1") && !c.verify("demo", "mine too"));
        assert!(c.verify("alice", "reset 2") && !c.verify("alice", "mine now"));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "");
        // Back to the first configuration: the user's change is gone.
        assert!(start(&config).verify("alice", "s3cret"));
        // A line without a mark overrides whatever the configuration says.
        let keys = format_scram(&hash_password("old file", 4096).unwrap());
        std::fs::write(&file, format!("alice {keys}\n")).unwrap();
        assert!(start(&reset).verify("alice", "old file"));
        assert_eq!(
            config_mark("demo", &config[0].credential).unwrap(),
            config_mark("demo", &users()[0].credential).unwrap(),
            "a plaintext password's mark is the same at every start"
        );
    }

    /// A configuration read again while running: the administrator's new
    /// password is in force at once (the user's older change dropped from
    /// the file, the sessions told), the same configuration changes
    /// nothing, an account taken out is shut out (once) and comes back
    /// with the configuration (and with the password its user set, as at a
    /// start), a new one can log in at once.
    #[test]
    fn reload_takes_the_configurations_passwords() {
        let (_dir, file) = passwords_file();
        let config = users();
        let a = start(&config, &file);
        a.change_password("alice", "mine now").unwrap();
        a.change_password("demo", "mine too").unwrap();
        assert_eq!(a.reload(&config).unwrap(), Reloaded::default());
        assert!(a.verify("alice", "mine now") && a.verify("demo", "mine too"));
        // alice reset by the administrator; demo left as the user made it.
        let mut reset = users();
        reset[0] = config[0].clone();
        reset[1].credential = Credential::Scram(hash_password("reset", 4096).unwrap());
        let logged_in = a.generation("alice");
        let r = a.reload(&reset).unwrap();
        assert_eq!(r.changed, ["alice"]);
        assert!(r.added.is_empty() && r.removed.is_empty());
        assert!(a.verify("alice", "reset") && !a.verify("alice", "mine now"));
        assert!(a.changed_since("alice", logged_in));
        assert!(a.verify("demo", "mine too"));
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("demo ") && text.lines().count() == 1,
            "{text}"
        );
        assert_eq!(a.reload(&reset).unwrap(), Reloaded::default());
        // demo taken out, bob put in.
        let mut next = vec![reset[1].clone()];
        next.push(User {
            name: "bob".into(),
            credential: Credential::Plain(Secret::new("b".into())),
        });
        let demo_in = a.generation("demo");
        let r = a.reload(&next).unwrap();
        assert_eq!(
            (r.added, r.removed),
            (vec!["bob".to_string()], vec!["demo".to_string()])
        );
        assert!(!a.verify("demo", "mine too") && a.verify("bob", "b"));
        assert!(a.changed_since("demo", demo_in));
        assert!(a.plaintext("demo").is_none());
        assert!(a.reload(&next).unwrap().removed.is_empty(), "shut out once");
        // demo back: the password its user set over the configuration's
        // (its line's mark is still the configuration's credential's).
        let r = a.reload(&reset).unwrap();
        assert_eq!((r.added, r.changed), (vec!["demo".to_string()], vec![]));
        assert!(a.verify("demo", "mine too") && !a.verify("demo", "demo"));
        assert_eq!(r.removed, ["bob"]);
        // A line whose mark is not the configuration's is dropped for an
        // account that comes back, as at a start.
        a.reload(&next).unwrap();
        let mut other = reset.clone();
        other[0].credential = Credential::Plain(Secret::new("new".into()));
        assert_eq!(a.reload(&other).unwrap().added, ["demo"]);
        assert!(a.verify("demo", "new") && !a.verify("demo", "mine too"));
        assert!(!std::fs::read_to_string(&file).unwrap().contains("demo "));
    }

    /// A passwords file that cannot be read or written again (here a
    /// directory where the file was) does not keep a reading's accounts
    /// out of force: the new password is taken, the account gained can
    /// log in, the one lost is shut out, and the answer says why the file
    /// was left as it was (before, the error made the reading look failed
    /// while its accounts were in force).
    #[test]
    fn reload_without_the_passwords_file_still_takes_the_accounts() {
        let (_dir, file) = passwords_file();
        let config = users();
        let a = start(&config, &file);
        a.change_password("demo", "mine").unwrap();
        std::fs::remove_file(&file).unwrap();
        std::fs::create_dir(&file).unwrap();
        let mut next = vec![config[1].clone()];
        next[0].credential = Credential::Plain(Secret::new("reset".into()));
        next.push(User {
            name: "bob".into(),
            credential: Credential::Plain(Secret::new("b".into())),
        });
        let r = a.reload(&next).unwrap();
        assert_eq!(r.changed, ["alice"]);
        assert_eq!(r.added, ["bob"]);
        assert_eq!(r.removed, ["demo"]);
        let e = r.file_error.expect("the file's error");
        assert!(e.contains("passwords"), "{e}");
        assert!(a.verify("alice", "reset") && !a.verify("alice", "s3cret"));
        assert!(a.verify("bob", "b") && !a.verify("demo", "mine"));
        // The same reading again changes nothing and touches no file.
        assert_eq!(a.reload(&next).unwrap(), Reloaded::default());
    }

    #[test]
    fn format_and_parse_round_trip() {
        let c = hash_password("pw", 4096).unwrap();
        let text = format_scram(&c);
        assert!(text.starts_with("SCRAM-SHA-256$4096:"), "{text}");
        let back = parse_scram(&text).unwrap();
        assert_eq!(back.salt(), c.salt());
        assert_eq!(back.iterations(), c.iterations());
        assert_eq!(back.stored_key().expose(), c.stored_key().expose());
        assert_eq!(back.server_key().expose(), c.server_key().expose());
    }

    /// RFC 7677 §3's example keys: password "pencil", salt
    /// W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations.
    #[test]
    fn rfc7677_3_keys_parse_and_verify() {
        let c = ScramCredentials::derive(
            ScramHash::Sha256,
            "pencil",
            &framing::decode(b"W22ZaJ0SNY7soEsUEjb6gQ==").unwrap(),
            NonZeroU32::new(4096).unwrap(),
        )
        .unwrap();
        let text = format_scram(&c);
        let users = vec![User {
            name: "user".into(),
            credential: Credential::Scram(parse_scram(&text).unwrap()),
        }];
        let a = Accounts::new(&users).unwrap();
        assert!(a.verify("user", "pencil"));
        assert!(a.verify("USER", "pencil"));
        assert!(!a.verify("user", "pencil "));
        assert!(!a.all_plaintext());
    }

    #[test]
    fn parse_refuses_bad_text() {
        for bad in [
            "",
            "SCRAM-SHA-1$4096:c2FsdA==$AAAA:AAAA",
            "SCRAM-SHA-256$4096:c2FsdA==$AAAA",
            "SCRAM-SHA-256$1000:c2FsdA==$AAAA:AAAA",
            "SCRAM-SHA-256$x:c2FsdA==$AAAA:AAAA",
            // Keys of the wrong length.
            "SCRAM-SHA-256$4096:c2FsdA==$AAAA:AAAA",
            "SCRAM-SHA-256$4096:!!$AAAA:AAAA",
        ] {
            assert!(parse_scram(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn verify_plain_and_hashed_accounts() {
        let a = Accounts::new(&users()).unwrap();
        assert!(a.verify("demo", "demo"));
        assert!(a.verify("alice", "s3cret"));
        assert!(!a.verify("alice", "demo"));
        assert!(!a.verify("nobody", "demo"));
        assert!(a.exists("alice") && !a.exists("nobody"));
        assert!(!a.all_plaintext());
        assert_eq!(a.plaintext("DEMO").unwrap().expose(), "demo");
        assert!(a.plaintext("alice").is_none());
    }

    #[test]
    fn unknown_users_get_stable_made_up_keys() {
        let a = Accounts::new(&users()).unwrap();
        let x1 = a.scram("nobody");
        let x2 = a.scram("NOBODY");
        let y = a.scram("someone");
        assert_eq!(x1.salt(), x2.salt(), "same name, same salt");
        assert_ne!(x1.salt(), y.salt());
        assert_eq!(x1.salt().len(), 16);
        assert_eq!(x1.iterations().get(), 4096);
        let real = a.scram("alice");
        assert_eq!(real.salt().len(), 16);
    }
}
