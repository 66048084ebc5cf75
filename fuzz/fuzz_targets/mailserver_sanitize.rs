#![no_main]
//! The webmail's HTML sanitizer (`examples/mailserver/webmail/sanitize.rs`):
//! whatever HTML a message carries, what `sanitize` keeps holds nothing
//! its module doc rules out, as a browser's tokenizer reads it
//! (html5ever's, the parser behind ammonia, run on the output): only the
//! allowed elements and attributes, no comment or doctype, links and
//! images only to the schemes and part URLs the policy allows, and style
//! declarations only of the allowed properties with no URL, escape,
//! comment or function other than a colour's. `html_to_text` and
//! `flatten_deep` (our own scans) never panic, and `flatten_deep` only
//! takes bytes out.
//!
//! The first byte of the input chooses the policy (remote images shown or
//! not); the rest, read as UTF-8 with replacement, is the HTML.
use std::collections::HashMap;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../examples/mailserver/webmail/sanitize.rs"]
mod sanitize;

use sanitize::{CidTarget, Policy, STYLE_PROPERTIES, flatten_deep, html_to_text};

/// ammonia's default elements and the ones the webmail adds.
const ELEMENTS: &[&str] = &[
    "a",
    "abbr",
    "acronym",
    "area",
    "article",
    "aside",
    "b",
    "bdi",
    "bdo",
    "blockquote",
    "br",
    "caption",
    "center",
    "cite",
    "code",
    "col",
    "colgroup",
    "data",
    "dd",
    "del",
    "details",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "map",
    "mark",
    "nav",
    "ol",
    "p",
    "pre",
    "q",
    "rp",
    "rt",
    "rtc",
    "ruby",
    "s",
    "samp",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "time",
    "tr",
    "tt",
    "u",
    "ul",
    "var",
    "wbr",
    "font",
    "big",
    "tfoot",
    "section",
    "address",
    "main",
];

/// Attributes any element may keep.
const GENERIC: &[&str] = &[
    "lang", "title", "dir", "style", "align", "valign", "bgcolor", "width", "height",
];

/// The attributes `element` may keep besides [`GENERIC`] (ammonia's
/// defaults and the webmail's additions).
fn element_attributes(element: &str) -> &'static [&'static str] {
    match element {
        "a" => &["href", "hreflang", "target", "rel"],
        "bdo" => &["dir"],
        "blockquote" | "q" => &["cite"],
        "del" | "ins" => &["cite", "datetime"],
        "col" | "colgroup" => &["char", "charoff", "span"],
        "hr" => &["size"],
        "img" => &["alt", "src", "border", "hspace", "vspace"],
        "ol" => &["start"],
        "table" => &[
            "char",
            "charoff",
            "summary",
            "border",
            "cellpadding",
            "cellspacing",
        ],
        "tbody" | "tfoot" | "thead" | "tr" => &["char", "charoff"],
        "td" => &["char", "charoff", "colspan", "headers", "rowspan", "nowrap"],
        "th" => &[
            "char", "charoff", "colspan", "headers", "rowspan", "scope", "nowrap",
        ],
        "font" => &["color", "face", "size"],
        _ => &[],
    }
}

/// The part URLs of the policy: the only relative URLs kept.
const IMAGE_PART: &str = "/part/7/1.2";
const DOC_PART: &str = "/part/7/2";

fn policy(show_remote_images: bool) -> Policy {
    let mut cids = HashMap::new();
    cids.insert(
        "logo@example.test".to_owned(),
        CidTarget {
            url: IMAGE_PART.to_owned(),
            image: true,
        },
    );
    cids.insert(
        "doc@example.test".to_owned(),
        CidTarget {
            url: DOC_PART.to_owned(),
            image: false,
        },
    );
    Policy {
        show_remote_images,
        cids,
    }
}

/// Whether `url` starts with one of `schemes` (each with its colon), in
/// any case, as a browser's URL parser reads it: tabs and line ends taken
/// out wherever they are, then leading C0 controls and spaces (the WHATWG
/// URL Standard's basic URL parser), so `java\nscript:` is `javascript:`.
fn has_scheme(url: &str, schemes: &[&str]) -> bool {
    let url: String = url
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let url = url.trim_start_matches(|c: char| c <= ' ');
    schemes.iter().any(|s| {
        url.get(..s.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(s))
    })
}

