//! The general notification queue (`kernel/watch_queue.c`,
//! `include/linux/watch_queue.h`, `include/uapi/linux/watch_queue.h`,
//! `Documentation/core-api/watch_queue.rst`): notifications "spliced" into a
//! pipe opened with `O_NOTIFICATION_PIPE` and read out with read(2).
//!
//! Key types: [`WatchQueue`] (`struct watch_queue`: the pipe it feeds, the
//! preallocated note slots and their bitmap, the filter, the watches that
//! feed it), [`Watch`] (`struct watch`: one source -> queue subscription,
//! with the subscriber's 8-bit ID), and [`WatchSource`], a watchable kernel
//! object with its `struct watch_list`. Linux's own sources (keys, mounts)
//! are beyond ksim; a scenario makes a source with the kernel-internal
//! `watch_source()` and posts with `post_notification`, and subscribes with
//! `watch_add`/`watch_remove`, which follow `keyctl_watch_key`.
//!
//! A note is at most 127 bytes and occupies one 128-byte slot of a note page
//! (32 per page) and one pipe-ring slot, flagged `PIPE_BUF_FLAG_WHOLE` so a
//! read never splits it. `IOC_WATCH_QUEUE_SET_SIZE` (once) allocates
//! `ceil(n / 32)` pages and resizes the ring to the next power of two of the
//! slot count; until then every post is lost. A post that finds no free
//! slot (or a full ring) is lost and marks the last queued slot
//! `PIPE_BUF_FLAG_LOSS`; the read that consumes that slot makes the next read
//! pass begin with an 8-byte META/LOSS note.
//!
//! Lifetimes: the queue is reference counted (the pipe holds one reference,
//! every watch one). A watch is held by its source's list and by its queue's
//! list, and is freed when both have let go. When the pipe's last file goes,
//! `watch_queue_clear` detaches the pipe (`wqueue->pipe = NULL` under
//! `wqueue->lock`, so that no post can reach a freed pipe) and drops every
//! watch.
//!
//! Lock order: `WatchQueue::lock` (`wqueue->lock`) -> `WatchSource::lock`
//! (`wlist->lock`) in `add_watch_to_object`; `wlist->lock` is dropped before
//! `wqueue->lock` is taken in `remove_watch_from_object`, and
//! `watch_queue_clear` drops `wqueue->lock` before taking `wlist->lock`.
//! `wqueue->lock` -> the pipe's `rd_wait.lock` -> `notes` when posting.
//! `filter` is a leaf (RCU in Linux).
//!
//! Race windows named as yield points: `watch_queue:post:pipe_lookup` (a post
//! holds the queue with the pipe looked up, before it takes the ring lock;
//! with the bug `watch_queue_post_vs_clear` it does so without the queue
//! lock), `watch_queue:set_size:after_resize` (the ring is resized, the note
//! slots not yet allocated: a post there is lost),
//! `watch_queue:clear:unlocked` (teardown between two watches),
//! `watch_queue:watch:after_get_queue` (a `watch_add`/`watch_remove` holds
//! the object and the queue but no longer the pipe's file).

use crate::abi::{POLLIN, POLLRDNORM, WATCH_TYPE_META, WATCH_TYPE__NR};
use crate::abi::{WATCH_INFO_LENGTH, WATCH_INFO_TYPE_INFO, WATCH_META_REMOVAL_NOTIFICATION};
use crate::bugs::Bug;
use crate::errno::{Errno, KResult};
use crate::kernel::Kernel;
use crate::objtrack::ObjHeader;
use crate::pipe::{get_pipe_info, PipeBuffer, PipeInodeInfo, PIPE_BUF_FLAG_LOSS, PIPE_BUF_FLAG_WHOLE};
use crate::sched;
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{Arc, Mutex, MutexGuard};
use crate::task::Task;
use crate::vfs::file::IoctlArg;

