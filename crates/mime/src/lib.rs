//! mailwire-mime (being written).