/// The declarations of a style attribute, split at semicolons outside
/// quotes.
fn declarations(style: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quote) = (0, None);
    for (i, c) in style.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, ';') => {
                out.push(&style[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&style[start..]);
    out
}

/// `css` with its escapes (CSS Syntax §4.3.7: a backslash and one to six
/// hex digits, with one white space after them, or a backslash and any
/// other character) replaced by what they stand for, as a browser reads
/// them: ammonia writes its CSS back with escapes where a token needs one
/// (`10\65 m`, the unit `em` after a number, not an exponent).
fn unescape_css(css: &str) -> String {
    let mut out = String::with_capacity(css.len());
    let mut chars = css.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let mut hex = String::new();
        while hex.len() < 6
            && let Some(&h) = chars.peek()
            && h.is_ascii_hexdigit()
        {
            hex.push(h);
            chars.next();
        }
        if hex.is_empty() {
            out.extend(chars.next());
            continue;
        }
        if chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            chars.next();
        }
        let code = u32::from_str_radix(&hex, 16).unwrap_or(0xfffd);
        out.push(
            char::from_u32(code)
                .filter(|&c| c != '\0')
                .unwrap_or('\u{fffd}'),
        );
    }
    out
}

/// A kept style declaration's value, read as a browser reads it: no
/// comment, at-rule, markup or function other than a colour's.
fn check_style_value(raw: &str) {
    let value = unescape_css(raw).to_ascii_lowercase();
    for bad in ["/*", "@", "<", ">", "{", "}"] {
        assert!(!value.contains(bad), "style value {raw:?} holds {bad:?}");
    }
    for (i, _) in value.match_indices('(') {
        let name_start = value[..i]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_' || c == '\\'))
            .map_or(0, |p| p + 1);
        let name = &value[name_start..i];
        assert!(
            matches!(name, "rgb" | "rgba" | "hsl" | "hsla"),
            "style value {raw:?} calls {name:?}"
        );
    }
}

/// One start tag of the sanitized HTML, checked.
fn check_tag(tag: &Tag, show_remote_images: bool) {
    let element = &*tag.name;
    assert!(ELEMENTS.contains(&element), "element {element:?} kept");
    for attr in &tag.attrs {
        let name = &*attr.name.local;
        let value: &str = &attr.value;
        assert!(
            attr.name.prefix.is_none() && attr.name.ns.is_empty(),
            "namespaced attribute {name:?} kept"
        );
        assert!(
            GENERIC.contains(&name) || element_attributes(element).contains(&name),
            "attribute {name:?} kept on {element:?}"
        );
        match (element, name) {
            ("a", "href") => assert!(
                value == IMAGE_PART
                    || value == DOC_PART
                    || has_scheme(value, &["http:", "https:", "mailto:"]),
                "link to {value:?} kept"
            ),
            ("img", "src") => {
                let remote = ["http:", "https:"];
                let data_image =
                    has_scheme(value, &["data:image/"]) && !has_scheme(value, &["data:image/svg"]);
                assert!(
                    value == IMAGE_PART
                        || data_image
                        || (show_remote_images && has_scheme(value, &remote)),
                    "image from {value:?} kept (remote images shown: {show_remote_images})"
                );
            }
            ("a", "target") => assert_eq!(value, "_blank"),
            ("a", "rel") => assert_eq!(value, "noopener noreferrer"),
            (_, "style") => {
                for decl in declarations(value) {
                    if decl.trim().is_empty() {
                        continue;
                    }
                    let (prop, v) = decl
                        .split_once(':')
                        .unwrap_or_else(|| panic!("style declaration {decl:?} without a colon"));
                    let prop = unescape_css(prop).trim().to_ascii_lowercase();
                    assert!(
                        STYLE_PROPERTIES.contains(&prop.as_str()),
                        "style property {prop:?} kept"
                    );
                    check_style_value(v);
                }
            }
            _ => {}
        }
    }
}

/// Checks each token of the sanitized HTML as it is read.
struct Checker {
    show_remote_images: bool,
}

impl TokenSink for Checker {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        match token {
            Token::TagToken(tag) if tag.kind == TagKind::StartTag => {
                check_tag(&tag, self.show_remote_images);
            }
            Token::CommentToken(c) => panic!("comment {c:?} kept"),
            Token::DoctypeToken(d) => panic!("doctype {d:?} kept"),
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let html = String::from_utf8_lossy(rest);
    let flat = flatten_deep(&html);
    assert!(flat.len() <= html.len(), "flatten_deep added bytes");
    let _ = html_to_text(&html);

    let show_remote_images = flags & 1 == 1;
    let out = sanitize::sanitize(&html, policy(show_remote_images));
    if !show_remote_images {
        // Nothing remote to count when they are shown; when they are not,
        // the count is of removed images only.
        assert!(out.blocked_remote_images <= html.matches(':').count());
    }
    let checker = Checker { show_remote_images };
    let tokenizer = Tokenizer::new(checker, TokenizerOpts::default());
    let queue = BufferQueue::default();
    queue.push_back(StrTendril::from_slice(&out.html));
    let _ = tokenizer.feed(&queue);
    tokenizer.end();
});
