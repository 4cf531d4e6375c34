//! The simulated hardware.
