//! mailwire-message (being written).
