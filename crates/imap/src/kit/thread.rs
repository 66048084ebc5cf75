//! THREAD (RFC 5256 §3): ORDEREDSUBJECT and REFERENCES, producing the
//! codec's [`Thread`] trees.
//!
//! Both take the searched messages in sequence order, each as its metadata
//! and its (lazily parsed) content, and return UIDs when asked (UID THREAD)
//! or sequence numbers.

use std::collections::HashMap;

use super::search::{LazyContent, MessageMeta};
use super::sort::{base_subject, sent_date, subject_of};
use crate::types::response::Thread;

/// At most this many References ids of one message are linked (the last
/// ones, nearest the message): bounds the work a hostile message causes.
pub const MAX_REFERENCES: usize = 1000;

/// What threading needs from one message.
struct Item {
    number: u32,
    seq: u32,
    date: i64,
    subject: String,
    reply: bool,
    id: Option<String>,
    refs: Vec<String>,
}

fn collect<'m, I>(uid: bool, with_ids: bool, messages: I) -> Vec<Item>
where
    I: IntoIterator<Item = (MessageMeta<'m>, LazyContent<'m>)>,
{
    messages
        .into_iter()
        .map(|(meta, mut content)| {
            let m = content.get();
            let base = base_subject(&subject_of(m));
            let (id, refs) = if with_ids { ids(m) } else { (None, Vec::new()) };
            Item {
                number: if uid { meta.uid } else { meta.seq },
                seq: meta.seq,
                date: sent_date(m, &meta),
                subject: base.text,
                reply: base.reply_or_forward,
                id,
                refs,
            }
        })
        .collect()
}

