//! The worked example of the book's chapter "Modelling your own kernel
//! code" (`book/src/modelling-kernel-code.md`): objects that exist to show
//! a kernel developer how to add their own code to ksim, not models of a
//! Linux file. Each is built the way the Linux models are (a reference
//! count, a lock, a wait queue, file operations, a kernel-internal API), so
//! that what the chapter teaches carries over; nothing here claims to be
//! what Linux does.
//!
//! - [`mailbox`]: a one-slot mailbox file that kernel code posts to and
//!   user space reads, with the tutorial toggle
//!   `tutorial_mailbox_lost_wakeup` ([`crate::bugs`]).

pub mod mailbox;
