//! The uverbs device and its files (`drivers/infiniband/core/uverbs_main.c`,
//! Linux 3.14): `ib_uverbs_open`, `ib_uverbs_write` (the command framing,
//! errno for errno), `ib_uverbs_close` (the context's cleanup), and the
//! event files: `ib_uverbs_event_read`/`_poll`/`_close`, the producers
//! `ib_uverbs_comp_handler`, `ib_uverbs_cq_event_handler` and
//! `ib_uverbs_event_handler` (port events), and
//! `ib_uverbs_alloc_event_file`.
//!
//! The main fd has write and release only: read is EINVAL (no `->read`),
//! poll the default mask, lseek ESPIPE (`nonseekable_open`).
//!
//! Lock order: see [`super`]. An event file's lock (its wait queue's) is
//! taken last and nothing is taken under it; a read copies the event to
//! user memory after dropping it.

use super::abi::*;
use super::uverbs_cmd;
use super::{Counter, EvQueue, Event, HcaAttr, IbUobject, IbUverbsDevice, IbUverbsEventFile, IbUverbsFile, Kref};
use super::{DevRefs, UcontextLists, UobjKind};
use crate::abi::{O_CLOEXEC, O_RDONLY, POLLIN, POLLRDNORM};
use crate::bugs::Bug;
use crate::errno::{Errno, KResult};
use crate::kernel::Kernel;
use crate::mm::memory::{copy_from_user, copy_to_user};
use crate::mm::{MmStruct, TASK_SIZE};
use crate::sched::{PollTable, WaitQueueHead};
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::{Arc, Mutex};
use crate::task::Task;
use crate::vfs::anon_inode::anon_inode_getfile;
use crate::vfs::file::{File, FileOps, FileRef};
use crate::vfs::Llseek;
use std::any::Any;
use std::collections::VecDeque;

/// The commands ksim's HCA model supports (`uverbs_cmd_mask`): those whose
/// handlers are built.
const CMD_MASK: u64 = 1 << IB_USER_VERBS_CMD_GET_CONTEXT
    | 1 << IB_USER_VERBS_CMD_QUERY_DEVICE
    | 1 << IB_USER_VERBS_CMD_QUERY_PORT
    | 1 << IB_USER_VERBS_CMD_ALLOC_PD
    | 1 << IB_USER_VERBS_CMD_DEALLOC_PD
    | 1 << IB_USER_VERBS_CMD_REG_MR
    | 1 << IB_USER_VERBS_CMD_DEREG_MR
    | 1 << IB_USER_VERBS_CMD_CREATE_COMP_CHANNEL
    | 1 << IB_USER_VERBS_CMD_CREATE_CQ
    | 1 << IB_USER_VERBS_CMD_POLL_CQ
    | 1 << IB_USER_VERBS_CMD_REQ_NOTIFY_CQ
    | 1 << IB_USER_VERBS_CMD_DESTROY_CQ
    | 1 << IB_USER_VERBS_CMD_CREATE_QP
    | 1 << IB_USER_VERBS_CMD_QUERY_QP
    | 1 << IB_USER_VERBS_CMD_MODIFY_QP
    | 1 << IB_USER_VERBS_CMD_DESTROY_QP
    | 1 << IB_USER_VERBS_CMD_POST_SEND
    | 1 << IB_USER_VERBS_CMD_POST_RECV;

/// `uverbs_ex_cmd_mask`: DESTROY_FLOW only (CREATE_FLOW is not built, so
/// no rule ever exists and DESTROY_FLOW's lookup always fails).
const EX_CMD_MASK: u64 = 1 << (IB_USER_VERBS_EX_CMD_DESTROY_FLOW - IB_USER_VERBS_CMD_THRESHOLD);

/// The inode numbers of the device nodes (not shown to scenarios).
const DEV_INO_BASE: u64 = 1 << 40;

