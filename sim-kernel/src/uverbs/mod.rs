//! InfiniBand user verbs (`drivers/infiniband/core/uverbs.h`, Linux
//! 3.13/3.14): the character device `/dev/infiniband/uverbsN` through
//! which libibverbs drives an HCA with write() commands, its user objects
//! and its event files.
//!
//! This module is `uverbs.h`: the structures the other files share.
//! [`uverbs_main`] is `uverbs_main.c` (the device, open/close, the write()
//! framing, the event files), [`uverbs_cmd`] is `uverbs_cmd.c` (one
//! handler per command, the handle tables and the user-object life
//! cycle), [`abi`] is `include/uapi/rdma/ib_user_verbs.h`.
//!
//! Key types: [`IbUverbsDevice`] (`struct ib_uverbs_device`: one per HCA),
//! [`IbUverbsFile`] (`struct ib_uverbs_file`: one per open of the device),
//! [`IbUcontext`] (`struct ib_ucontext`, made by GET_CONTEXT),
//! [`IbUobject`] (`struct ib_uobject` with its type's part: PD, MR, CQ),
//! [`IbUverbsEventFile`] (`struct ib_uverbs_event_file`: the async event
//! file and completion channels).
//!
//! Lock order (as Linux's): `file->mutex` ([`IbUverbsFile`]'s lists) and
//! a uobject's rwsem are taken in either order never; a create holds the
//! new object's rwsem for writing, then dependency read locks, then briefly
//! `ib_uverbs_idr_lock` ([`UverbsGlobal::idr`]), then `file->mutex`; a
//! lookup takes `ib_uverbs_idr_lock` alone (to find and reference the
//! object), drops it, then the object's rwsem. An event file's lock and a
//! device's reference lock ([`IbUverbsDevice`]'s `refs`) are innermost:
//! nothing is taken under them.
//!
//! Race windows named as yield points (for the trace):
//! `uverbs:get_context_locked` (GET_CONTEXT holds `file->mutex`, before its
//! check of `file->ucontext`), `uverbs:create_findable` (a new object is in
//! its handle table, not yet live), `uverbs:destroy_dead` (a destroyed
//! object is not live, still in its table), `uverbs:remove_one_wait`
//! (a removal about to wait for the device's files).

pub mod abi;
pub mod uverbs_cmd;
pub mod uverbs_cmd_qp;
pub mod uverbs_main;

use crate::kernel::Kernel;
use crate::objtrack::ObjHeader;
use crate::sched::WaitQueueHead;
use crate::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use crate::sync::{Arc, Mutex, RwSemaphore};
use std::collections::VecDeque;

pub use uverbs_main::{
    ib_dispatch_port_event, ib_dispatch_qp_event, ib_unregister_device, ib_uverbs_comp_handler,
    ib_uverbs_cq_event_handler, ib_uverbs_qp_event_handler,
};

/// A reference count (`struct kref`): the last put returns true.
pub(crate) struct Kref(AtomicUsize);

impl Kref {
    fn new() -> Self {
        Kref(AtomicUsize::new(1))
    }
    fn get(&self, key: u64) {
        crate::sched::fine_point("atomic");
        crate::footprint::access(key, true);
        self.0.fetch_add(1, Ordering::AcqRel);
    }
    /// `kref_put`: true if that was the last reference.
    fn put(&self, key: u64) -> bool {
        crate::sched::fine_point("atomic");
        crate::footprint::access(key, true);
        self.0.fetch_sub(1, Ordering::AcqRel) == 1
    }
}

/// What the HCA reports to QUERY_DEVICE and QUERY_PORT (`struct
/// ib_device_attr`, `struct ib_port_attr`): fixed values of ksim's HCA
/// model, shaped as a ConnectX-3's (vendor 0x02c9, one 4X FDR port).
#[derive(Clone, Copy, Debug)]
pub struct HcaAttr {
    pub fw_ver: u64,
    pub node_guid: u64,
    pub vendor_id: u32,
    pub vendor_part_id: u32,
    pub max_qp: u32,
    pub max_qp_wr: u32,
    pub max_sge: u32,
    pub max_cq: u32,
    pub max_cqe: u32,
    pub max_mr: u32,
    pub max_pd: u32,
    pub max_qp_rd_atom: u32,
    pub max_srq: u32,
    pub phys_port_cnt: u8,
}