/// `WATCH_QUEUE_NOTE_SIZE`: bytes per note slot.
pub const WATCH_QUEUE_NOTE_SIZE: u32 = 128;
/// `WATCH_QUEUE_NOTES_PER_PAGE`.
pub const WATCH_QUEUE_NOTES_PER_PAGE: u32 = 4096 / WATCH_QUEUE_NOTE_SIZE;
/// `watch_queue_set_size`'s hard limit on the requested notes.
pub const WATCH_QUEUE_MAX_NOTES: u32 = 512;
/// `watch_queue_set_filter`: at most 16 filters.
pub const WATCH_QUEUE_MAX_FILTERS: u64 = 16;
/// Largest note: the length field is 7 bits.
pub const WATCH_NOTE_MAX_LEN: usize = WATCH_INFO_LENGTH as usize;

/// The part of `struct watch_queue` under `wqueue->lock`.
struct WqLocked {
    /// `wqueue->pipe`: NULL once `watch_queue_clear` ran.
    pipe: Option<Arc<PipeInodeInfo>>,
    /// `wqueue->defunct` (the pre-2022 teardown flag, kept for the bug).
    defunct: bool,
    /// `wqueue->watches`, newest first (`hlist_add_head`).
    watches: Vec<Arc<Watch>>,
}

/// `wqueue->notes`, `notes_bitmap`, `nr_notes`, `nr_pages`.
struct NoteSlots {
    /// Set once by `IOC_WATCH_QUEUE_SET_SIZE` (`wqueue->notes != NULL`).
    pages: Option<ObjHeader>,
    nr_pages: u32,
    nr_notes: u32,
    /// A set bit is a free slot.
    free: Vec<bool>,
}

/// One filter entry (`struct watch_type_filter`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct WatchTypeFilter {
    ty: u32,
    /// Only `subtype_filter[0]` is kept: subtypes 0..31.
    subtype_filter: u32,
    info_filter: u32,
    info_mask: u32,
}

/// `struct watch_filter`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct WatchFilter {
    /// `type_filter`: a bit per known type (`WATCH_TYPE__NR` bits).
    type_filter: u64,
    filters: Vec<WatchTypeFilter>,
}

/// `struct watch_queue`.
pub struct WatchQueue {
    pub hdr: ObjHeader,
    kernel: Arc<Kernel>,
    /// `wqueue->usage`.
    kref: AtomicUsize,
    lock: Mutex<WqLocked>,
    notes: Mutex<NoteSlots>,
    filter: Mutex<Option<Arc<WatchFilter>>>,
}

/// `struct watch`.
pub struct Watch {
    pub hdr: ObjHeader,
    kernel: Arc<Kernel>,
    /// `watch->usage`.
    kref: AtomicUsize,
    /// `watch->id`: the watched object's id, matched by posts.
    id: u64,
    /// `watch->info_id`: the subscriber's ID, shifted into the info word.
    info_id: u32,
    /// `watch->queue`.
    queue: Arc<WatchQueue>,
    /// `watch->watch_list`: the source while the watch is on its list.
    wlist: Mutex<Option<Arc<WatchSource>>>,
}

/// A watchable kernel object and its `struct watch_list`.
pub struct WatchSource {
    pub hdr: ObjHeader,
    kernel: Arc<Kernel>,
    /// The object's id (what a key's serial is to a key watch): non-zero.
    pub id: u64,
    /// `wlist->watchers`, newest first, under `wlist->lock`.
    lock: Mutex<Vec<Arc<Watch>>>,
}

impl WatchQueue {
    fn lock(&self) -> MutexGuard<'_, WqLocked> {
        crate::footprint::access(self.hdr.id(), true);
        self.lock.lock()
    }

    fn notes(&self) -> MutexGuard<'_, NoteSlots> {
        crate::footprint::access(self.hdr.id(), true);
        self.notes.lock()
    }

    /// `watch_queue_pipe_buf_release`: give a note slot back.
    pub(crate) fn free_note(&self, n: u32) {
        let mut notes = self.notes();
        if let Some(b) = notes.free.get_mut(n as usize) {
            if *b {
                drop(notes);
                self.kernel.objs.warn("watch_queue: note slot freed twice");
                return;
            }
            *b = true;
        }
    }

    /// Note slots (after SET_SIZE) and how many are free, for tests.
    pub fn note_slots(&self) -> (u32, u32) {
        let notes = self.notes.lock();
        (notes.nr_notes, notes.free.iter().filter(|b| **b).count() as u32)
    }

    /// `lock_wqueue`: the queue's lock, if the pipe is still attached.
    fn lock_wqueue(&self) -> Option<(MutexGuard<'_, WqLocked>, Arc<PipeInodeInfo>)> {
        let g = self.lock();
        if g.defunct {
            return None;
        }
        let pipe = g.pipe.clone()?;
        Some((g, pipe))
    }
}