/// HCA `n` of ksim's machine (`ib_uverbs_add_one`).
pub(crate) fn hca_device(n: u32) -> IbUverbsDevice {
    IbUverbsDevice {
        devnum: n,
        name: ["hca0", "hca1"][n as usize % 2],
        num_comp_vectors: 1,
        hca: Mutex::new(sim_hw::hca::Hca::new(n as u16 + 1, sim_hw::Profile::cx4_edr())),
        uverbs_cmd_mask: CMD_MASK,
        uverbs_ex_cmd_mask: EX_CMD_MASK,
        attr: HcaAttr {
            fw_ver: (2 << 32) | (42 << 16) | 5000,
            node_guid: 0x0002_c903_0000_1000 + n as u64,
            vendor_id: 0x02c9,
            vendor_part_id: 4099,
            max_qp: 131_000,
            max_qp_wr: 16_351,
            max_sge: 32,
            max_cq: 65_408,
            max_cqe: 4_194_303,
            max_mr: 524_032,
            max_pd: 32_764,
            max_qp_rd_atom: 16,
            max_srq: 65_472,
            phys_port_cnt: 1,
        },
        event_handlers: Mutex::new(Vec::new()),
        refs: WaitQueueHead::new(
            "ib_uverbs_device.comp",
            crate::footprint::uverbs_dev_key(n),
            DevRefs { count: 1, removed: false },
        ),
    }
}

impl IbUverbsDevice {
    /// The reference count and removal state, under its lock.
    fn refs(&self) -> crate::sched::WqGuard<'_, DevRefs> {
        crate::footprint::access(crate::footprint::uverbs_dev_key(self.devnum), true);
        self.refs.lock()
    }

    /// `kref_put(&dev->ref, ib_uverbs_release_dev)`: the last one
    /// completes `dev->comp`, waking the removal.
    fn put(&self) {
        let mut g = self.refs();
        // A put with none left is a refcounting bug elsewhere (reported
        // there as a double free); the count stays at 0.
        g.count = g.count.saturating_sub(1);
        if g.count == 0 {
            g.wake_up_locked(POLLIN);
        }
    }
}

/// `ib_unregister_device` for HCA `devnum` (`ib_uverbs_remove_one`,
/// before Linux 4.2): the device node goes (later opens: ENOENT), the
/// device's own reference is dropped, and the caller waits until every
/// file of the device is released, the async event files included (each
/// holds its uverbs file, which holds the device: the 2006 fix "Avoid a
/// crash on device hot remove"). EINVAL for an unknown or removed HCA.
pub fn ib_unregister_device(kernel: &Kernel, devnum: u32) -> KResult<()> {
    let dev = kernel.uverbs.devices.get(devnum as usize).ok_or(Errno::EINVAL)?;
    let mut g = dev.refs();
    if g.removed {
        return Err(Errno::EINVAL);
    }
    g.removed = true;
    // device_destroy: the node goes (the cdev stays until the files go).
    kernel.chrdevs.delete_node(&node_path(devnum));
    g.count -= 1;
    if g.count != 0 {
        crate::sched::yield_point("uverbs:remove_one_wait");
        dev.refs.wait_locked(g, |g| (g.count == 0).then_some(()))?;
    }
    Ok(())
}

/// `IB_UVERBS_BASE_DEV` (`MKDEV(IB_UVERBS_MAJOR 231, IB_UVERBS_BASE_MINOR 192)`).
const IB_UVERBS_BASE_DEV: crate::vfs::char_dev::DevT = crate::vfs::char_dev::mkdev(231, 192);

/// The node of HCA `n` (`uverbs_devnode`: `infiniband/uverbsN`).
fn node_path(n: u32) -> String {
    format!("/dev/infiniband/uverbs{n}")
}

/// The cdev of one HCA (`uverbs_dev->cdev`, whose open is `ib_uverbs_open`).
struct UverbsCdev(Arc<IbUverbsDevice>);

impl crate::vfs::char_dev::CdevOps for UverbsCdev {
    fn open(&self, kernel: &Arc<Kernel>, _dev: u32, _flags: u32) -> KResult<Box<dyn FileOps>> {
        ib_uverbs_open(kernel, self.0.clone())
    }
}

/// `ib_uverbs_add_one`'s registration for each HCA: its region, its cdev
/// and its node `/dev/infiniband/uverbsN`.
pub(crate) fn ib_uverbs_add_nodes(kernel: &Kernel) {
    for d in &kernel.uverbs.devices {
        let dev = IB_UVERBS_BASE_DEV + d.devnum;
        if kernel.chrdevs.register_chrdev_region(dev, 1).is_ok() {
            kernel.chrdevs.cdev_add(dev, Arc::new(UverbsCdev(d.clone())));
            kernel.chrdevs.create_node(&node_path(d.devnum), dev);
        }
    }
}

