//! mailwire-line (being written).
