//! FUSE and CUSE (`fs/fuse/`): [`abi`] (`include/uapi/linux/fuse.h`),
//! [`dev`] (the request channel, `fs/fuse/dev.c`) and [`cuse`]
//! (`fs/fuse/cuse.c`: character devices served by a daemon).
//!
//! Lock order: `cuse_lock`, then the character-device namespace's lock;
//! a connection's lock is a leaf and is never held across either.

pub mod abi;
pub mod cuse;
pub mod dev;
