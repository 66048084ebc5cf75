//! Shared helpers for the benchmarks (fixtures and ratio reporting).

pub mod fixtures;
