//! Pipes (`fs/pipe.c`, `include/linux/pipe_fs_i.h`, `man7/pipe.7`), with the
//! notification-queue mode of [`crate::watch_queue`] built on top.
//!
//! Key types: [`PipeInodeInfo`] (Linux's `struct pipe_inode_info`: the ring
//! of buffers, the reader and writer counts, the two wait queues, the pipe
//! mutex) and [`PipeFile`], the `f_op`/`private_data` of both ends. A pipe is
//! one inode (`pipe:[INO]`) with two files: the read end (`O_RDONLY`) and
//! the write end (`O_WRONLY`); `pipe->files` counts them, and the last
//! release frees the pipe (`put_pipe_info` -> `free_pipe_info`).
//!
//! The ring is modelled as the queue of occupied slots ([`PipeBuffer`]s,
//! oldest first) plus its size: `ring_size` slots of which at most
//! `max_usage` may be filled by writers (both 16 at creation: 65536 bytes).
//! Each slot holds at most one page. Small writes merge into the last slot
//! (`PIPE_BUF_FLAG_CAN_MERGE`); packet-mode (`O_DIRECT`) writes never merge
//! and a read returns at most one packet (`PIPE_BUF_FLAG_PACKET`);
//! notification slots are read whole or not at all (`PIPE_BUF_FLAG_WHOLE`)
//! and a full queue marks its last slot (`PIPE_BUF_FLAG_LOSS`).
//!
//! Locking, as in Linux: `mutex` (`pipe->mutex`) serialises readers,
//! writers, ioctls and fcntls; the ring itself lives under `rd_wait`'s lock
//! (`pipe->rd_wait.lock`), which is all that `post_one_notification` takes,
//! since a notification is posted from contexts that cannot sleep. Linux
//! takes that spinlock only around the tail update of notification pipes; ksim
//! takes it for every ring access (invisible to users, and it is what the
//! explorer's footprints need). `wr_wait` carries no data: a writer checks
//! `pipe_writable` under `rd_wait`'s lock while holding `wr_wait`'s, so that
//! a reader's wake-up (taken after the ring changed) cannot be missed.
//!
//! Lock order: `mutex` -> `wr_wait.lock` -> `rd_wait.lock` -> the watch
//! queue's note slots. `watch_queue.lock` -> `rd_wait.lock` when posting.
//! Wake-ups are issued with no ring lock held.
//!
//! Race windows named as yield points: `pipe:after_read_fd_install` (the read
//! end is in the table, the write end is not yet), `pipe:read:after_head`
//! (a notification pipe's reader has sampled the ring head: a note posted now
//! is not seen by this pass), and those of [`crate::watch_queue`].

use crate::abi::{FIONREAD, F_GETPIPE_SZ, F_SETPIPE_SZ, IOC_WATCH_QUEUE_SET_FILTER, IOC_WATCH_QUEUE_SET_SIZE};
use crate::abi::{O_CLOEXEC, O_DIRECT, O_NONBLOCK, O_NOTIFICATION_PIPE, O_RDONLY, O_WRONLY, PAGE_SIZE};
use crate::abi::{POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM};
use crate::abi::{WATCH_META_LOSS_NOTIFICATION, WATCH_TYPE_META};
use crate::errno::{Errno, KResult};
use crate::kernel::Kernel;
use crate::objtrack::ObjHeader;
use crate::sched::{self, PollTable, WaitQueueHead, WqGuard};
use crate::sync::atomic::{AtomicU32, Ordering};
use crate::sync::{Arc, Mutex, MutexGuard};
use crate::task::Task;
use crate::vfs::file::{File, FileOps, FileRef, IoctlArg, IoctlOut, FMODE_NOWAIT, FMODE_READ, FMODE_WRITE};
use crate::vfs::Llseek;
use crate::watch_queue::{self, WatchQueue};
use std::any::Any;
use std::collections::VecDeque;