/// `watch_queue_init`: a queue with no note slots and one reference (the
/// pipe's). The pipe is attached by [`watch_queue_attach`].
pub(crate) fn watch_queue_alloc(k: &Arc<Kernel>) -> Arc<WatchQueue> {
    Arc::new(WatchQueue {
        hdr: k.objs.register("watch_queue"),
        kernel: k.clone(),
        kref: AtomicUsize::new(1),
        lock: Mutex::new(WqLocked { pipe: None, defunct: false, watches: Vec::new() }),
        notes: Mutex::new(NoteSlots { pages: None, nr_pages: 0, nr_notes: 0, free: Vec::new() }),
        filter: Mutex::new(None),
    })
}

/// `wqueue->pipe = pipe`.
pub(crate) fn watch_queue_attach(wq: &WatchQueue, pipe: &Arc<PipeInodeInfo>) {
    wq.lock().pipe = Some(pipe.clone());
}

/// `put_watch_queue`: the last reference frees the note pages and the
/// filter.
pub(crate) fn put_watch_queue(wq: &Arc<WatchQueue>) {
    crate::sched::fine_point("atomic");
    crate::footprint::access(wq.hdr.id(), true);
    if wq.kref.fetch_sub(1, Ordering::AcqRel) == 1 {
        if let Some(pages) = wq.notes().pages.take() {
            wq.kernel.objs.release(&pages);
        }
        *wq.filter.lock() = None;
        // Break the Rust reference cycle pipe <-> queue (the bug keeps a
        // dangling pipe pointer until here).
        wq.lock().pipe = None;
        wq.kernel.objs.release(&wq.hdr);
    }
}

/// `put_watch`: the last reference frees the watch and drops its queue
/// reference (`free_watch`).
fn put_watch(w: &Arc<Watch>) {
    crate::sched::fine_point("atomic");
    crate::footprint::access(w.hdr.id(), true);
    if w.kref.fetch_sub(1, Ordering::AcqRel) == 1 {
        w.kernel.objs.release(&w.hdr);
        put_watch_queue(&w.queue);
    }
}

/// `watch_queue_set_size` (IOC_WATCH_QUEUE_SET_SIZE, under the pipe mutex):
/// ENODEV on a plain pipe, EBUSY the second time, EINVAL outside 1..512;
/// whole pages of 32 notes; the ring becomes the next power of two of the
/// slot count.
pub(crate) fn watch_queue_set_size(pipe: &PipeInodeInfo, nr_notes: u32) -> KResult<()> {
    let wq = pipe.watch_queue.as_ref().ok_or(Errno::ENODEV)?;
    if wq.notes().pages.is_some() {
        return Err(Errno::EBUSY);
    }
    if !(1..=WATCH_QUEUE_MAX_NOTES).contains(&nr_notes) {
        return Err(Errno::EINVAL);
    }
    let nr_pages = nr_notes.div_ceil(WATCH_QUEUE_NOTES_PER_PAGE);
    let nr_notes = nr_pages * WATCH_QUEUE_NOTES_PER_PAGE;
    pipe.resize_ring(nr_notes.next_power_of_two())?;
    // The ring is resized but no slot is allocated: a post here is lost.
    sched::yield_point("watch_queue:set_size:after_resize");
    let mut notes = wq.notes();
    notes.pages = Some(wq.kernel.objs.register("watch_queue_notes"));
    notes.nr_pages = nr_pages;
    notes.nr_notes = nr_notes;
    notes.free = vec![true; nr_notes as usize];
    Ok(())
}

