//! The kernel instance: what is global in Linux (the object table standing
//! in for the slab allocator's view, the enabled historical bugs, inode
//! numbers). One per execution; processes, tasks and objects hold an `Arc`
//! to it.

use crate::bugs::{Bug, BugSet};
use crate::objtrack::ObjTable;
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::Arc;

pub struct Kernel {
    pub objs: ObjTable,
    pub bugs: BugSet,
    next_ino: AtomicU64,
    next_pid: AtomicU64,
}

impl Kernel {
    pub fn new(bugs: BugSet) -> Arc<Kernel> {
        Arc::new(Kernel {
            objs: ObjTable::new(),
            bugs,
            // Inode 1 is the shared anon inode (fs/anon_inodes.c); others
            // count up from there.
            next_ino: AtomicU64::new(ANON_INODE_INO + 1),
            next_pid: AtomicU64::new(1),
        })
    }

    #[inline]
    pub fn bug(&self, b: Bug) -> bool {
        self.bugs.has(b)
    }

    /// A fresh inode number (`get_next_ino()`).
    pub fn next_ino(&self) -> u64 {
        self.next_ino.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn next_pid(&self) -> u64 {
        self.next_pid.fetch_add(1, Ordering::Relaxed)
    }
}

/// The inode number every `anon_inode_getfile` file shares.
pub const ANON_INODE_INO: u64 = 1;