/// The ids of a field holding msg-ids (References, In-Reply-To), in order.
fn field_ids(m: &super::Message, name: &str) -> Vec<String> {
    m.field(name)
        .map(|v| {
            mailwire_message::parse_message_ids(v)
                .0
                .into_iter()
                .map(|i| i.as_str().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The message's own Message-ID, normalized as threading compares ids.
fn message_id(m: &super::Message) -> Option<String> {
    m.field("message-id")
        .and_then(|v| mailwire_message::parse_message_id(v).0)
        .map(|i| i.as_str().to_owned())
}

/// The normalized Message-ID and the references (RFC 5256 §3 REFERENCES):
/// the References ids, else the first In-Reply-To id.
fn ids(m: &super::Message) -> (Option<String>, Vec<String>) {
    let id = message_id(m);
    let mut refs = field_ids(m, "references");
    if refs.is_empty() {
        refs = field_ids(m, "in-reply-to").into_iter().take(1).collect();
    }
    if refs.len() > MAX_REFERENCES {
        refs.drain(..refs.len() - MAX_REFERENCES);
    }
    (id, refs)
}

/// The id at the root of the message's thread, as far as the message
/// itself tells: the first References id (RFC 5322 §3.6.4 builds
/// References as the parent's References followed by the parent's
/// Message-ID, so its first id is the thread's first message, and that is
/// the one kept when a long list is shortened), else the first In-Reply-To
/// id, else the message's own Message-ID; `None` when it has none of them.
///
/// A server can derive a THREADID (RFC 8474 §5.2) from it with no state of
/// its own: the messages of one conversation share the root, a copy of a
/// message (the same EMAILID) has the same header and so the same root,
/// and the root of a stored message never changes. Ids are compared as
/// [`references`] compares them.
///
/// ```
/// use mailwire_imap::kit::{Message, thread::thread_root};
///
/// let reply = Message::parse(
///     b"Message-ID: <c@x>\r\nReferences: <a@x> <b@x>\r\nIn-Reply-To: <b@x>\r\n\r\n".to_vec(),
/// );
/// assert_eq!(thread_root(&reply).as_deref(), Some("a@x"));
/// let first = Message::parse(b"Message-ID: <a@x>\r\n\r\nHello\r\n".to_vec());
/// assert_eq!(thread_root(&first).as_deref(), Some("a@x"));
/// ```
pub fn thread_root(m: &super::Message) -> Option<String> {
    field_ids(m, "references")
        .into_iter()
        .next()
        .or_else(|| field_ids(m, "in-reply-to").into_iter().next())
        .or_else(|| message_id(m))
}

/// THREAD ORDEREDSUBJECT: messages grouped by base subject, each group
/// ordered by sent date, groups ordered by the sent date of their first
/// message; the first message is the parent of all the others.
pub fn ordered_subject<'m, I>(uid: bool, messages: I) -> Vec<Thread>
where
    I: IntoIterator<Item = (MessageMeta<'m>, LazyContent<'m>)>,
{
    let mut items = collect(uid, false, messages);
    items.sort_by(|a, b| (&a.subject, a.date, a.seq).cmp(&(&b.subject, b.date, b.seq)));
    let mut groups: Vec<&[Item]> = items.chunk_by(|a, b| a.subject == b.subject).collect();
    groups.sort_by_key(|g| (g[0].date, g[0].seq));
    groups
        .into_iter()
        .filter_map(|g| {
            let (first, rest) = g.split_first()?;
            Some(match rest {
                [] => leaf(first.number),
                [second] => Thread {
                    chain: vec![first.number, second.number],
                    children: Vec::new(),
                },
                _ => Thread {
                    chain: vec![first.number],
                    children: rest.iter().map(|i| leaf(i.number)).collect(),
                },
            })
        })
        .collect()
}

fn leaf(n: u32) -> Thread {
    Thread {
        chain: vec![n],
        children: Vec::new(),
    }
}

/// A node of the REFERENCES tree: a message, or a dummy.
#[derive(Debug, Default)]
struct Node {
    item: Option<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
}

struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    fn add(&mut self, item: Option<usize>) -> usize {
        self.nodes.push(Node {
            item,
            ..Node::default()
        });
        self.nodes.len() - 1
    }

    /// Whether `a` is `b` or below it.
    fn is_descendant(&self, mut a: usize, b: usize) -> bool {
        // Nothing is below a node without children: a reply chain read in
        // order links each new message in O(1), not O(depth).
        if self.nodes[b].children.is_empty() {
            return a == b;
        }
        loop {
            if a == b {
                return true;
            }
            match self.nodes[a].parent {
                Some(p) => a = p,
                None => return false,
            }
        }
    }

    fn unlink(&mut self, child: usize) {
        if let Some(p) = self.nodes[child].parent.take() {
            self.nodes[p].children.retain(|&c| c != child);
        }
    }

    /// Makes `child` a child of `parent` unless that would make a loop.
    fn link(&mut self, parent: usize, child: usize) -> bool {
        if self.is_descendant(parent, child) {
            return false;
        }
        self.unlink(child);
        self.nodes[child].parent = Some(parent);
        self.nodes[parent].children.push(child);
        true
    }

    fn is_dummy(&self, n: usize) -> bool {
        self.nodes[n].item.is_none()
    }
}

/// THREAD REFERENCES, RFC 5256 §3 steps 1 to 6.
pub fn references<'m, I>(uid: bool, messages: I) -> Vec<Thread>
where
    I: IntoIterator<Item = (MessageMeta<'m>, LazyContent<'m>)>,
{
    let items = collect(uid, true, messages);
    let mut tree = Tree { nodes: Vec::new() };
    let mut table: HashMap<String, usize> = HashMap::new();

    // (1) Link messages by their references.
    for (i, item) in items.iter().enumerate() {
        // A message without a valid or with a duplicate Message-ID gets a
        // unique one: a node of its own outside the table.
        let this = match item.id.as_ref().and_then(|id| table.get(id).copied()) {
            Some(n) if tree.is_dummy(n) => {
                tree.nodes[n].item = Some(i);
                n
            }
            Some(_) => tree.add(Some(i)),
            None => {
                let n = tree.add(Some(i));
                if let Some(id) = &item.id {
                    table.insert(id.clone(), n);
                }
                n
            }
        };
        // (A) Each reference the parent of the next, unless it has one.
        let mut nodes = Vec::with_capacity(item.refs.len());
        for r in &item.refs {
            let n = match table.get(r) {
                Some(&n) => n,
                None => {
                    let n = tree.add(None);
                    table.insert(r.clone(), n);
                    n
                }
            };
            nodes.push(n);
        }
        for pair in nodes.windows(2) {
            if tree.nodes[pair[1]].parent.is_none() {
                tree.link(pair[0], pair[1]);
            }
        }
        // (B) The last reference is the parent, replacing any other.
        match nodes.last() {
            Some(&p) => {
                if !tree.is_descendant(p, this) {
                    tree.link(p, this);
                }
            }
            None => tree.unlink(this),
        }
    }

    // (2) Every node without a parent hangs from the root.
    let roots: Vec<usize> = (0..tree.nodes.len())
        .filter(|&n| tree.nodes[n].parent.is_none())
        .collect();
    // (3) Prune dummies.
    let mut roots = prune(&mut tree, roots);

    let date = |tree: &Tree, n: usize| -> (i64, u32) {
        let n = match tree.nodes[n].item {
            Some(_) => n,
            None => tree.nodes[n].children.first().copied().unwrap_or(n),
        };
        tree.nodes[n]
            .item
            .map_or((i64::MIN, 0), |i| (items[i].date, items[i].seq))
    };
    // (4) Sort the top level by sent date (a dummy by its first child, its
    // children sorted first).
    for &r in &roots {
        if tree.is_dummy(r) {
            let mut kids = std::mem::take(&mut tree.nodes[r].children);
            kids.sort_by_key(|&k| date(&tree, k));
            tree.nodes[r].children = kids;
        }
    }
    roots.sort_by_key(|&r| date(&tree, r));

    // (5) Gather threads with the same base subject.
    let subject = |tree: &Tree, n: usize| -> Option<usize> {
        let m = match tree.nodes[n].item {
            Some(i) => i,
            None => tree.nodes[tree.nodes[n].children.first().copied()?].item?,
        };
        (!items[m].subject.is_empty()).then_some(m)
    };
    let reply = |tree: &Tree, n: usize| tree.nodes[n].item.is_some_and(|i| items[i].reply);
    let mut subjects: HashMap<&str, usize> = HashMap::new();
    for &r in &roots {
        let Some(m) = subject(&tree, r) else { continue };
        let key = items[m].subject.as_str();
        match subjects.get(key).copied() {
            None => {
                subjects.insert(key, r);
            }
            Some(t) => {
                if !tree.is_dummy(t) && (tree.is_dummy(r) || (reply(&tree, t) && !reply(&tree, r)))
                {
                    subjects.insert(key, r);
                }
            }
        }
    }
    let mut out_roots: Vec<Option<usize>> = roots.iter().map(|&r| Some(r)).collect();
    for pos in 0..out_roots.len() {
        let Some(r) = out_roots[pos] else { continue };
        let Some(m) = subject(&tree, r) else { continue };
        let key = items[m].subject.as_str();
        let Some(t) = subjects.get(key).copied() else {
            continue;
        };
        if t == r {
            continue;
        }
        if tree.is_dummy(t) && tree.is_dummy(r) {
            for k in std::mem::take(&mut tree.nodes[r].children) {
                tree.nodes[k].parent = None;
                tree.link(t, k);
            }
            out_roots[pos] = None;
        } else if tree.is_dummy(t) || (reply(&tree, r) && !reply(&tree, t)) {
            tree.link(t, r);
            out_roots[pos] = None;
        } else {
            let d = tree.add(None);
            let t_pos = out_roots.iter().position(|&x| x == Some(t));
            tree.link(d, t);
            tree.link(d, r);
            out_roots[pos] = None;
            if let Some(tp) = t_pos {
                out_roots[tp] = Some(d);
            }
            subjects.insert(key, d);
        }
    }
    let mut roots: Vec<usize> = out_roots.into_iter().flatten().collect();

    // (6) Sort every set of siblings by sent date, the deepest first:
    // children come after their parent in pre-order, so reversed pre-order
    // sorts every node's children before the node itself is a sort key.
    for n in tree.pre_order(&roots).into_iter().rev() {
        let mut kids = std::mem::take(&mut tree.nodes[n].children);
        kids.sort_by_key(|&k| date(&tree, k));
        tree.nodes[n].children = kids;
    }
    roots.sort_by_key(|&r| date(&tree, r));
    to_threads(&tree, &items, &roots)
}

/// Step 3: prune dummies, children before parents (reversed pre-order,
/// no recursion: a References chain may be as deep as the mailbox is big).
fn prune(tree: &mut Tree, roots: Vec<usize>) -> Vec<usize> {
    for n in tree.pre_order(&roots).into_iter().rev() {
        let kids = std::mem::take(&mut tree.nodes[n].children);
        let kids = prune_level(tree, kids, false);
        for &k in &kids {
            tree.nodes[k].parent = Some(n);
        }
        tree.nodes[n].children = kids;
    }
    prune_level(tree, roots, true)
}

/// Step 3 on one list of siblings whose own children are pruned already:
/// a dummy without children goes; a dummy with children gives way to
/// them, except at the top when it has more than one.
fn prune_level(tree: &mut Tree, list: Vec<usize>, top: bool) -> Vec<usize> {
    let mut out = Vec::with_capacity(list.len());
    for n in list {
        if !tree.is_dummy(n) {
            out.push(n);
        } else if tree.nodes[n].children.is_empty() {
            tree.nodes[n].parent = None;
        } else if !top || tree.nodes[n].children.len() == 1 {
            let kids = std::mem::take(&mut tree.nodes[n].children);
            let parent = tree.nodes[n].parent;
            for &k in &kids {
                tree.nodes[k].parent = parent;
            }
            out.extend(kids);
        } else {
            out.push(n);
        }
    }
    out
}

impl Tree {
    /// The nodes below `roots` (included), each parent before its children.
    fn pre_order(&self, roots: &[usize]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack: Vec<usize> = roots.iter().rev().copied().collect();
        while let Some(n) = stack.pop() {
            out.push(n);
            stack.extend(self.nodes[n].children.iter().rev());
        }
        out
    }
}

/// Deepest nesting of thread lists in a THREAD response: the codec's
/// parser accepts 64, so a reply the kit builds is one our client reads.
/// A subtree that would nest deeper (a hostile mailbox) is given flat: its
/// messages become children of its top message, in tree order.
pub const MAX_NESTING: usize = 48;

/// A thread being built bottom-up: its chain reversed (a message is
/// pushed in front of its only child's chain in O(1)), and its nesting.
struct Partial {
    rev_chain: Vec<u32>,
    children: Vec<Thread>,
    depth: usize,
}

impl Partial {
    fn finish(mut self) -> Thread {
        self.rev_chain.reverse();
        Thread {
            chain: self.rev_chain,
            children: self.children,
        }
    }
}

/// The codec's form of the trees under `roots`: a chain while each node
/// has one child, then the branches. Built bottom-up without recursion.
fn to_threads(tree: &Tree, items: &[Item], roots: &[usize]) -> Vec<Thread> {
    let mut built: Vec<Option<Partial>> = std::iter::repeat_with(|| None)
        .take(tree.nodes.len())
        .collect();
    for n in tree.pre_order(roots).into_iter().rev() {
        let node = &tree.nodes[n];
        let mut kids: Vec<Partial> = node
            .children
            .iter()
            .filter_map(|&c| built[c].take())
            .collect();
        let this = node.item.map(|i| items[i].number);
        let partial = match (this, kids.pop()) {
            (Some(m), Some(mut only)) if kids.is_empty() => {
                only.rev_chain.push(m);
                only
            }
            (_, last) => {
                kids.extend(last);
                let depth = kids.iter().map(|k| k.depth).max().map_or(1, |d| d + 1);
                let t = Thread {
                    chain: this.into_iter().collect(),
                    children: kids.into_iter().map(Partial::finish).collect(),
                };
                let (t, depth) = if depth > MAX_NESTING {
                    (flatten(t), 2)
                } else {
                    (t, depth)
                };
                Partial {
                    rev_chain: t.chain,
                    children: t.children,
                    depth,
                }
            }
        };
        built[n] = Some(partial);
    }
    roots
        .iter()
        .filter_map(|&r| built[r].take().map(Partial::finish))
        .collect()
}

/// A thread with every message below its chain as a leaf child.
fn flatten(t: Thread) -> Thread {
    let mut leaves = Vec::new();
    let mut stack: Vec<Thread> = t.children.into_iter().rev().collect();
    while let Some(c) = stack.pop() {
        leaves.extend(c.chain.into_iter().map(leaf));
        stack.extend(c.children.into_iter().rev());
    }
    Thread {
        chain: t.chain,
        children: leaves,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::Message;
    use crate::kit::mailbox::Flags;
    use crate::types::core::{Date, DateTime};

    /// RFC 5322 Appendix A.2's three messages (the original, its reply,
    /// the reply to the reply) have one root, and a message with only an
    /// In-Reply-To, or none of the fields, falls back as documented.
    #[test]
    fn thread_root_of_rfc5322_appendix_a_2() {
        let root = |h: &str| thread_root(&Message::parse(format!("{h}\r\nHi\r\n").into_bytes()));
        let original = "From: John Doe <jdoe@machine.example>\r\n\
                        Message-ID: <1234@local.machine.example>\r\n";
        let reply = "From: Mary Smith <mary@example.net>\r\n\
                     Message-ID: <3456@example.net>\r\n\
                     In-Reply-To: <1234@local.machine.example>\r\n\
                     References: <1234@local.machine.example>\r\n";
        let reply2 = "Message-ID: <abcd.1234@local.machine.test>\r\n\
                      In-Reply-To: <3456@example.net>\r\n\
                      References: <1234@local.machine.example>\r\n <3456@example.net>\r\n";
        for h in [original, reply, reply2] {
            assert_eq!(
                root(h).as_deref(),
                Some("1234@local.machine.example"),
                "{h}"
            );
        }
        let only_parent = "Message-ID: <x@y>\r\nIn-Reply-To: <p@y> <q@y>\r\n";
        assert_eq!(root(only_parent).as_deref(), Some("p@y"));
        assert_eq!(root("Subject: none\r\n"), None);
    }

    fn encode(threads: &[Thread]) -> String {
        let r = crate::Response::Data(crate::Data::Thread(threads.to_vec()));
        String::from_utf8(crate::encode::response_to_vec(&r)).unwrap()
    }

    fn run(refs: bool, msgs: &[String]) -> String {
        let flags = Flags::default();
        let items = msgs.iter().enumerate().map(|(i, raw)| {
            let date = DateTime::new(Date::new(2000, 3, 5).unwrap(), 0, 0, 0, 0).unwrap();
            (
                MessageMeta {
                    seq: i as u32 + 1,
                    uid: i as u32 + 1,
                    flags: &flags,
                    recent: false,
                    internal_date: date,
                    size: raw.len() as u64,
                    modseq: 1,
                    save_date: None,
                    email_id: None,
                    thread_id: None,
                },
                LazyContent::new(move || Message::parse(raw.clone().into_bytes())),
            )
        });
        let t = if refs {
            references(false, items)
        } else {
            ordered_subject(false, items)
        };
        encode(&t)
    }

    /// A message: subject, minute of sending, Message-ID, References.
    fn msg(subject: &str, minute: u32, id: &str, refs: &str) -> String {
        let mut s =
            format!("Subject: {subject}\r\nDate: Sun, 5 Mar 2000 10:{minute:02}:00 +0000\r\n");
        if !id.is_empty() {
            s += &format!("Message-ID: <{id}>\r\n");
        }
        if !refs.is_empty() {
            s += &format!("References: {refs}\r\n");
        }
        s + "\r\nbody\r\n"
    }

    #[test]
    fn rfc5256_3_orderedsubject() {
        let m = vec![
            msg("a", 1, "", ""),
            msg("b", 2, "", ""),
            msg("Re: a", 5, "", ""),
            msg("c", 3, "", ""),
            msg("re: b", 4, "", ""),
            msg("A (fwd)", 6, "", ""),
            msg("Re: c", 0, "", ""),
        ];
        // Threads by the date of their first message: c (minute 0) first.
        assert_eq!(run(false, &m), "* THREAD (7 4)(1 (3)(6))(2 5)\r\n");
        assert_eq!(run(false, &[]), "* THREAD\r\n");
    }

    #[test]
    fn rfc5256_3_references_links() {
        let m = vec![
            msg("root", 1, "1@x", ""),
            msg("Re: root", 2, "2@x", "<1@x>"),
            msg("Re: root", 3, "3@x", "<1@x> <2@x>"),
            msg("Re: root", 4, "4@x", "<1@x>"),
            // A parent that is missing: a dummy, pruned since it has one child.
            msg("Re: lost", 5, "5@x", "<gone@x>"),
            // Quoting does not make a different id.
            msg("other", 6, "6@x", "<\"3\"@x>"),
        ];
        assert_eq!(run(true, &m), "* THREAD (1 (2 3 6)(4))(5)\r\n");
    }

    #[test]
    fn rfc5256_3_references_subjects_and_dummies() {
        let m = vec![
            // Two threads with the same base subject, neither a reply: a dummy parent.
            msg("topic", 1, "1@x", ""),
            msg("topic", 2, "2@x", ""),
            // A reply by subject only joins the non-reply.
            msg("Re: other", 4, "3@x", ""),
            msg("other", 3, "4@x", ""),
            // Two children of a missing parent stay under a dummy at the top.
            msg("Re: gone", 5, "5@x", "<g@x>"),
            msg("Re: gone", 6, "6@x", "<g@x>"),
            // Loops are not created: 7 names 8 its parent, so 8 cannot become 7's child.
            msg("loop", 7, "7@x", "<8@x>"),
            msg("loop", 8, "8@x", "<7@x>"),
            // A duplicate Message-ID is a message of its own.
            msg("dup", 9, "1@x", ""),
        ];
        assert_eq!(run(true, &m), "* THREAD ((1)(2))(4 3)((5)(6))(8 7)(9)\r\n");
    }

    #[test]
    fn deep_chains_and_nesting_are_bounded() {
        // A linear chain of replies: one thread, no recursion on its depth.
        let n = 10_000;
        let chain: Vec<String> = (0..n)
            .map(|i| {
                let refs = if i == 0 {
                    String::new()
                } else {
                    format!("<{}@x>", i - 1)
                };
                msg("c", 0, &format!("{i}@x"), &refs)
            })
            .collect();
        let out = run(true, &chain);
        assert_eq!(out.matches(' ').count(), n + 1);
        assert!(out.starts_with("* THREAD (1 2 3 "));
        // Every level branches: 100 levels of nesting, given flat past MAX_NESTING.
        let comb: Vec<String> = (0..201)
            .map(|i| {
                let refs = if i == 0 {
                    String::new()
                } else {
                    format!("<{}@x>", (i - 1) / 2 * 2)
                };
                msg("c", 0, &format!("{i}@x"), &refs)
            })
            .collect();
        let out = run(true, &comb);
        let (resp, _) = crate::parse::response(out.as_bytes()).unwrap();
        let crate::Response::Data(crate::Data::Thread(t)) = resp else {
            panic!()
        };
        let mut seen = Vec::new();
        let mut stack = t;
        while let Some(t) = stack.pop() {
            seen.extend(t.chain);
            stack.extend(t.children);
        }
        seen.sort_unstable();
        assert_eq!(seen, (1..=201).collect::<Vec<u32>>());
    }
}