/// The device node at `path`, if there is one: `/dev/infiniband/uverbsN`
/// for each HCA (`uverbs_devnode`). The VFS's open asks this.
pub fn lookup_dev(kernel: &Arc<Kernel>, path: &str) -> Option<(u64, Arc<IbUverbsDevice>)> {
    let n: usize = path.strip_prefix("/dev/infiniband/uverbs")?.parse().ok()?;
    // "uverbs00" or "uverbs+0" are not the node's name.
    if path.len() != "/dev/infiniband/uverbs".len() + n.to_string().len() {
        return None;
    }
    let d = kernel.uverbs.devices.get(n)?;
    crate::footprint::access(crate::footprint::uverbs_dev_key(d.devnum), false);
    if d.refs.lock().removed {
        return None;
    }
    Some((DEV_INO_BASE + n as u64, d.clone()))
}

/// `ib_uverbs_open`: a reference on the device, taken only while it has
/// one (a device whose count reached 0 is being removed: ENXIO, the later
/// kernels' `atomic_inc_not_zero`), then a new `ib_uverbs_file` with no
/// context. The file is nonseekable (no llseek: lseek is ESPIPE).
pub fn ib_uverbs_open(kernel: &Arc<Kernel>, device: Arc<IbUverbsDevice>) -> KResult<Box<dyn FileOps>> {
    {
        let mut g = device.refs();
        if g.count == 0 {
            return Err(Errno::ENXIO);
        }
        g.count += 1;
    }
    let file = Arc::new(IbUverbsFile {
        hdr: kernel.objs.register("ib_uverbs_file"),
        kernel: kernel.clone(),
        device,
        kref: Kref::new(),
        mutex: Mutex::new(UcontextLists::default()),
        ucontext: Mutex::new(None),
        async_file: Mutex::new(None),
    });
    Ok(Box::new(UverbsFops { file }))
}

/// `uverbs_fops`: the main fd's operations.
pub struct UverbsFops {
    pub file: Arc<IbUverbsFile>,
}

/// Where a write's bytes are: the buffer a scenario's `write(FD, BYTES)`
/// passes (as if in user memory, followed by an unmapped page: reading
/// past it is EFAULT), or a range of the process's address space.
pub enum UserBuf<'a> {
    Bytes(&'a [u8]),
    Mem { mm: &'a MmStruct, addr: u64 },
}

impl UserBuf<'_> {
    /// `copy_from_user(dst, buf + off, len)`: EFAULT if any byte faults.
    pub fn copy(&self, off: usize, len: usize) -> KResult<Vec<u8>> {
        match self {
            UserBuf::Bytes(b) => {
                b.get(off..off.checked_add(len).ok_or(Errno::EFAULT)?).map(<[u8]>::to_vec).ok_or(Errno::EFAULT)
            }
            UserBuf::Mem { mm, addr } => {
                copy_from_user(mm, addr.checked_add(off as u64).ok_or(Errno::EFAULT)?, len as u64)
                    .map_err(|_| Errno::EFAULT)
            }
        }
    }
}

/// `copy_to_user(addr, data)` into the caller's address space: EFAULT on
/// an unmapped or read-only page.
pub fn copy_resp(t: &Task, addr: u64, data: &[u8]) -> KResult<()> {
    copy_to_user(&t.proc()?.mm, addr, data).map_err(|_| Errno::EFAULT)
}

/// The handler of command `cmd` in 3.14's `uverbs_cmd_table`, if it has
/// one (MODIFY_AH, QUERY_AH, REG_SMR, REREG_MR, QUERY_MR, BIND_MW and
/// PEEK_CQ have none). The handlers ksim has not built yet are listed
/// too: the device's command mask leaves them out (ENOSYS).
fn has_handler(cmd: u32) -> bool {
    cmd <= IB_USER_VERBS_CMD_OPEN_QP
        && !matches!(
            cmd,
            IB_USER_VERBS_CMD_MODIFY_AH
                | IB_USER_VERBS_CMD_QUERY_AH
                | IB_USER_VERBS_CMD_REG_SMR
                | IB_USER_VERBS_CMD_REREG_MR
                | IB_USER_VERBS_CMD_QUERY_MR
                | IB_USER_VERBS_CMD_BIND_MW
                | IB_USER_VERBS_CMD_PEEK_CQ
        )
}