/// `struct ib_uverbs_device`: one per HCA, `/dev/infiniband/uverbs<devnum>`.
pub struct IbUverbsDevice {
    pub devnum: u32,
    /// The HCA's name (`ibdev`): `hca0` is `uverbs0`.
    pub name: &'static str,
    pub num_comp_vectors: u32,
    /// `ib_dev->uverbs_cmd_mask`: the commands the driver supports. ksim's
    /// HCA model lists the commands whose handlers are built (the others
    /// give ENOSYS, as a driver without them does).
    pub uverbs_cmd_mask: u64,
    /// `ib_dev->uverbs_ex_cmd_mask`.
    pub uverbs_ex_cmd_mask: u64,
    pub attr: HcaAttr,
    /// `device->event_handler_list` (under `event_handler_lock`): the
    /// files with a context, whose async event files get port events.
    pub(crate) event_handlers: Mutex<Vec<Arc<IbUverbsFile>>>,
    /// `ref` (the device's own reference, dropped by `ib_uverbs_remove_one`,
    /// and one per uverbs file) and `comp`, completed when it reaches 0,
    /// with whether the device node is gone (`cdev_del`).
    pub(crate) refs: WaitQueueHead<DevRefs>,
    /// The driver's state: the HCA model (`sim_hw::hca::Hca`), under the
    /// driver's lock (innermost: taken under a uobject's rwsem, never the
    /// other way round). The driver calls of CREATE_CQ/DESTROY_CQ and the
    /// QP commands go to it; its progress over virtual time (`step`) is
    /// not driven by the executor yet, so a posted send stays queued.
    pub(crate) hca: Mutex<sim_hw::hca::Hca>,
}

/// What a device's `ref`/`comp` wait queue protects.
pub(crate) struct DevRefs {
    pub count: usize,
    pub removed: bool,
}

/// The uverbs globals of one kernel: the devices and the handle tables.
pub struct UverbsGlobal {
    pub devices: Vec<Arc<IbUverbsDevice>>,
    /// `ib_uverbs_idr_lock` and the per-type IDRs it protects.
    pub(crate) idr: Mutex<Idrs>,
}

impl UverbsGlobal {
    /// The two HCAs of ksim's machine, `hca0` and `hca1`.
    pub fn new() -> Self {
        UverbsGlobal {
            devices: (0..2).map(|n| Arc::new(uverbs_main::hca_device(n))).collect(),
            idr: Mutex::new(Idrs::default()),
        }
    }
}

impl Default for UverbsGlobal {
    fn default() -> Self {
        UverbsGlobal::new()
    }
}

/// One IDR (`struct idr`): handles are indexes, the lowest free one first
/// (`idr_alloc(idr, uobj, 0, 0, GFP_NOWAIT)`).
#[derive(Default)]
pub(crate) struct Idr(Vec<Option<Arc<IbUobject>>>);

impl Idr {
    fn alloc(&mut self, u: Arc<IbUobject>) -> u32 {
        match self.0.iter().position(Option::is_none) {
            Some(i) => {
                self.0[i] = Some(u);
                i as u32
            }
            None => {
                self.0.push(Some(u));
                (self.0.len() - 1) as u32
            }
        }
    }
    /// The objects in the table, by handle.
    fn iter(&self) -> impl Iterator<Item = &Arc<IbUobject>> {
        self.0.iter().flatten()
    }
    fn find(&self, id: u32) -> Option<&Arc<IbUobject>> {
        self.0.get(id as usize).and_then(Option::as_ref)
    }
    fn remove(&mut self, id: u32) {
        if let Some(s) = self.0.get_mut(id as usize) {
            *s = None;
        }
        while matches!(self.0.last(), Some(None)) {
            self.0.pop();
        }
    }
}

