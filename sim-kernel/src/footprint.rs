//! Access footprints for partial-order reduction.
//!
//! Every piece of kernel state two actors can both touch is named by a
//! stable key and reported here when touched: [`access`] with `write` true
//! for a change, false for a look. The explorer treats two steps as
//! dependent (their order can matter) when they touch a common key and at
//! least one writes it. Keys are object ids from [`crate::objtrack`]
//! (deterministic for a given schedule prefix), so footprints recorded in
//! one execution can be compared with another that shares its prefix.
//!
//! Instrumented: fd tables (lookups read, changes write), files (reference
//! counts, flags, position), every object's liveness (checks read, release
//! writes), eventfd contexts (under `wqh.lock`), per-process limits and
//! signal counts, address spaces (the VMA tree, each page table entry)
//! and userfaultfd contexts. Missing a key makes the reduction unsound, so the
//! explorer's tests compare reduced and naive searches on every shipped
//! scenario.

/// Key of a process's fd table.
pub fn files_key(pid: u64) -> u64 {
    (1 << 62) | pid
}

/// Key of a process's limits and signal counts.
pub fn proc_key(pid: u64) -> u64 {
    (1 << 61) | pid
}

/// Key of one page table entry: the mm's object id and the page number.
/// (A VMA tree is keyed by its mm's object id.)
pub fn pte_key(mm_id: u64, page_addr: u64) -> u64 {
    (1 << 60) | ((mm_id & 0xff_ffff) << 36) | ((page_addr >> 12) & ((1 << 36) - 1))
}

/// Key of uverbs' `ib_uverbs_idr_lock` and the handle tables it protects
/// (`drivers/infiniband/core/uverbs_cmd.c`): one per kernel.
pub fn uverbs_idr_key() -> u64 {
    (1 << 59) | 1
}

/// Key of uverbs device `devnum`'s reference count and removal state
/// (`struct ib_uverbs_device`'s `ref` and `comp`).
pub fn uverbs_dev_key(devnum: u32) -> u64 {
    (1 << 59) | 0x100 | devnum as u64
}

/// Key of an object's sleeping lock that guards no state of its own in the
/// simulator (a pipe's `pipe->mutex`: the ring is under `rd_wait.lock`,
/// keyed by the object): its acquisitions are ordered against each other,
/// and not against every look at the object.
pub fn mutex_key(obj_id: u64) -> u64 {
    MUTEX_TAG | obj_id
}

/// The tag of [`mutex_key`]'s keys: their low bits are an object id.
pub const MUTEX_TAG: u64 = 1 << 58;

/// Record that the current step touches `key`.
#[inline(always)]
pub fn access(key: u64, write: bool) {
    #[cfg(not(loom))]
    crate::sched::exec::access(key, write);
    #[cfg(loom)]
    let _ = (key, write);
}
