//! Nothing here: the package holds benches only (see Cargo.toml).