/// The per-type IDRs (`ib_uverbs_pd_idr`, `ib_uverbs_mr_idr`,
/// `ib_uverbs_cq_idr`, `ib_uverbs_rule_idr`): global across files and
/// devices, as in 3.x.
#[derive(Default)]
pub(crate) struct Idrs {
    pub pd: Idr,
    pub mr: Idr,
    pub cq: Idr,
    pub qp: Idr,
    /// Flow rules (EX_CREATE_FLOW is not built: always empty).
    pub rule: Idr,
}

/// The type of a user object, naming its IDR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UobjType {
    Pd,
    Mr,
    Cq,
    Qp,
    Rule,
}

impl Idrs {
    fn of_ref(&self, t: UobjType) -> &Idr {
        match t {
            UobjType::Pd => &self.pd,
            UobjType::Mr => &self.mr,
            UobjType::Cq => &self.cq,
            UobjType::Qp => &self.qp,
            UobjType::Rule => &self.rule,
        }
    }
    fn of(&mut self, t: UobjType) -> &mut Idr {
        match t {
            UobjType::Pd => &mut self.pd,
            UobjType::Mr => &mut self.mr,
            UobjType::Cq => &mut self.cq,
            UobjType::Qp => &mut self.qp,
            UobjType::Rule => &mut self.rule,
        }
    }
}

/// `struct ib_ucontext`.
pub struct IbUcontext {
    pub hdr: ObjHeader,
    /// `closing`: set when the file's cleanup starts.
    pub closing: AtomicBool,
}

/// The context's object lists (`ucontext->pd_list` ...), under
/// `file->mutex`.
#[derive(Default)]
pub(crate) struct UcontextLists {
    pub pd: Vec<Arc<IbUobject>>,
    pub mr: Vec<Arc<IbUobject>>,
    pub cq: Vec<Arc<IbUobject>>,
    pub qp: Vec<Arc<IbUobject>>,
    /// `rule_list` (always empty: no flow rule is ever made).
    pub rule: Vec<Arc<IbUobject>>,
}

/// `struct ib_uverbs_file`: one per open of the device.
pub struct IbUverbsFile {
    pub hdr: ObjHeader,
    pub kernel: Arc<Kernel>,
    pub device: Arc<IbUverbsDevice>,
    /// `file->ref`: the open file holds one, the async event file one.
    pub(crate) kref: Kref,
    /// `file->mutex`, with what it protects.
    pub(crate) mutex: Mutex<UcontextLists>,
    /// `file->ucontext`: set (under `file->mutex`) only after GET_CONTEXT
    /// copied its response; other commands read it without the mutex.
    pub(crate) ucontext: Mutex<Option<Arc<IbUcontext>>>,
    /// `file->async_file`.
    pub(crate) async_file: Mutex<Option<Arc<IbUverbsEventFile>>>,
}

impl IbUverbsFile {
    /// Whether the file is still allocated (its `private_data` is used
    /// through the open fd): reports a use-after-free otherwise.
    pub fn check(&self, op: &'static str) -> bool {
        self.kernel.objs.check(&self.hdr, op)
    }

    /// `file->ucontext`, read without `file->mutex` (a plain load in
    /// Linux; the simulator's lock around the pointer is no scheduling
    /// point).
    pub fn ucontext(&self) -> Option<Arc<IbUcontext>> {
        crate::footprint::access(self.hdr.id(), false);
        self.ucontext.lock_quiet().clone()
    }
}

/// Which counter of its object a queued event bumps when it is read
/// (`entry->counter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counter {
    /// `ucq->comp_events_reported`.
    Comp,
    /// `ucq->async_events_reported`.
    Async,
}

