//! mailwire-imap (being written).
