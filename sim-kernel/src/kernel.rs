//! The kernel instance: what is global in Linux (the object table standing
//! in for the slab allocator's view, the enabled historical bugs, the
//! machine's features ([`Machine`]), inode numbers). One per execution; processes, tasks and objects hold an `Arc`
//! to it.

use crate::bugs::{Bug, BugSet};
use crate::machine::Machine;
use crate::objtrack::ObjTable;
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::Arc;

pub struct Kernel {
    pub objs: ObjTable,
    pub bugs: BugSet,
    /// The CPU features and privileges that change results.
    pub machine: Machine,
    /// The InfiniBand devices and uverbs' global handle tables.
    pub uverbs: crate::uverbs::UverbsGlobal,
    /// Character devices and their `/dev` nodes (`fs/char_dev.c`).
    pub chrdevs: crate::vfs::char_dev::CharDevs,
    /// CUSE's connection table (`fs/fuse/cuse.c` `cuse_conntbl`).
    pub cuse: crate::fuse::cuse::CuseGlobal,
    next_ino: AtomicU64,
    next_pid: AtomicU64,
}

thread_local! {
    /// A kernel given back by [`Kernel::recycle`], for the next
    /// [`Kernel::new`] on this thread (the explorer builds one per
    /// execution, thousands a second).
    static SPARE: std::cell::Cell<Option<Arc<Kernel>>> = const { std::cell::Cell::new(None) };
}

impl Kernel {
    /// A kernel on the default machine ([`Machine::DEFAULT`]).
    pub fn new(bugs: BugSet) -> Arc<Kernel> {
        Kernel::on(bugs, Machine::DEFAULT)
    }

    /// A kernel on `machine`.
    pub fn on(bugs: BugSet, machine: Machine) -> Arc<Kernel> {
        if let Some(mut k) = SPARE.take() {
            if let Some(m) = Arc::get_mut(&mut k) {
                m.bugs = bugs;
                m.machine = machine;
                m.uverbs = crate::uverbs::UverbsGlobal::new();
                m.chrdevs = crate::vfs::char_dev::CharDevs::new();
                m.cuse = crate::fuse::cuse::CuseGlobal::default();
                m.next_ino.store(ANON_INODE_INO + 1, Ordering::Relaxed);
                m.next_pid.store(1, Ordering::Relaxed);
                k.register_devices();
                return k;
            }
        }
        let k = Arc::new(Kernel {
            objs: ObjTable::new(),
            bugs,
            machine,
            uverbs: crate::uverbs::UverbsGlobal::new(),
            chrdevs: crate::vfs::char_dev::CharDevs::new(),
            cuse: crate::fuse::cuse::CuseGlobal::default(),
            // Inode 1 is the shared anon inode (fs/anon_inodes.c); others
            // count up from there.
            next_ino: AtomicU64::new(ANON_INODE_INO + 1),
            next_pid: AtomicU64::new(1),
        });
        k.register_devices();
        k
    }

    /// The drivers' init calls: their character devices and nodes.
    fn register_devices(&self) {
        crate::uverbs::uverbs_main::ib_uverbs_add_nodes(self);
        crate::fuse::cuse::cuse_init(self);
    }

    /// Done with `k`: if nothing else holds it, empty its object table
    /// (keeping the memory) for the next [`Kernel::new`] on this thread; a
    /// kernel something still holds is simply dropped.
    pub fn recycle(mut k: Arc<Kernel>) {
        if let Some(m) = Arc::get_mut(&mut k) {
            m.objs.clear();
            SPARE.set(Some(k));
        }
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