/// `ib_uverbs_write` (3.14), in its order: `count < 8`: EINVAL; the
/// header faults: EFAULT; then by the flags (bits 24..31): 0 is a legacy
/// command, 0x80 an extended one (each first refusing bits 8..23 with
/// EINVAL), any other ENOSYS. Returns `count` on success.
pub fn ib_uverbs_write(file: &Arc<IbUverbsFile>, t: &Task, buf: &UserBuf, count: usize) -> KResult<usize> {
    if count < CMD_HDR_SIZE {
        return Err(Errno::EINVAL);
    }
    let hdr = buf.copy(0, CMD_HDR_SIZE)?;
    let command = u32_at(&hdr, 0);
    let in_words = u16_at(&hdr, 4) as usize;
    let out_words = u16_at(&hdr, 6) as usize;
    // Bits 8..23: EINVAL, checked inside the legacy and the extended
    // branch only (3.14 `ib_uverbs_write`): other flags are ENOSYS first.
    let stray = command & !(IB_USER_VERBS_CMD_FLAGS_MASK | IB_USER_VERBS_CMD_COMMAND_MASK) != 0;
    let cmd = command & IB_USER_VERBS_CMD_COMMAND_MASK;
    let flags = (command & IB_USER_VERBS_CMD_FLAGS_MASK) >> IB_USER_VERBS_CMD_FLAGS_SHIFT;
    let dev = &file.device;
    if flags == 0 {
        if stray {
            return Err(Errno::EINVAL);
        }
        if !has_handler(cmd) {
            return Err(Errno::EINVAL);
        }
        if file.ucontext().is_none() && cmd != IB_USER_VERBS_CMD_GET_CONTEXT {
            return Err(Errno::EINVAL);
        }
        if dev.uverbs_cmd_mask & (1 << cmd) == 0 {
            return Err(Errno::ENOSYS);
        }
        if in_words * 4 != count {
            return Err(Errno::EINVAL);
        }
        let body = Body { buf, off: CMD_HDR_SIZE };
        uverbs_cmd::dispatch(file, t, cmd, &body, in_words * 4, out_words * 4)?;
        Ok(count)
    } else if flags == IB_USER_VERBS_CMD_FLAG_EXTENDED {
        if stray {
            return Err(Errno::EINVAL);
        }
        // uverbs_ex_cmd_table: CREATE_FLOW and DESTROY_FLOW.
        if !(IB_USER_VERBS_EX_CMD_CREATE_FLOW..=IB_USER_VERBS_EX_CMD_DESTROY_FLOW).contains(&cmd) {
            return Err(Errno::ENOSYS);
        }
        if file.ucontext().is_none() {
            return Err(Errno::EINVAL);
        }
        if dev.uverbs_ex_cmd_mask & (1 << (cmd - IB_USER_VERBS_CMD_THRESHOLD)) == 0 {
            return Err(Errno::ENOSYS);
        }
        if count < CMD_HDR_SIZE + EX_CMD_HDR_SIZE {
            return Err(Errno::EINVAL);
        }
        let ex = buf.copy(CMD_HDR_SIZE, EX_CMD_HDR_SIZE)?;
        let response = u64_at(&ex, 0);
        let provider_in_words = u16_at(&ex, 8) as usize;
        let provider_out_words = u16_at(&ex, 10) as usize;
        let reserved = u32_at(&ex, 12);
        let rest = count - CMD_HDR_SIZE - EX_CMD_HDR_SIZE;
        // Extended word counts are 8-byte words, headers excluded.
        if (in_words + provider_in_words) * 8 != rest {
            return Err(Errno::EINVAL);
        }
        if reserved != 0 {
            return Err(Errno::EINVAL);
        }
        if response != 0 {
            if out_words == 0 && provider_out_words == 0 {
                return Err(Errno::EINVAL);
            }
            // access_ok(VERIFY_WRITE, response, len): the range is below
            // TASK_SIZE (mapped or not: a fault comes at the copy).
            let len = ((out_words + provider_out_words) * 8) as u64;
            if response.checked_add(len).is_none_or(|end| end > TASK_SIZE) {
                return Err(Errno::EFAULT);
            }
        } else if out_words != 0 || provider_out_words != 0 {
            return Err(Errno::EINVAL);
        }
        let body = Body { buf, off: CMD_HDR_SIZE + EX_CMD_HDR_SIZE };
        uverbs_cmd::dispatch_ex(file, t, cmd, &body, in_words * 8, response, out_words * 8)?;
        Ok(count)
    } else {
        Err(Errno::ENOSYS)
    }
}