/// `struct ib_uverbs_event`.
pub(crate) struct Event {
    /// `desc`: 16 bytes for an async event, 8 for a completion event.
    pub desc: [u8; 16],
    /// The object whose counter a read bumps (port events have none), and
    /// which one. A destroy purges its object's queued events.
    pub obj: Option<(Arc<IbUobject>, Counter)>,
}

/// What an event file's lock protects.
pub(crate) struct EvQueue {
    pub is_closed: bool,
    pub events: VecDeque<Event>,
}

/// `struct ib_uverbs_event_file`: the async event file of a context, or a
/// completion channel.
pub struct IbUverbsEventFile {
    pub hdr: ObjHeader,
    pub is_async: bool,
    /// An async file whose event handler GET_CONTEXT registered: its
    /// release unregisters it and puts the uverbs file (a file that
    /// GET_CONTEXT gave up on before that has nothing to undo).
    pub(crate) registered: AtomicBool,
    pub(crate) kref: Kref,
    /// `uverbs_file` (the event file holds a reference on it).
    pub uverbs_file: Arc<IbUverbsFile>,
    /// `lock`, `event_list`, `is_closed` and `poll_wait`.
    pub(crate) queue: WaitQueueHead<EvQueue>,
}

/// The part of a user object its type adds.
pub enum UobjKind {
    /// `struct ib_pd`: `usecnt` counts the MRs (and later QPs, AHs, SRQs,
    /// MWs) on it.
    Pd { usecnt: AtomicU32 },
    /// `struct ib_mr`: its PD (whose use count it holds). Its keys are
    /// derived from its handle; the pages are checked at registration but
    /// not pinned yet (no HCA reads them).
    Mr { pd: Arc<IbUobject> },
    /// `struct ib_ucq_object`.
    Cq {
        /// The completion channel (`cq->cq_context`), holding a reference.
        channel: Option<Arc<IbUverbsEventFile>>,
        /// `uverbs_file`, for async events on the CQ.
        ufile: Arc<IbUverbsFile>,
        cqe: u32,
        /// The HCA's CQ number.
        hw: u32,
        /// `cq->usecnt`: the QPs using it (DESTROY_CQ: EBUSY while not 0).
        usecnt: AtomicU32,
        /// The arming REQ_NOTIFY_CQ left for the driver
        /// (`ib_req_notify_cq`): 0 none, [`CQ_NEXT_COMP`] or
        /// [`CQ_SOLICITED`]; the driver disarms it when it raises the
        /// completion event (not wired yet).
        notify: AtomicU32,
        comp_events_reported: AtomicU32,
        async_events_reported: AtomicU32,
    },
    /// `struct ib_uqp_object`: the QP (`qp_num` on the HCA), the PD and
    /// CQs whose use counts it holds, and `uevent.events_reported`.
    Qp {
        pd: Arc<IbUobject>,
        send_cq: Arc<IbUobject>,
        recv_cq: Arc<IbUobject>,
        ufile: Arc<IbUverbsFile>,
        qpn: u32,
        qp_type: sim_hw::qp::QpType,
        sq_sig_all: bool,
        events_reported: AtomicU32,
    },
    /// A flow rule (never made: EX_CREATE_FLOW is not built).
    Rule,
}

/// `IB_CQ_NEXT_COMP`: the next completion raises a completion event.
pub const CQ_NEXT_COMP: u32 = 2;
/// `IB_CQ_SOLICITED`: the next solicited completion does.
pub const CQ_SOLICITED: u32 = 1;

/// `struct ib_uobject`: `user_handle`, `context`, `id`, the rwsem
/// (`mutex`) protecting `live`, and the type's part.
pub struct IbUobject {
    pub hdr: ObjHeader,
    pub user_handle: u64,
    /// The owning context's object id (`uobj->context`).
    pub context: u64,
    pub id: AtomicU32,
    /// `uobj->mutex`, protecting `live`.
    pub mutex: RwSemaphore<bool>,
    pub kind: UobjKind,
}

impl IbUobject {
    pub fn handle(&self) -> u32 {
        self.id.load(Ordering::Relaxed)
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
