//! The perftest-like drivers live in the crate (`sim_hw::perftest`), so
//! that the bench shares them; the tests reach them through this module.
#![allow(unused_imports)]

pub use sim_hw::perftest::*;
