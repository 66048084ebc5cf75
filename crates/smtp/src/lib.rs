//! mailwire-smtp (being written).