/// A command's body: the user buffer past the header(s).
pub struct Body<'a> {
    pub buf: &'a UserBuf<'a>,
    pub off: usize,
}

impl Body<'_> {
    /// `copy_from_user(&cmd, buf, sizeof cmd)`: the handler's struct,
    /// whatever `in_words` said.
    pub fn copy(&self, len: usize) -> KResult<Vec<u8>> {
        self.buf.copy(self.off, len)
    }
}

impl FileOps for UverbsFops {
    fn name(&self) -> &'static str {
        "uverbs"
    }

    fn path(&self, _file: &File) -> String {
        format!("/dev/infiniband/uverbs{}", self.file.device.devnum)
    }

    fn llseek(&self) -> Llseek {
        Llseek::None
    }

    fn write(&self, _file: &File, data: &[u8], caller: &Task) -> KResult<usize> {
        self.file.check("ib_uverbs_write");
        ib_uverbs_write(&self.file, caller, &UserBuf::Bytes(data), data.len())
    }

    fn write_user(&self, _file: &File, mm: &MmStruct, addr: u64, count: usize, caller: &Task) -> KResult<usize> {
        self.file.check("ib_uverbs_write");
        ib_uverbs_write(&self.file, caller, &UserBuf::Mem { mm, addr }, count)
    }

    /// `ib_uverbs_close`: the context's cleanup, then the file reference.
    fn release(&self, _file: &File) {
        self.file.check("ib_uverbs_close");
        uverbs_cmd::ib_uverbs_cleanup_ucontext(&self.file);
        put_uverbs_file(&self.file);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `kref_put(&file->ref, ib_uverbs_release_file)`: the last one puts the
/// device.
pub(crate) fn put_uverbs_file(file: &Arc<IbUverbsFile>) {
    if file.kref.put(file.hdr.id()) {
        file.kernel.objs.release(&file.hdr);
        file.device.put();
    }
}

/// `ib_uverbs_alloc_event_file(uverbs_file, is_async)`: the event file
/// (one reference, the anon file's) and its anon-inode file
/// (`"[infinibandevent]"`, O_RDONLY), in no fd table yet. It takes no
/// reference on the uverbs file: GET_CONTEXT does, for the async file.
pub(crate) fn ib_uverbs_alloc_event_file(
    file: &Arc<IbUverbsFile>,
    is_async: bool,
) -> (Arc<IbUverbsEventFile>, FileRef) {
    let k = &file.kernel;
    let hdr = k.objs.register("ib_uverbs_event_file");
    let owner = hdr.id();
    let ev = Arc::new(IbUverbsEventFile {
        hdr,
        is_async,
        registered: AtomicBool::new(false),
        kref: Kref::new(),
        uverbs_file: file.clone(),
        queue: WaitQueueHead::new(
            "ib_uverbs_event_file.poll_wait",
            owner,
            EvQueue { is_closed: false, events: VecDeque::new() },
        ),
    });
    let filp = anon_inode_getfile(k, Box::new(EventFops { ev: ev.clone() }), O_RDONLY);
    (ev, filp)
}

/// `kref_put(&ev_file->ref, ib_uverbs_release_event_file)`.
pub(crate) fn put_event_file(ev: &Arc<IbUverbsEventFile>) {
    if ev.kref.put(ev.hdr.id()) {
        ev.uverbs_file.kernel.objs.release(&ev.hdr);
    }
}

/// `uverbs_event_fops`: an event file's operations.
pub struct EventFops {
    pub ev: Arc<IbUverbsEventFile>,
}

impl IbUverbsEventFile {
    /// `spin_lock_irq(&file->lock)`, recorded as a change to the file.
    pub(crate) fn lock(&self) -> crate::sched::WqGuard<'_, EvQueue> {
        crate::footprint::access(self.hdr.id(), true);
        self.queue.lock()
    }

    fn desc_size(&self) -> usize {
        if self.is_async {
            ASYNC_EVENT_DESC_SIZE
        } else {
            COMP_EVENT_DESC_SIZE
        }
    }

    /// Queue an event unless the file is closed (then it is dropped), and
    /// wake readers (`ib_uverbs_async_handler`, `ib_uverbs_comp_handler`).
    fn post(&self, desc: [u8; 16], obj: Option<(Arc<IbUobject>, Counter)>) {
        let mut g = self.lock();
        if g.is_closed {
            return;
        }
        g.events.push_back(Event { desc, obj });
        g.wake_up_locked(POLLIN);
    }
}