/// `PIPE_DEF_BUFFERS`: slots of a new pipe (`include/linux/pipe_fs_i.h`).
pub const PIPE_DEF_BUFFERS: u32 = 16;
/// `/proc/sys/fs/pipe-max-size` default (`fs/pipe.c`: `pipe_max_size`).
/// Without `CAP_SYS_RESOURCE`, `F_SETPIPE_SZ` cannot grow a pipe past it.
pub const PIPE_MAX_SIZE: u32 = 1_048_576;
const PAGE: usize = PAGE_SIZE as usize;

// include/linux/pipe_fs_i.h: pipe_buffer flags.
pub(crate) const PIPE_BUF_FLAG_PACKET: u32 = 0x08;
pub(crate) const PIPE_BUF_FLAG_CAN_MERGE: u32 = 0x10;
pub(crate) const PIPE_BUF_FLAG_WHOLE: u32 = 0x20;
pub(crate) const PIPE_BUF_FLAG_LOSS: u32 = 0x40;

/// One occupied ring slot (`struct pipe_buffer`): the page's bytes up to
/// `offset + len` (`data`), how many of them were consumed (`offset`), the
/// flags, and for a notification, which note slot it holds.
pub(crate) struct PipeBuffer {
    pub(crate) data: Vec<u8>,
    pub(crate) offset: usize,
    pub(crate) flags: u32,
    pub(crate) note: Option<u32>,
}

impl PipeBuffer {
    fn len(&self) -> usize {
        self.data.len() - self.offset
    }
}

/// The ring and counters, under `rd_wait`'s lock.
pub(crate) struct PipeState {
    /// Occupied slots, tail (oldest) first: `head - tail == bufs.len()`.
    pub(crate) bufs: VecDeque<PipeBuffer>,
    /// `ring_size`: slots in the ring (a power of two).
    pub(crate) ring_size: u32,
    /// `max_usage`: slots writers may fill.
    pub(crate) max_usage: u32,
    readers: u32,
    writers: u32,
    /// `note_loss`: a lossy slot was consumed; the next read pass starts
    /// with a META/LOSS note.
    note_loss: bool,
    /// `poll_usage`: someone polled; writers then always wake readers.
    poll_usage: bool,
}

impl PipeState {
    fn full(&self, limit: u32) -> bool {
        self.bufs.len() as u64 >= limit as u64
    }
    fn readable(&self) -> bool {
        !self.bufs.is_empty() || self.writers == 0
    }
    fn writable(&self) -> bool {
        !self.full(self.max_usage) || self.readers == 0
    }
}

/// `struct pipe_inode_info`.
pub struct PipeInodeInfo {
    pub hdr: ObjHeader,
    kernel: Arc<Kernel>,
    /// The pipefs inode number (`pipe:[INO]`).
    pub ino: u64,
    /// `pipe->mutex`.
    mutex: Mutex<()>,
    /// `pipe->rd_wait`; its lock protects the ring ([`PipeState`]).
    pub(crate) rd_wait: WaitQueueHead<PipeState>,
    /// `pipe->wr_wait`.
    wr_wait: WaitQueueHead<()>,
    /// `pipe->files`: files referring to the pipe (under `inode->i_lock`).
    files: AtomicU32,
    /// `pipe->watch_queue`: set for `O_NOTIFICATION_PIPE`.
    pub(crate) watch_queue: Option<Arc<WatchQueue>>,
}

impl PipeInodeInfo {
    pub(crate) fn check(&self, op: &'static str) -> bool {
        self.kernel.objs.check(&self.hdr, op)
    }

