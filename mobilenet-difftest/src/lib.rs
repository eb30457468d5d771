//! The differential test lives in `tests/random_nets.rs`; build.rs generates its networks.
