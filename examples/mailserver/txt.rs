//! DNS TXT records as DKIM (RFC 6376 §3.6.1) and DMARC (RFC 7489 §6.4)
//! read them: the lookup both make, and the tag list both are written in
//! (RFC 6376 §3.2). A module of its own, without the rest of either
//! check, so that the DMARC fuzz target can include it.

/// The TXT records of a name (none when it has none or does not exist),
/// or why the lookup failed for now.
pub(crate) type Lookup<'a> = dyn Fn(&str) -> Result<Vec<String>, String> + 'a;

/// A tag list (RFC 6376 §3.2): the tags in order, values with the folding
/// white space at both ends removed; `None` when it does not parse or a
/// tag repeats.
pub(crate) fn tag_list(text: &str) -> Option<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for spec in text.split(';') {
        let spec = spec.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r' || c == '\n');
        if spec.is_empty() {
            // After a final ";" (allowed); elsewhere skipped as leniently.
            continue;
        }
        let (name, value) = spec.split_once('=')?;
        let name = name.trim_end_matches([' ', '\t', '\r', '\n']);
        let mut chars = name.chars();
        if !chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return None;
        }
        let value = value.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r' || c == '\n');
        // VALCHAR is %x21-3A / %x3C-7E, with folding white space between.
        if value.bytes().any(|b| {
            !(b == b' ' || b == b'\t' || b == b'\r' || b == b'\n' || (0x21..=0x7e).contains(&b))
        }) {
            return None;
        }
        if out.iter().any(|(n, _)| n == name) {
            return None;
        }
        out.push((name.to_string(), value.to_string()));
    }
    Some(out)
}

/// The value of tag `name` of `tags`.
pub(crate) fn tag<'t>(tags: &'t [(String, String)], name: &str) -> Option<&'t str> {
    tags.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_lists() {
        let t = tag_list(" v=1; a=rsa-sha256;\r\n\td=example.net; b=ab\r\n cd ;").unwrap();
        assert_eq!(tag(&t, "v"), Some("1"));
        assert_eq!(tag(&t, "d"), Some("example.net"));
        assert_eq!(tag(&t, "b"), Some("ab\r\n cd"));
        assert!(tag_list("v=1; v=1").is_none(), "a tag twice");
        assert!(tag_list("v=1; =x").is_none(), "no name");
        assert!(tag_list("1v=1").is_none(), "a name starts with a letter");
        assert!(tag_list("v=1; d").is_none(), "no =");
        assert!(tag_list("v=1; n=caf\u{e9}").is_none(), "not VALCHAR");
    }
}