/// `watch_queue_set_filter` (IOC_WATCH_QUEUE_SET_FILTER). The argument is
/// NULL (`int == Some(0)`: remove the filter) or a `struct
/// watch_notification_filter` as named fields: `nr_filters`, `__reserved`,
/// and per filter `filters[I].type`, `.info_filter`, `.info_mask`,
/// `.subtype_filter[J]`. 0 or more than 16 filters, a non-zero reserved
/// word, `info_filter & ~info_mask`, or a mask on the length bits: EINVAL.
/// Filters for types >= WATCH_TYPE__NR are ignored (the CVE-2022-0995 fix;
/// the bug `watch_queue_filter_oob` restores the old bounds).
pub(crate) fn watch_queue_set_filter(pipe: &PipeInodeInfo, arg: &IoctlArg) -> KResult<()> {
    let wq = pipe.watch_queue.as_ref().ok_or(Errno::ENODEV)?;
    let new =
        if arg.int == Some(0) && arg.fields.is_empty() { None } else { Some(Arc::new(build_filter(&wq.kernel, arg)?)) };
    // `mutex_lock(&pipe->mutex)`, recorded as `pipe_read`'s is (it holds
    // it across a yield point): a set_filter that finds it taken must race
    // the reader.
    let _m = pipe.lock();
    crate::footprint::access(wq.hdr.id(), true);
    *wq.filter.lock() = new;
    Ok(())
}

fn field(arg: &IoctlArg, name: &str) -> u64 {
    arg.fields.iter().find(|(n, _)| n == name).map_or(0, |(_, v)| *v)
}

fn build_filter(k: &Kernel, arg: &IoctlArg) -> KResult<WatchFilter> {
    let nr_filters = field(arg, "nr_filters") as u32 as u64;
    let reserved = field(arg, "__reserved") as u32;
    if nr_filters == 0 || nr_filters > WATCH_QUEUE_MAX_FILTERS || reserved != 0 {
        return Err(Errno::EINVAL);
    }
    let tf: Vec<WatchTypeFilter> = (0..nr_filters)
        .map(|i| WatchTypeFilter {
            ty: field(arg, &format!("filters[{i}].type")) as u32,
            subtype_filter: field(arg, &format!("filters[{i}].subtype_filter[0]")) as u32,
            info_filter: field(arg, &format!("filters[{i}].info_filter")) as u32,
            info_mask: field(arg, &format!("filters[{i}].info_mask")) as u32,
        })
        .collect();
    // Pre-fix (CVE-2022-0995) the counting loop used `sizeof(type_filter) *
    // 8` (64) and the copying loop `sizeof(type_filter) * BITS_PER_LONG`
    // (512): a type in 64..511 is copied past the allocation.
    let bug = k.bug(Bug::WatchQueueFilterOob);
    let (count_limit, copy_limit) = if bug { (64, 512) } else { (WATCH_TYPE__NR, WATCH_TYPE__NR) };
    let mut nr_filter = 0;
    for f in &tf {
        if f.info_filter & !f.info_mask != 0 || f.info_mask & WATCH_INFO_LENGTH != 0 {
            return Err(Errno::EINVAL);
        }
        if f.ty >= count_limit {
            continue;
        }
        nr_filter += 1;
    }
    let mut wf = WatchFilter { type_filter: 0, filters: Vec::with_capacity(nr_filter) };
    for f in &tf {
        if f.ty >= copy_limit {
            continue;
        }
        if wf.filters.len() == nr_filter || f.ty >= 64 {
            k.objs.warn(format!(
                "KASAN: slab-out-of-bounds write in watch_queue_set_filter: filter type {} lands past the \
                 {nr_filter}-entry allocation",
                f.ty
            ));
            continue;
        }
        wf.type_filter |= 1 << f.ty;
        wf.filters.push(f.clone());
    }
    Ok(wf)
}

/// `filter_watch_notification`: the type's bit must be set and some entry
/// must match the type, the subtype bit and `info & mask == filter`.
/// Types >= 64 and subtypes >= 32 never match (Linux reads past its bitmaps
/// there; see the divergences chapter).
fn filter_matches(wf: &WatchFilter, ty: u32, subtype: u32, info: u32) -> bool {
    if ty >= 64 || wf.type_filter & (1 << ty) == 0 || subtype >= 32 {
        return false;
    }
    wf.filters
        .iter()
        .any(|wt| wt.ty == ty && wt.subtype_filter & (1 << subtype) != 0 && info & wt.info_mask == wt.info_filter)
}

