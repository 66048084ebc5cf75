//! mailwire-sasl (being written).