impl FileOps for EventFops {
    fn name(&self) -> &'static str {
        "infinibandevent"
    }

    fn read(&self, file: &File, len: usize) -> KResult<Vec<u8>> {
        let mut b = vec![0u8; len.min(ASYNC_EVENT_DESC_SIZE)];
        let n = self.read_into(file, &mut b)?;
        b.truncate(n);
        Ok(b)
    }

    /// `ib_uverbs_event_read`: one event per read. Empty: EAGAIN
    /// (O_NONBLOCK) or sleep; a buffer smaller than the event: EINVAL and
    /// the event stays; else dequeue it and count it on its object
    /// (`++*counter`) under the lock, and copy it out after.
    fn read_into(&self, file: &File, buf: &mut [u8]) -> KResult<usize> {
        let ev = &*self.ev;
        let mut g = ev.lock();
        if g.events.is_empty() {
            if file.nonblock() {
                return Err(Errno::EAGAIN);
            }
            g = ev.queue.wait_locked(g, |g| if g.events.is_empty() { None } else { Some(()) })?.1;
        }
        let size = ev.desc_size();
        if size > buf.len() {
            return Err(Errno::EINVAL);
        }
        let e = g.events.pop_front().expect("non-empty");
        if let Some((obj, which)) = &e.obj {
            match (&obj.kind, which) {
                (UobjKind::Cq { comp_events_reported, .. }, Counter::Comp) => {
                    comp_events_reported.fetch_add(1, Ordering::Relaxed);
                }
                (UobjKind::Cq { async_events_reported, .. }, Counter::Async)
                | (UobjKind::Qp { events_reported: async_events_reported, .. }, Counter::Async) => {
                    async_events_reported.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
        }
        drop(g);
        buf[..size].copy_from_slice(&e.desc[..size]);
        Ok(size)
    }

    /// `ib_uverbs_event_poll`: POLLIN|POLLRDNORM while an event is queued.
    fn poll(&self, _file: &File, pt: Option<&mut PollTable>) -> u32 {
        if let Some(pt) = pt {
            pt.wait(&self.ev.queue);
        }
        crate::footprint::access(self.ev.hdr.id(), false);
        if self.ev.queue.lock().events.is_empty() {
            0
        } else {
            POLLIN | POLLRDNORM
        }
    }

    /// `ib_uverbs_event_close`: mark it closed and free its queued events
    /// without counting them; the async file also leaves the device's
    /// event handlers (`ib_unregister_event_handler`) and puts the
    /// reference on the uverbs file GET_CONTEXT took for it.
    fn release(&self, _file: &File) {
        let ev = &self.ev;
        {
            let mut g = ev.lock();
            g.is_closed = true;
            g.events.clear();
        }
        let k = &ev.uverbs_file.kernel;
        if ev.is_async && (ev.registered.load(Ordering::Relaxed) || k.bug(Bug::UverbsGetContextUnregisteredRelease)) {
            let dev = &ev.uverbs_file.device;
            dev.event_handlers.lock().retain(|f| !Arc::ptr_eq(f, &ev.uverbs_file));
            put_uverbs_file(&ev.uverbs_file);
        }
        put_event_file(ev);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The little-endian `ib_uverbs_async_event_desc`.
fn async_desc(element: u64, event_type: u32) -> [u8; 16] {
    let mut d = [0u8; 16];
    d[..8].copy_from_slice(&element.to_le_bytes());
    d[8..12].copy_from_slice(&event_type.to_le_bytes());
    d
}

/// `ib_uverbs_comp_handler`: the driver reports a completion event on
/// `cq` (armed by REQ_NOTIFY_CQ). Queued on the CQ's completion channel,
/// if it has one and it is not closed; a read counts it in
/// `comp_events_reported`. The entry point of the HCA model's interrupt
/// path (not wired yet: no scenario produces completions).
pub fn ib_uverbs_comp_handler(cq: &Arc<IbUobject>) {
    if let UobjKind::Cq { channel: Some(ch), .. } = &cq.kind {
        let mut d = [0u8; 16];
        d[..8].copy_from_slice(&cq.user_handle.to_le_bytes());
        ch.post(d, Some((cq.clone(), Counter::Comp)));
    }
}

/// `ib_uverbs_cq_event_handler`: an async event on `cq` (CQ overrun,
/// `IBV_EVENT_CQ_ERR`), queued on its file's async event file with the
/// CQ's user handle; a read counts it in `async_events_reported`.
pub fn ib_uverbs_cq_event_handler(cq: &Arc<IbUobject>, event: u32) {
    if let UobjKind::Cq { ufile, .. } = &cq.kind {
        let af = ufile.async_file.lock_quiet().clone();
        if let Some(af) = af {
            af.post(async_desc(cq.user_handle, event), Some((cq.clone(), Counter::Async)));
        }
    }
}

/// `ib_uverbs_qp_event_handler`: an affiliated async event on `qp`
/// (`IBV_EVENT_COMM_EST`, `_SQ_DRAINED`, `_QP_FATAL`, ...), queued on its
/// file's async event file with the QP's user handle; a read counts it in
/// `events_reported`.
pub fn ib_uverbs_qp_event_handler(qp: &Arc<IbUobject>, event: u32) {
    if let UobjKind::Qp { ufile, .. } = &qp.kind {
        let af = ufile.async_file.lock_quiet().clone();
        if let Some(af) = af {
            af.post(async_desc(qp.user_handle, event), Some((qp.clone(), Counter::Async)));
        }
    }
}

/// The driver raises an affiliated event on QP number `qpn` of HCA
/// `devnum` (the HCA model's interrupt path, until it is wired; a
/// scenario's kernel call meanwhile): the live user QP of that number
/// gets it ([`ib_uverbs_qp_event_handler`]). No such HCA or QP: EINVAL.
pub fn ib_dispatch_qp_event(kernel: &Kernel, devnum: u32, qpn: u32, event: u32) -> KResult<()> {
    kernel.uverbs.devices.get(devnum as usize).ok_or(Errno::EINVAL)?;
    crate::footprint::access(crate::footprint::uverbs_idr_key(), false);
    let qp = kernel
        .uverbs
        .idr
        .lock()
        .qp
        .iter()
        .find(|u| matches!(&u.kind, UobjKind::Qp { ufile, qpn: n, .. } if *n == qpn && ufile.device.devnum == devnum))
        .cloned()
        .ok_or(Errno::EINVAL)?;
    ib_uverbs_qp_event_handler(&qp, event);
    Ok(())
}

/// `ib_dispatch_event` for a port event (`IBV_EVENT_PORT_ACTIVE`,
/// `_PORT_ERR`, ...): every context of the device gets it on its async
/// event file (`ib_uverbs_event_handler`: element = the port number, no
/// counter). EINVAL for an unknown device or port.
pub fn ib_dispatch_port_event(kernel: &Kernel, devnum: u32, event: u32, port: u8) -> KResult<()> {
    let dev = kernel.uverbs.devices.get(devnum as usize).ok_or(Errno::EINVAL)?;
    if port == 0 || port > dev.attr.phys_port_cnt {
        return Err(Errno::EINVAL);
    }
    let files: Vec<_> = dev.event_handlers.lock().clone();
    for f in files {
        let af = f.async_file.lock_quiet().clone();
        if let Some(af) = af {
            af.post(async_desc(port as u64, event), None);
        }
    }
    Ok(())
}

/// Purge the queued events of `obj` from `ev` under its lock
/// (`ib_uverbs_release_ucq`), so that none is read after the destroy
/// returns.
pub(crate) fn purge_events(ev: &IbUverbsEventFile, obj: &Arc<IbUobject>) {
    let mut g = ev.lock();
    g.events.retain(|e| !matches!(&e.obj, Some((o, _)) if Arc::ptr_eq(o, obj)));
}

/// The flags GET_CONTEXT and CREATE_COMP_CHANNEL reserve their fds with
/// (`get_unused_fd_flags(O_CLOEXEC)`).
pub(crate) const EVENT_FD_FLAGS: u32 = O_CLOEXEC;