    /// `spin_lock(&pipe->rd_wait.lock)`, recorded as a change to the pipe.
    pub(crate) fn state(&self) -> WqGuard<'_, PipeState> {
        crate::footprint::access(self.hdr.id(), true);
        self.rd_wait.lock()
    }

    fn state_look(&self) -> WqGuard<'_, PipeState> {
        crate::footprint::access(self.hdr.id(), false);
        self.rd_wait.lock()
    }

    /// `mutex_lock(&pipe->mutex)`. The mutex guards no data here (the ring
    /// is under `rd_wait.lock`, [`Self::state`]): it has a key of its own
    /// ([`crate::footprint::mutex_key`]).
    pub(crate) fn lock(&self) -> MutexGuard<'_, ()> {
        crate::footprint::access(crate::footprint::mutex_key(self.hdr.id()), true);
        self.mutex.lock()
    }

    /// `wake_up_interruptible*(&pipe->wr_wait, key)`.
    fn wake_writers(&self, key: u32) {
        crate::footprint::access(self.hdr.id(), true);
        self.wr_wait.wake_up(key);
    }

    fn wake_readers(&self, key: u32) {
        crate::footprint::access(self.hdr.id(), true);
        self.rd_wait.wake_up(key);
    }

    /// `wait_event_interruptible_exclusive(pipe->wr_wait, pipe_writable(pipe))`:
    /// the condition is checked under `wr_wait`'s lock, so a wake-up after
    /// the check finds this task queued.
    fn wait_writable(&self) -> KResult<()> {
        let mut g = self.wr_wait.lock();
        loop {
            if self.state_look().writable() {
                return Ok(());
            }
            g = self.wr_wait.sleep(g, None)?.1;
        }
    }

    /// Bytes queued (`FIONREAD`).
    pub fn nr_bytes(&self) -> usize {
        self.state_look().bufs.iter().map(|b| b.len()).sum()
    }

    /// `pipe_resize_ring`: move the occupied slots into a ring of `nr_slots`
    /// (EBUSY if they would not fit). A plain pipe's writers may then use all
    /// of it; a notification pipe keeps its `max_usage` unless it shrank.
    pub(crate) fn resize_ring(&self, nr_slots: u32) -> KResult<()> {
        {
            let mut st = self.state();
            if (nr_slots as usize) < st.bufs.len() {
                return Err(Errno::EBUSY);
            }
            st.ring_size = nr_slots;
            if st.max_usage > nr_slots {
                st.max_usage = nr_slots;
            }
            if self.watch_queue.is_none() {
                st.max_usage = nr_slots;
            }
        }
        // "This might have made more room for writers".
        self.wake_writers(POLLOUT | POLLWRNORM);
        Ok(())
    }

    /// `pipe_set_size` (F_SETPIPE_SZ, under the pipe mutex).
    fn set_size(&self, arg: u32) -> KResult<u64> {
        if self.watch_queue.is_some() {
            return Err(Errno::EBUSY);
        }
        let size = round_pipe_size(arg);
        let nr_slots = size / PAGE as u32;
        if nr_slots == 0 {
            return Err(Errno::EINVAL);
        }
        // Growing past pipe-max-size needs CAP_SYS_RESOURCE (the machine's,
        // `Machine::cap_sys_resource`); per-user page accounting is not
        // modelled.
        if nr_slots > self.state_look().max_usage && size > PIPE_MAX_SIZE && !self.kernel.machine.cap_sys_resource {
            return Err(Errno::EPERM);
        }
        self.resize_ring(nr_slots)?;
        Ok(self.state_look().max_usage as u64 * PAGE_SIZE)
    }
}

/// `round_pipe_size`: 0 (invalid) above 2^31, at least a page, else the
/// next power of two.
pub fn round_pipe_size(size: u32) -> u32 {
    if size > 1 << 31 {
        0
    } else if (size as usize) < PAGE {
        PAGE as u32
    } else {
        size.next_power_of_two()
    }
}

/// `send_sig(SIGPIPE, current, 0)` from inside `pipe_write`: the caller's
/// process counts it (as if ignored, so the write still returns). The
/// signal goes to the writer itself, whatever the other actors do: it is
/// sent under the pipe's mutex, before `pipe_write` returns.
fn send_sigpipe(caller: &Task) {
    if let Some(p) = &caller.process {
        p.signal(crate::abi::SIGPIPE as usize);
    }
}

/// Both ends' `f_op` and `private_data`.
pub struct PipeFile {
    pipe: Arc<PipeInodeInfo>,
}

impl PipeFile {
    pub fn pipe(&self) -> &Arc<PipeInodeInfo> {
        &self.pipe
    }
}

/// `get_pipe_info(file, false)`: the pipe behind a file, if it is one.
pub fn get_pipe_info(file: &File) -> Option<&Arc<PipeInodeInfo>> {
    file.ops_as::<PipeFile>().map(|p| &p.pipe)
}