/// `post_one_notification`, with the queue locked and the pipe attached:
/// take a free note slot and a ring slot, or lose the note and mark the
/// last queued slot. Returns whether it was queued.
fn post_one_notification(wq: &WatchQueue, pipe: &PipeInodeInfo, n: &[u8]) -> bool {
    let mut st = pipe.state();
    let lost = 'post: {
        if st.bufs.len() as u64 >= st.ring_size as u64 {
            break 'post true;
        }
        let mut notes = wq.notes();
        let Some(note) = notes.free.iter().position(|b| *b) else {
            break 'post true;
        };
        notes.free[note] = false;
        drop(notes);
        st.bufs.push_back(PipeBuffer {
            data: n.to_vec(),
            offset: 0,
            flags: PIPE_BUF_FLAG_WHOLE,
            note: Some(note as u32),
        });
        st.wake_up_locked(POLLIN | POLLRDNORM);
        false
    };
    if lost {
        if let Some(last) = st.bufs.back_mut() {
            last.flags |= PIPE_BUF_FLAG_LOSS;
        }
    }
    !lost
}

/// Post to one watch's queue: `lock_wqueue` + `post_one_notification` +
/// `unlock_wqueue`; with the bug `watch_queue_post_vs_clear`, the pre-2022
/// form that looks the pipe up without the queue lock.
fn post_to_queue(wq: &WatchQueue, n: &[u8]) -> bool {
    if wq.kernel.bug(Bug::WatchQueuePostVsClear) {
        // `struct pipe_inode_info *pipe = wqueue->pipe;` with no lock: the
        // pointer is only stable while the pipe is alive.
        let Some(pipe) = wq.lock().pipe.clone() else { return false };
        sched::yield_point("watch_queue:post:pipe_lookup");
        if !pipe.check("post_one_notification: spin_lock_irq(&pipe->rd_wait.lock)") {
            return false;
        }
        if wq.lock().defunct {
            return false;
        }
        return post_one_notification(wq, &pipe, n);
    }
    let Some((g, pipe)) = wq.lock_wqueue() else { return false };
    sched::yield_point("watch_queue:post:pipe_lookup");
    let done = post_one_notification(wq, &pipe, n);
    drop(g);
    done
}

/// The bytes of a note: header word `type | subtype << 24`, info word, then
/// the payload (`struct watch_notification` and what follows).
pub fn note_bytes(ty: u32, subtype: u32, info: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + payload.len());
    v.extend_from_slice(&(ty | subtype << 24).to_le_bytes());
    v.extend_from_slice(&info.to_le_bytes());
    v.extend_from_slice(payload);
    v
}

/// A new watchable object with an empty watch list.
pub fn watch_source(k: &Arc<Kernel>) -> Arc<WatchSource> {
    let hdr = k.objs.register("watch_source");
    let id = hdr.id();
    Arc::new(WatchSource { hdr, kernel: k.clone(), id, lock: Mutex::new(Vec::new()) })
}

impl WatchSource {
    fn lock(&self) -> MutexGuard<'_, Vec<Arc<Watch>>> {
        crate::footprint::access(self.hdr.id(), true);
        self.lock.lock()
    }

    /// Number of watches on the object, for tests.
    pub fn nr_watches(&self) -> usize {
        self.lock.lock().len()
    }
}

