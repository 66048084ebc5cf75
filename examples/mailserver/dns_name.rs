//! Domain names as the configuration and the DKIM keys name them: a module
//! of its own so that the DKIM fuzz target can include it without the rest
//! of the configuration.

/// Whether `d` is a domain name: dot-separated labels of letters, digits
/// and `-`, each 1 to 63 long, 255 in all.
pub(crate) fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 255
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}