/// The 8-byte META/LOSS note `pipe_read` inserts.
fn loss_note() -> [u8; 8] {
    let mut n = [0u8; 8];
    n[..4].copy_from_slice(&(WATCH_TYPE_META | WATCH_META_LOSS_NOTIFICATION << 24).to_le_bytes());
    n[4..].copy_from_slice(&8u32.to_le_bytes());
    n
}

impl FileOps for PipeFile {
    fn name(&self) -> &'static str {
        "pipe"
    }

    /// pipefs `d_dname`: `pipe:[INO]`.
    fn path(&self, file: &File) -> String {
        format!("pipe:[{}]", file.ino)
    }

    /// `no_llseek` (a NULL `->llseek`): ESPIPE, and `stream_open` cleared
    /// FMODE_PREAD/PWRITE.
    fn llseek(&self) -> Llseek {
        Llseek::None
    }

    fn is_fifo(&self) -> bool {
        true
    }

    /// `pipe_fcntl`: F_SETPIPE_SZ and F_GETPIPE_SZ under the pipe mutex.
    /// The argument is an `unsigned int`.
    fn fcntl(&self, _file: &File, cmd: u32, arg: u64) -> Option<KResult<u64>> {
        let pipe = &*self.pipe;
        match cmd {
            F_SETPIPE_SZ => {
                let _m = pipe.lock();
                Some(pipe.set_size(arg as u32))
            }
            F_GETPIPE_SZ => {
                let _m = pipe.lock();
                Some(Ok(pipe.state_look().max_usage as u64 * PAGE_SIZE))
            }
            _ => None,
        }
    }

    /// `pipe_read`.
    fn read(&self, file: &File, len: usize) -> KResult<Vec<u8>> {
        // Null read succeeds.
        if len == 0 {
            return Ok(Vec::new());
        }
        let pipe = &*self.pipe;
        pipe.check("pipe_read");
        let wq = pipe.watch_queue.as_ref();
        let mut total_len = len;
        let mut out: Vec<u8> = Vec::new();
        let mut err: Option<Errno> = None;
        let mut wake_writer = false;
        let mut m = pipe.lock();
        'outer: loop {
            // `head = smp_load_acquire(&pipe->head)`: the slots this pass
            // may consume. Only a notification post adds slots without the
            // mutex, and only at the head.
            let mut head = pipe.state_look().bufs.len();
            if wq.is_some() {
                sched::yield_point("pipe:read:after_head");
            }
            let mut st = pipe.state();
            if wq.is_some() && st.note_loss {
                if total_len < 8 {
                    if out.is_empty() {
                        err = Some(Errno::ENOBUFS);
                    }
                    break 'outer;
                }
                out.extend_from_slice(&loss_note());
                total_len -= 8;
                st.note_loss = false;
            }
            if head > 0 {
                let max_usage = st.max_usage as usize;
                let buf = st.bufs.front_mut().expect("head > 0: a slot is queued");
                let mut chars = buf.len();
                if chars > total_len {
                    if buf.flags & PIPE_BUF_FLAG_WHOLE != 0 {
                        if out.is_empty() {
                            err = Some(Errno::ENOBUFS);
                        }
                        break 'outer;
                    }
                    chars = total_len;
                }
                out.extend_from_slice(&buf.data[buf.offset..buf.offset + chars]);
                buf.offset += chars;
                // A packet buffer: the rest of the packet is discarded.
                if buf.flags & PIPE_BUF_FLAG_PACKET != 0 {
                    total_len = chars;
                    buf.offset = buf.data.len();
                }
                if buf.len() == 0 {
                    // pipe_full(head, tail, max_usage) before the tail moves.
                    wake_writer |= head >= max_usage;
                    let done = st.bufs.pop_front().expect("the front slot");
                    // pipe_update_tail: a lossy slot sets note_loss; the
                    // note slot goes back to the queue's bitmap.
                    if done.flags & PIPE_BUF_FLAG_LOSS != 0 {
                        st.note_loss = true;
                    }
                    if let (Some(n), Some(wq)) = (done.note, wq) {
                        wq.free_note(n);
                    }
                    head -= 1;
                }
                total_len -= chars;
                if total_len == 0 {
                    break 'outer; // common path: read succeeded
                }
                if head > 0 {
                    continue; // more to do
                }
            }
            if st.writers == 0 {
                break;
            }
            if !out.is_empty() {
                break;
            }
            if file.nonblock() {
                err = Some(Errno::EAGAIN);
                break;
            }
            drop(st);
            drop(m);
            if wake_writer {
                pipe.wake_writers(POLLOUT | POLLWRNORM);
            }
            // wait_event_interruptible_exclusive(pipe->rd_wait, pipe_readable(pipe))
            let g = pipe.state_look();
            let (_, g) = pipe.rd_wait.wait_locked(g, |st| if st.readable() { Some(()) } else { None })?;
            drop(g);
            wake_writer = false;
            m = pipe.lock();
        }
        drop(m);
        if wake_writer {
            pipe.wake_writers(POLLOUT | POLLWRNORM);
        }
        match err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// `pipe_write`.
    fn write(&self, file: &File, data: &[u8], caller: &Task) -> KResult<usize> {
        let pipe = &*self.pipe;
        pipe.check("pipe_write");
        // Notification pipes are written by the kernel only.
        if pipe.watch_queue.is_some() {
            return Err(Errno::EXDEV);
        }
        // Null write succeeds.
        let total_len = data.len();
        if total_len == 0 {
            return Ok(0);
        }
        let packet = file.flags() & O_DIRECT != 0;
        let mut ret: usize = 0;
        let mut err: Option<Errno> = None;
        let mut m = pipe.lock();
        let mut st = pipe.state();
        let mut was_empty;
        'out: {
            if st.readers == 0 {
                send_sigpipe(caller);
                err = Some(Errno::EPIPE);
                was_empty = false;
                break 'out;
            }
            // Merge the sub-page remainder into the last slot when it has
            // room: small writes merge, large ones stay page-aligned.
            was_empty = st.bufs.is_empty();
            let chars = total_len & (PAGE - 1);
            if chars != 0 && !was_empty {
                let buf = st.bufs.back_mut().expect("not empty");
                if buf.flags & PIPE_BUF_FLAG_CAN_MERGE != 0 && buf.data.len() + chars <= PAGE {
                    buf.data.extend_from_slice(&data[..chars]);
                    ret = chars;
                    if ret == total_len {
                        break 'out;
                    }
                }
            }
            loop {
                if st.readers == 0 {
                    send_sigpipe(caller);
                    if ret == 0 {
                        err = Some(Errno::EPIPE);
                    }
                    break;
                }
                if !st.full(st.max_usage) {
                    let n = (total_len - ret).min(PAGE);
                    let flags = if packet { PIPE_BUF_FLAG_PACKET } else { PIPE_BUF_FLAG_CAN_MERGE };
                    st.bufs.push_back(PipeBuffer { data: data[ret..ret + n].to_vec(), offset: 0, flags, note: None });
                    ret += n;
                    if ret == total_len {
                        break;
                    }
                }
                if !st.full(st.max_usage) {
                    continue;
                }
                if file.nonblock() {
                    if ret == 0 {
                        err = Some(Errno::EAGAIN);
                    }
                    break;
                }
                // Wait for room, with the mutex dropped; wake readers first
                // if this write made the pipe non-empty.
                drop(st);
                drop(m);
                if was_empty {
                    pipe.wake_readers(POLLIN | POLLRDNORM);
                }
                let waited = pipe.wait_writable();
                m = pipe.lock();
                st = pipe.state();
                if let Err(e) = waited {
                    // Killed while asleep (-ERESTARTSYS).
                    if ret == 0 {
                        err = Some(e);
                    }
                    break;
                }
                was_empty = st.bufs.is_empty();
            }
        }
        let wake = was_empty || st.poll_usage;
        drop(st);
        drop(m);
        if wake {
            pipe.wake_readers(POLLIN | POLLRDNORM);
        }
        match err {
            Some(e) => Err(e),
            None => Ok(ret),
        }
    }

    /// `pipe_poll`: the read end is POLLIN when not empty and POLLHUP with
    /// no writers; the write end POLLOUT when not full and POLLERR with no
    /// readers.
    fn poll(&self, file: &File, pt: Option<&mut PollTable>) -> u32 {
        let pipe = &*self.pipe;
        pipe.state().poll_usage = true;
        let mode = file.mode();
        if let Some(pt) = pt {
            if mode & FMODE_READ != 0 {
                pt.wait(&pipe.rd_wait);
            }
            if mode & FMODE_WRITE != 0 {
                pt.wait(&pipe.wr_wait);
            }
        }
        let st = pipe.state_look();
        let mut mask = 0;
        if mode & FMODE_READ != 0 {
            if !st.bufs.is_empty() {
                mask |= POLLIN | POLLRDNORM;
            }
            // `filp->f_pipe != pipe->w_counter` always holds for pipe(2)
            // ends (f_pipe is 0, w_counter at least 1).
            if st.writers == 0 {
                mask |= POLLHUP;
            }
        }
        if mode & FMODE_WRITE != 0 {
            if !st.full(st.max_usage) {
                mask |= POLLOUT | POLLWRNORM;
            }
            if st.readers == 0 {
                mask |= POLLERR;
            }
        }
        mask
    }

    /// `pipe_ioctl`: FIONREAD, and the watch-queue ioctls (ENODEV on a plain
    /// pipe); anything else is ENOTTY (-ENOIOCTLCMD).
    fn ioctl(&self, _file: &File, cmd: u32, arg: &IoctlArg) -> KResult<IoctlOut> {
        let pipe = &self.pipe;
        match cmd {
            FIONREAD => {
                let _m = pipe.lock();
                Ok(IoctlOut::Int(pipe.nr_bytes() as u32 as u64))
            }
            IOC_WATCH_QUEUE_SET_SIZE => {
                let _m = pipe.lock();
                watch_queue::watch_queue_set_size(pipe, arg.int.unwrap_or(0) as u32).map(|()| IoctlOut::Int(0))
            }
            IOC_WATCH_QUEUE_SET_FILTER => watch_queue::watch_queue_set_filter(pipe, arg).map(|()| IoctlOut::Int(0)),
            _ => Err(Errno::ENOTTY),
        }
    }

    /// `pipe_release`: drop this end's count; if that was the last reader or
    /// the last writer (but not both), wake everybody on both sides. Then
    /// `put_pipe_info`: the last file frees the pipe.
    fn release(&self, file: &File) {
        let pipe = &self.pipe;
        if !pipe.check("pipe_release") {
            return;
        }
        let mode = file.mode();
        let hup = {
            let _m = pipe.lock();
            let mut st = pipe.state();
            if mode & FMODE_READ != 0 {
                st.readers -= 1;
            }
            if mode & FMODE_WRITE != 0 {
                st.writers -= 1;
            }
            (st.readers == 0) != (st.writers == 0)
        };
        if hup {
            pipe.wake_readers(0);
            pipe.wake_writers(0);
        }
        put_pipe_info(pipe);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `put_pipe_info`: the last file frees the pipe.
fn put_pipe_info(pipe: &Arc<PipeInodeInfo>) {
    crate::sched::fine_point("atomic");
    crate::footprint::access(pipe.hdr.id(), true);
    if pipe.files.fetch_sub(1, Ordering::AcqRel) == 1 {
        free_pipe_info(pipe);
    }
}

/// `free_pipe_info`: detach the watch queue first (`watch_queue_clear`: no
/// post can reach the pipe after it), release the queued slots (returning
/// note slots), drop the pipe's queue reference, free.
fn free_pipe_info(pipe: &Arc<PipeInodeInfo>) {
    if let Some(wq) = &pipe.watch_queue {
        watch_queue::watch_queue_clear(wq);
    }
    let bufs: Vec<PipeBuffer> = pipe.state().bufs.drain(..).collect();
    if let Some(wq) = &pipe.watch_queue {
        for b in &bufs {
            if let Some(n) = b.note {
                wq.free_note(n);
            }
        }
        watch_queue::put_watch_queue(wq);
    }
    pipe.kernel.objs.release(&pipe.hdr);
}

/// `alloc_pipe_info` + `get_pipe_inode`: a pipe with 16 slots, one reader
/// and one writer, two files.
fn alloc_pipe(k: &Arc<Kernel>, notification: bool) -> Arc<PipeInodeInfo> {
    let ino = k.next_ino();
    let hdr = k.objs.register("pipe_inode_info");
    let owner = hdr.id();
    let state = PipeState {
        bufs: VecDeque::new(),
        ring_size: PIPE_DEF_BUFFERS,
        max_usage: PIPE_DEF_BUFFERS,
        readers: 1,
        writers: 1,
        note_loss: false,
        poll_usage: false,
    };
    // create_pipe_files: watch_queue_init for O_NOTIFICATION_PIPE.
    let wq = if notification { Some(watch_queue::watch_queue_alloc(k)) } else { None };
    let pipe = Arc::new(PipeInodeInfo {
        hdr,
        kernel: k.clone(),
        ino,
        mutex: Mutex::new(()),
        rd_wait: WaitQueueHead::new("pipe.rd_wait", owner, state),
        wr_wait: WaitQueueHead::new("pipe.wr_wait", owner, ()),
        files: AtomicU32::new(2),
        watch_queue: wq,
    });
    if let Some(wq) = &pipe.watch_queue {
        watch_queue::watch_queue_attach(wq, &pipe);
    }
    pipe
}

/// `create_pipe_files`: the write end (`O_WRONLY`, with O_NONBLOCK and
/// O_DIRECT as asked) and the read end (`O_RDONLY`, with O_NONBLOCK), both
/// stream files on one pipefs inode. Returns (read end, write end).
pub fn create_pipe_files(k: &Arc<Kernel>, flags: u32) -> (FileRef, FileRef) {
    let pipe = alloc_pipe(k, flags & O_NOTIFICATION_PIPE != 0);
    let ino = pipe.ino;
    let w =
        File::alloc(k, ino, O_WRONLY | (flags & (O_NONBLOCK | O_DIRECT)), Box::new(PipeFile { pipe: pipe.clone() }));
    let r = File::alloc(k, ino, O_RDONLY | (flags & O_NONBLOCK), Box::new(PipeFile { pipe }));
    r.stream_open();
    w.stream_open();
    (r, w)
}

/// pipe2(2) (`do_pipe2` / `__do_pipe_flags`): flags other than O_CLOEXEC,
/// O_NONBLOCK, O_DIRECT and O_NOTIFICATION_PIPE: EINVAL. The files are made
/// first, then two fds are reserved (EMFILE releases the files again), then
/// both are installed, read end first. Returns (read fd, write fd).
pub fn do_pipe2(task: &Task, flags: u32) -> KResult<(i32, i32)> {
    if flags & !(O_CLOEXEC | O_NONBLOCK | O_DIRECT | O_NOTIFICATION_PIPE) != 0 {
        return Err(Errno::EINVAL);
    }
    let p = task.proc()?;
    let (r, w) = create_pipe_files(&task.kernel, flags);
    let cloexec = flags & O_CLOEXEC != 0;
    let fdr = p.files.alloc_fd(0, p.rlimit_nofile(), cloexec)?;
    let fdw = match p.files.alloc_fd(0, p.rlimit_nofile(), cloexec) {
        Ok(fd) => fd,
        Err(e) => {
            p.files.put_unused_fd(fdr);
            return Err(e);
        }
    };
    // pipe groks IOCB_NOWAIT
    r.add_mode(FMODE_NOWAIT);
    w.add_mode(FMODE_NOWAIT);
    p.files.fd_install(fdr, r);
    sched::yield_point("pipe:after_read_fd_install");
    p.files.fd_install(fdw, w);
    Ok((fdr, fdw))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::read_write::{vfs_read, vfs_write};

    fn setup() -> (Arc<Kernel>, Task) {
        Task::single(Default::default())
    }

    fn files(t: &Task, flags: u32) -> (FileRef, FileRef) {
        let (r, w) = do_pipe2(t, flags).unwrap();
        let p = t.proc().unwrap();
        (p.files.fget(r as i64).unwrap(), p.files.fget(w as i64).unwrap())
    }

    #[test]
    fn merge_and_page_alignment() {
        let (_k, t) = setup();
        let (r, w) = files(&t, O_NONBLOCK);
        assert_eq!(vfs_write(&w, b"ab", &t), Ok(2));
        assert_eq!(vfs_write(&w, b"cd", &t), Ok(2));
        let pipe = get_pipe_info(&r).unwrap().clone();
        assert_eq!(pipe.state_look().bufs.len(), 1, "small writes merge");
        // A 4097-byte write merges its 1-byte remainder, then takes a slot.
        assert_eq!(vfs_write(&w, &[7u8; 4097], &t), Ok(4097));
        assert_eq!(pipe.state_look().bufs.len(), 2);
        assert_eq!(pipe.nr_bytes(), 4101);
        assert_eq!(vfs_read(&r, 3).unwrap(), b"abc");
        assert_eq!(vfs_read(&r, 100000).unwrap().len(), 4098);
        assert_eq!(vfs_read(&r, 1), Err(Errno::EAGAIN));
    }

    #[test]
    fn full_pipe_partial_and_eagain() {
        let (_k, t) = setup();
        let (r, w) = files(&t, O_NONBLOCK);
        assert_eq!(vfs_write(&w, &vec![1u8; 70000], &t), Ok(65536));
        assert_eq!(vfs_write(&w, b"x", &t), Err(Errno::EAGAIN));
        assert_eq!(w.ops().poll(&w, None), 0);
        assert_eq!(vfs_read(&r, 1).unwrap(), [1]);
        // One byte read frees no slot.
        assert_eq!(vfs_write(&w, b"x", &t), Err(Errno::EAGAIN));
        assert_eq!(vfs_read(&r, 4095).unwrap().len(), 4095);
        assert_eq!(vfs_write(&w, &[2u8; 5000], &t), Ok(4096));
    }

    #[test]
    fn set_size_rounding_and_ebusy() {
        assert_eq!(round_pipe_size(0), 4096);
        assert_eq!(round_pipe_size(4097), 8192);
        assert_eq!(round_pipe_size(1 << 31), 1 << 31);
        assert_eq!(round_pipe_size((1 << 31) + 1), 0);
        let (k, t) = setup();
        let (r, w) = files(&t, O_NONBLOCK);
        assert_eq!(vfs_write(&w, &[0u8; 10000], &t), Ok(10000));
        assert_eq!(r.ops().fcntl(&r, F_SETPIPE_SZ, 4096), Some(Err(Errno::EBUSY)));
        assert_eq!(r.ops().fcntl(&r, F_SETPIPE_SZ, 12289), Some(Ok(16384)));
        assert_eq!(r.ops().fcntl(&r, F_SETPIPE_SZ, 2 << 20), Some(Err(Errno::EPERM)));
        assert_eq!(w.ops().fcntl(&w, F_GETPIPE_SZ, 0), Some(Ok(16384)));
        drop((r, w));
        crate::vfs::fcntl::ksys_close(t.proc().unwrap(), 3).unwrap();
        crate::vfs::fcntl::ksys_close(t.proc().unwrap(), 4).unwrap();
        assert!(k.objs.live().iter().all(|(_, r)| r.ty != "pipe_inode_info"));
        assert!(k.objs.reports().is_empty());
    }

    #[test]
    fn packets_and_sigpipe() {
        let (_k, t) = setup();
        let (r, w) = files(&t, O_NONBLOCK | O_DIRECT);
        assert_eq!(vfs_write(&w, b"hello", &t), Ok(5));
        assert_eq!(vfs_write(&w, b"world", &t), Ok(5));
        assert_eq!(vfs_read(&r, 3).unwrap(), b"hel", "the rest of the packet is dropped");
        assert_eq!(vfs_read(&r, 100).unwrap(), b"world");
        drop(r);
        crate::vfs::fcntl::ksys_close(t.proc().unwrap(), 3).unwrap();
        let sigpipes = || t.proc().unwrap().sigcount(crate::abi::SIGPIPE as usize);
        assert_eq!(sigpipes(), 0);
        assert_eq!(vfs_write(&w, b"x", &t), Err(Errno::EPIPE));
        assert_eq!(sigpipes(), 1, "the writer's process got SIGPIPE");
        assert_eq!(w.ops().poll(&w, None), POLLOUT | POLLWRNORM | POLLERR);
    }
}