/// `post_watch_notification(wlist, n, cred, id)` for the source's own id:
/// to every watch (with its ID in the info word) whose queue's filter takes
/// the note. Never blocks. `type` above 24 bits, `subtype` above 8, more
/// than 127 bytes, or info flags outside `WATCH_INFO_TYPE_INFO`: EINVAL.
pub fn post_notification(src: &WatchSource, ty: u64, subtype: u64, payload: &[u8], info_flags: u64) -> KResult<()> {
    if ty > 0x00ff_ffff || subtype > 0xff || 8 + payload.len() > WATCH_NOTE_MAX_LEN {
        return Err(Errno::EINVAL);
    }
    if info_flags & !(WATCH_INFO_TYPE_INFO as u64) != 0 {
        return Err(Errno::EINVAL);
    }
    if !src.kernel.objs.check(&src.hdr, "post_watch_notification") {
        return Err(Errno::EINVAL);
    }
    let (ty, subtype) = (ty as u32, subtype as u32);
    // The RCU walk of wlist->watchers: a snapshot.
    let watchers: Vec<Arc<Watch>> = src.lock().clone();
    for w in watchers {
        if w.id != src.id {
            continue;
        }
        let info = (8 + payload.len()) as u32 | info_flags as u32 | w.info_id;
        let wf = {
            crate::footprint::access(w.queue.hdr.id(), false);
            w.queue.filter.lock().clone()
        };
        if let Some(wf) = wf {
            if !filter_matches(&wf, ty, subtype, info) {
                continue;
            }
        }
        post_to_queue(&w.queue, &note_bytes(ty, subtype, info, payload));
    }
    Ok(())
}

/// `get_watch_queue(fd)`: the queue of a notification pipe, with a
/// reference; EINVAL for anything else (a closed fd too). The file
/// reference is dropped on return.
fn get_watch_queue(task: &Task, fd: i64) -> KResult<Arc<WatchQueue>> {
    let file = task.proc()?.files.fget(fd).map_err(|_| Errno::EINVAL)?;
    let pipe = get_pipe_info(&file).ok_or(Errno::EINVAL)?;
    let wq = pipe.watch_queue.as_ref().ok_or(Errno::EINVAL)?;
    crate::sched::fine_point("atomic");
    crate::footprint::access(wq.hdr.id(), true);
    wq.kref.fetch_add(1, Ordering::AcqRel);
    Ok(wq.clone())
}

/// `watch_add(SRC, FD, ID)`, after `keyctl_watch_key(id, fd, watch_id)`:
/// ID outside -1..255: EINVAL (-1 removes, as `watch_remove`); a source
/// already destroyed: ENOENT; FD not a notification pipe: EINVAL; the same
/// source already watched through this queue: EBUSY; the pipe torn down
/// meanwhile: ENOENT.
pub fn sys_watch_add(task: &Task, src: &Arc<WatchSource>, fd: i64, watch_id: i64) -> KResult<()> {
    let watch_id = watch_id as i32;
    if !(-1..=0xff).contains(&watch_id) {
        return Err(Errno::EINVAL);
    }
    crate::footprint::access(src.hdr.id(), false);
    if src.hdr.is_released() {
        return Err(Errno::ENOENT);
    }
    let wq = get_watch_queue(task, fd)?;
    // The object was looked up and the queue referenced; the pipe's file
    // reference is already dropped.
    sched::yield_point("watch_queue:watch:after_get_queue");
    let r = if watch_id >= 0 {
        let k = &src.kernel;
        let w = Arc::new(Watch {
            hdr: k.objs.register("watch"),
            kernel: k.clone(),
            kref: AtomicUsize::new(1),
            id: src.id,
            info_id: (watch_id as u32) << crate::abi::WATCH_INFO_ID__SHIFT,
            queue: wq.clone(),
            wlist: Mutex::new(None),
        });
        // init_watch took no queue reference of its own in Linux: the
        // watch's queue pointer borrows the caller's, and add_one_watch
        // takes the lasting one. Keep the count honest: this one is the
        // watch's until free_watch.
        crate::sched::fine_point("atomic");
        wq.kref.fetch_add(1, Ordering::AcqRel);
        let r = add_watch_to_object(&w, src);
        if r.is_err() {
            put_watch(&w);
        }
        r
    } else {
        remove_watch_from_object(src, Some(&wq), src.id, false)
    };
    put_watch_queue(&wq);
    r
}

/// `watch_remove(SRC, FD)`: `keyctl_watch_key(id, fd, -1)`.
pub fn sys_watch_remove(task: &Task, src: &Arc<WatchSource>, fd: i64) -> KResult<()> {
    sys_watch_add(task, src, fd, -1)
}

/// `add_watch_to_object`: with the queue locked (ENOENT if its pipe is
/// gone) and the list locked, refuse a second watch of the same object
/// through the same queue (EBUSY), else link the watch on both lists.
fn add_watch_to_object(w: &Arc<Watch>, src: &Arc<WatchSource>) -> KResult<()> {
    let Some((mut qg, _pipe)) = w.queue.lock_wqueue() else { return Err(Errno::ENOENT) };
    let mut list = src.lock();
    if list.iter().any(|x| Arc::ptr_eq(&x.queue, &w.queue) && x.id == w.id) {
        return Err(Errno::EBUSY);
    }
    *w.wlist.lock() = Some(src.clone());
    // kref_get(&watch->usage) for the queue's list; the initial reference
    // becomes the object list's.
    w.kref.fetch_add(1, Ordering::AcqRel);
    qg.watches.insert(0, w.clone());
    list.insert(0, w.clone());
    Ok(())
}

/// `remove_watch_from_object(wlist, wq, id, all)`: unlink the matching
/// watch (or every watch) from the object, post a META/REMOVAL note to its
/// queue (16 bytes carrying `id` when `id != 0`, else 8), unlink it from
/// the queue. EBADSLT if nothing matched.
pub fn remove_watch_from_object(src: &WatchSource, wq: Option<&Arc<WatchQueue>>, id: u64, all: bool) -> KResult<()> {
    let mut ret = Err(Errno::EBADSLT);
    loop {
        let watch = {
            let mut list = src.lock();
            let pos = list.iter().position(|w| all || (w.id == id && wq.is_some_and(|q| Arc::ptr_eq(&w.queue, q))));
            let Some(pos) = pos else { break };
            let w = list.remove(pos);
            *w.wlist.lock() = None;
            w
        };
        ret = Ok(());
        let (info, payload) =
            if id != 0 { (watch.info_id | 16, id.to_le_bytes().to_vec()) } else { (watch.info_id | 8, Vec::new()) };
        let n = note_bytes(WATCH_TYPE_META, WATCH_META_REMOVAL_NOTIFICATION, info, &payload);
        let mut queue_ref = false;
        if let Some((mut qg, pipe)) = watch.queue.lock_wqueue() {
            post_one_notification(&watch.queue, &pipe, &n);
            if let Some(i) = qg.watches.iter().position(|x| Arc::ptr_eq(x, &watch)) {
                qg.watches.remove(i);
                queue_ref = true;
            }
        }
        if queue_ref {
            put_watch(&watch);
        }
        put_watch(&watch);
        if !all || src.lock().is_empty() {
            break;
        }
    }
    ret
}

/// `watch_source_destroy(SRC)`: the object goes away (a key's
/// `remove_watch_list(key->watchers, key->serial)`): every watch is removed
/// with a 16-byte removal note, and the object is freed.
pub fn watch_source_destroy(src: &WatchSource) {
    if !src.kernel.objs.check(&src.hdr, "watch_source_destroy") {
        return;
    }
    let _ = remove_watch_from_object(src, None, src.id, true);
    src.kernel.objs.release(&src.hdr);
}

/// `watch_queue_clear`: detach the pipe (no post can reach it after this)
/// and drop every watch, unlinking each from its object's list.
pub(crate) fn watch_queue_clear(wq: &Arc<WatchQueue>) {
    let mut g = wq.lock();
    g.defunct = true;
    if !wq.kernel.bug(Bug::WatchQueuePostVsClear) {
        g.pipe = None;
    }
    while !g.watches.is_empty() {
        let watch = g.watches.remove(0);
        drop(g);
        sched::yield_point("watch_queue:clear:unlocked");
        let wlist = watch.wlist.lock().clone();
        if let Some(src) = wlist {
            let release = {
                let mut list = src.lock();
                match list.iter().position(|x| Arc::ptr_eq(x, &watch)) {
                    Some(i) => {
                        list.remove(i);
                        *watch.wlist.lock() = None;
                        true
                    }
                    None => false,
                }
            };
            if release {
                put_watch(&watch);
            }
        }
        put_watch(&watch);
        g = wq.lock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::{O_NONBLOCK, O_NOTIFICATION_PIPE};
    use crate::pipe::do_pipe2;
    use crate::vfs::read_write::{vfs_read, vfs_write};

    fn setup(bugs: crate::bugs::BugSet) -> (Arc<Kernel>, Task) {
        Task::single(bugs)
    }

    #[test]
    fn notes_loss_and_teardown() {
        let (k, t) = setup(Default::default());
        let (r, w) = do_pipe2(&t, O_NOTIFICATION_PIPE | O_NONBLOCK).unwrap();
        let f = t.proc().unwrap().files.fget(r as i64).unwrap();
        let wf = t.proc().unwrap().files.fget(w as i64).unwrap();
        assert_eq!(vfs_write(&wf, b"x", &t), Err(Errno::EXDEV));
        let src = watch_source(&k);
        sys_watch_add(&t, &src, r as i64, 7).unwrap();
        assert_eq!(sys_watch_add(&t, &src, r as i64, 8), Err(Errno::EBUSY));
        // Before SET_SIZE every note is lost.
        post_notification(&src, 1, 2, b"", 0).unwrap();
        assert_eq!(vfs_read(&f, 128), Err(Errno::EAGAIN));
        let pipe = get_pipe_info(&f).unwrap().clone();
        watch_queue_set_size(&pipe, 1).unwrap();
        assert_eq!(watch_queue_set_size(&pipe, 1), Err(Errno::EBUSY));
        for i in 0..33u8 {
            post_notification(&src, 1, 2, &[i], 0).unwrap();
        }
        let wq = pipe.watch_queue.clone().unwrap();
        assert_eq!(wq.note_slots(), (32, 0));
        assert_eq!(vfs_read(&f, 8), Err(Errno::ENOBUFS), "a 9-byte note does not fit in 8");
        let all = vfs_read(&f, 4096).unwrap();
        assert_eq!(all.len(), 32 * 9, "the loss note waits for the next read");
        assert_eq!(&all[..9], &note_bytes(1, 2, 9 | 7 << 8, &[0])[..]);
        assert_eq!(vfs_read(&f, 4096).unwrap(), note_bytes(0, 1, 8, b""));
        assert_eq!(wq.note_slots(), (32, 32));
        drop((f, wf));
        crate::vfs::fcntl::ksys_close(t.proc().unwrap(), r as i64).unwrap();
        crate::vfs::fcntl::ksys_close(t.proc().unwrap(), w as i64).unwrap();
        assert_eq!(src.nr_watches(), 0, "teardown unlinks the watch from the source");
        watch_source_destroy(&src);
        // What is left belongs to the process (its mm, the console files).
        assert!(k.objs.live().iter().all(|(_, r)| matches!(r.ty, "file" | "mm_struct")), "{:?}", k.objs.live());
        assert!(k.objs.reports().is_empty(), "{:?}", k.objs.reports());
    }

    #[test]
    fn removal_note_and_ebadslt() {
        let (k, t) = setup(Default::default());
        let (r, _w) = do_pipe2(&t, O_NOTIFICATION_PIPE | O_NONBLOCK).unwrap();
        let f = t.proc().unwrap().files.fget(r as i64).unwrap();
        let pipe = get_pipe_info(&f).unwrap().clone();
        watch_queue_set_size(&pipe, 4).unwrap();
        let src = watch_source(&k);
        assert_eq!(sys_watch_remove(&t, &src, r as i64), Err(Errno::EBADSLT));
        sys_watch_add(&t, &src, r as i64, 3).unwrap();
        sys_watch_remove(&t, &src, r as i64).unwrap();
        assert_eq!(vfs_read(&f, 128).unwrap(), note_bytes(0, 0, 16 | 3 << 8, &src.id.to_le_bytes()));
        watch_source_destroy(&src);
        assert!(k.objs.reports().is_empty(), "{:?}", k.objs.reports());
    }

    #[test]
    fn filters() {
        let wf = WatchFilter {
            type_filter: 1 << 1,
            filters: vec![WatchTypeFilter { ty: 1, subtype_filter: 1 << 3, info_filter: 0x10000, info_mask: 0x10000 }],
        };
        assert!(filter_matches(&wf, 1, 3, 0x10000 | 9));
        assert!(!filter_matches(&wf, 1, 3, 9), "info flag not set");
        assert!(!filter_matches(&wf, 1, 4, 0x10000 | 9), "subtype not selected");
        assert!(!filter_matches(&wf, 0, 3, 0x10000 | 9), "type not selected");
    }
}
