//! The command handlers (`drivers/infiniband/core/uverbs_cmd.c`, Linux
//! 3.14) and the user-object life cycle of its header comment.
//!
//! Every handler copies its command struct from user memory (EFAULT on a
//! fault), whatever `in_words` said; a handler with a response first
//! checks `out_len` against it (ENOSPC) and copies it to the address the
//! command names (EFAULT on an unmapped or read-only page).
//!
//! Life cycle ("a slightly funky two-step" of 9ead190bfde2, 2.6.18):
//! - create: the new object's rwsem is held for writing from the start;
//!   the object enters its type's handle table (findable: a lookup now
//!   waits on the rwsem), the response is copied (a failure removes it and
//!   undoes the create: EFAULT), it joins the context's list under
//!   `file->mutex`, and only then is it marked live and the rwsem dropped;
//! - lookup (`idr_read_uobj`/`idr_write_uobj`): find it and take a
//!   reference under `ib_uverbs_idr_lock`, checking the owning context;
//!   take the rwsem (read to use, write to destroy); fail if not live. Any
//!   failure is EINVAL;
//! - destroy: under the write lock, the driver's destroy (a failure, e.g.
//!   EBUSY, changes nothing), `live = 0`, unlock; then out of the table,
//!   off the list, its queued events purged, the response (whose copy may
//!   fail with EFAULT after the object is gone).
//!
//! Lock order: see [`super`].

use super::abi::*;
use super::uverbs_cmd_qp as qp;
use super::uverbs_main::{
    copy_resp, ib_uverbs_alloc_event_file, purge_events, put_event_file, Body, EventFops, EVENT_FD_FLAGS,
};
use super::{IbUcontext, IbUobject, IbUverbsFile, UobjKind, UobjType};
use crate::errno::{Errno, KResult};
use crate::mm::memory::fault_page;
use crate::mm::PAGE_MASK;
use crate::sched::yield_point;
use crate::sync::atomic::{AtomicU32, Ordering};
use crate::sync::{Arc, RwSemReadGuard, RwSemWriteGuard, RwSemaphore};
use crate::task::Task;

/// The write() table for the commands built: `(*uverbs_cmd_table[cmd])(file,
/// buf, in_len, out_len)`. The device's command mask keeps the others out
/// (ENOSYS before this is reached).
pub(crate) fn dispatch(
    file: &Arc<IbUverbsFile>,
    t: &Task,
    cmd: u32,
    body: &Body,
    in_len: usize,
    out_len: usize,
) -> KResult<()> {
    match cmd {
        IB_USER_VERBS_CMD_GET_CONTEXT => ib_uverbs_get_context(file, t, body, out_len),
        IB_USER_VERBS_CMD_QUERY_DEVICE => ib_uverbs_query_device(file, t, body, out_len),
        IB_USER_VERBS_CMD_QUERY_PORT => ib_uverbs_query_port(file, t, body, out_len),
        IB_USER_VERBS_CMD_ALLOC_PD => ib_uverbs_alloc_pd(file, t, body, out_len),
        IB_USER_VERBS_CMD_DEALLOC_PD => ib_uverbs_dealloc_pd(file, body),
        IB_USER_VERBS_CMD_REG_MR => ib_uverbs_reg_mr(file, t, body, out_len),
        IB_USER_VERBS_CMD_DEREG_MR => ib_uverbs_dereg_mr(file, body),
        IB_USER_VERBS_CMD_CREATE_COMP_CHANNEL => ib_uverbs_create_comp_channel(file, t, body, out_len),
        IB_USER_VERBS_CMD_CREATE_CQ => ib_uverbs_create_cq(file, t, body, out_len),
        IB_USER_VERBS_CMD_POLL_CQ => ib_uverbs_poll_cq(file, t, body),
        IB_USER_VERBS_CMD_REQ_NOTIFY_CQ => ib_uverbs_req_notify_cq(file, body),
        IB_USER_VERBS_CMD_DESTROY_CQ => ib_uverbs_destroy_cq(file, t, body),
        IB_USER_VERBS_CMD_CREATE_QP => qp::ib_uverbs_create_qp(file, t, body, out_len),
        IB_USER_VERBS_CMD_QUERY_QP => qp::ib_uverbs_query_qp(file, t, body),
        IB_USER_VERBS_CMD_MODIFY_QP => qp::ib_uverbs_modify_qp(file, body),
        IB_USER_VERBS_CMD_DESTROY_QP => qp::ib_uverbs_destroy_qp(file, t, body),
        IB_USER_VERBS_CMD_POST_SEND => qp::ib_uverbs_post_send(file, t, body, in_len),
        IB_USER_VERBS_CMD_POST_RECV => qp::ib_uverbs_post_recv(file, t, body, in_len),
        _ => Err(Errno::ENOSYS),
    }
}

/// The extended table (`uverbs_ex_cmd_table[cmd](file, &ucore, &uhw)`):
/// `in_len` and `out_len` are the core parts (`ucore`).
pub(crate) fn dispatch_ex(
    file: &Arc<IbUverbsFile>,
    _t: &Task,
    cmd: u32,
    body: &Body,
    in_len: usize,
    _response: u64,
    _out_len: usize,
) -> KResult<()> {
    match cmd {
        IB_USER_VERBS_EX_CMD_DESTROY_FLOW => ib_uverbs_ex_destroy_flow(file, body, in_len),
        _ => Err(Errno::ENOSYS),
    }
}

/// The key of `ib_uverbs_idr_lock` and the tables it protects.
pub(super) fn idr_key() -> u64 {
    crate::footprint::uverbs_idr_key()
}

/// The context commands run in (`file->ucontext`): write() checked it is
/// set before calling any handler but GET_CONTEXT's, and it stays set
/// until the file is released.
pub(super) fn ucontext(file: &IbUverbsFile) -> KResult<Arc<IbUcontext>> {
    file.ucontext().ok_or(Errno::EINVAL)
}

/// `init_uobj`: a new object, not live, not in any table.
pub(super) fn init_uobj(file: &IbUverbsFile, user_handle: u64, ctx: &IbUcontext, kind: UobjKind) -> Arc<IbUobject> {
    Arc::new(IbUobject {
        hdr: file.kernel.objs.register("ib_uobject"),
        user_handle,
        context: ctx.hdr.id(),
        id: AtomicU32::new(0),
        mutex: RwSemaphore::new(false),
        kind,
    })
}

/// `idr_add_uobj`: the lowest free handle of its type's table.
pub(super) fn idr_add_uobj(file: &IbUverbsFile, ty: UobjType, u: &Arc<IbUobject>) {
    crate::footprint::access(idr_key(), true);
    let id = file.kernel.uverbs.idr.lock().of(ty).alloc(u.clone());
    u.id.store(id, Ordering::Relaxed);
}

/// `idr_remove_uobj`.
pub(super) fn idr_remove_uobj(file: &IbUverbsFile, ty: UobjType, u: &IbUobject) {
    crate::footprint::access(idr_key(), true);
    file.kernel.uverbs.idr.lock().of(ty).remove(u.handle());
}

/// `__idr_get_uobj`: the object with handle `id` in its table, owned by
/// `ctx`, with a reference taken, under `ib_uverbs_idr_lock`.
pub(super) fn idr_get_uobj(file: &IbUverbsFile, ty: UobjType, id: u32, ctx: &IbUcontext) -> Option<Arc<IbUobject>> {
    crate::footprint::access(idr_key(), false);
    let g = file.kernel.uverbs.idr.lock();
    let u = g.of_ref(ty).find(id)?;
    (u.context == ctx.hdr.id()).then(|| u.clone())
}

/// `idr_read_uobj`'s second half: the read lock, then the live check.
pub(super) fn read_live(u: &IbUobject) -> Option<RwSemReadGuard<'_, bool>> {
    crate::footprint::access(u.hdr.id(), false);
    let g = u.mutex.down_read();
    (*g).then_some(g)
}

/// `idr_write_uobj`'s second half: the write lock, then the live check.
pub(super) fn write_live(u: &IbUobject) -> Option<RwSemWriteGuard<'_, bool>> {
    crate::footprint::access(u.hdr.id(), true);
    let g = u.mutex.down_write();
    (*g).then_some(g)
}

/// The lock a create holds on its new object from the start.
pub(super) fn create_lock(u: &IbUobject) -> RwSemWriteGuard<'_, bool> {
    crate::footprint::access(u.hdr.id(), true);
    u.mutex.down_write()
}

/// `put_uobj` of the last reference: the object is freed.
pub(super) fn free_uobj(file: &IbUverbsFile, u: &IbUobject) {
    file.kernel.objs.release(&u.hdr);
}

/// `mutex_lock(&file->mutex)`.
pub(super) fn file_lock(file: &IbUverbsFile) -> crate::sync::MutexGuard<'_, super::UcontextLists> {
    crate::footprint::access(file.hdr.id(), true);
    file.mutex.lock()
}

pub(super) fn resp_addr(cmd: &[u8]) -> u64 {
    u64_at(cmd, 0)
}

/// GET_CONTEXT (`ib_uverbs_get_context`): ENOSPC and the command copy
/// before `file->mutex`; under it, a context already there: EINVAL. The fd
/// for the async event file is reserved (EMFILE) and the file made; the
/// response is copied (EFAULT: everything undone); then the event handler
/// is registered, the context published, and the fd installed last.
fn ib_uverbs_get_context(file: &Arc<IbUverbsFile>, t: &Task, body: &Body, out_len: usize) -> KResult<()> {
    if out_len < GET_CONTEXT_RESP_SIZE {
        return Err(Errno::ENOSPC);
    }
    let cmd = body.copy(GET_CONTEXT_SIZE)?;
    let lists = file_lock(file);
    yield_point("uverbs:get_context_locked");
    crate::footprint::access(file.hdr.id(), false);
    if file.ucontext.lock_quiet().is_some() {
        return Err(Errno::EINVAL);
    }
    let k = &file.kernel;
    // ibdev->alloc_ucontext.
    let ctx = Arc::new(IbUcontext { hdr: k.objs.register("ib_ucontext"), closing: Default::default() });
    let p = t.proc()?;
    let fd = match p.files.alloc_fd(0, p.rlimit_nofile(), EVENT_FD_FLAGS & crate::abi::O_CLOEXEC != 0) {
        Ok(fd) => fd,
        Err(e) => {
            k.objs.release(&ctx.hdr);
            return Err(e);
        }
    };
    let (ev, filp) = ib_uverbs_alloc_event_file(file, true);
    let mut resp = [0u8; GET_CONTEXT_RESP_SIZE];
    resp[..4].copy_from_slice(&(fd as u32).to_le_bytes());
    resp[4..].copy_from_slice(&file.device.num_comp_vectors.to_le_bytes());
    if let Err(e) = copy_resp(t, resp_addr(&cmd), &resp) {
        // err_file: fput(filp), which runs the event file's release; the
        // async-file teardown there is for a registered file only.
        drop(filp);
        p.files.put_unused_fd(fd);
        k.objs.release(&ctx.hdr);
        return Err(e);
    }
    ev.kref.get(ev.hdr.id());
    *file.async_file.lock_quiet() = Some(ev.clone());
    // ib_register_event_handler.
    file.device.event_handlers.lock().push(file.clone());
    ev.registered.store(true, Ordering::Relaxed);
    // The async file's reference on the uverbs file.
    file.kref.get(file.hdr.id());
    crate::footprint::access(file.hdr.id(), true);
    *file.ucontext.lock_quiet() = Some(ctx);
    p.files.fd_install(fd, filp);
    drop(lists);
    Ok(())
}

/// QUERY_DEVICE (`ib_uverbs_query_device`): ENOSPC, the copy, the
/// device's attributes (`struct ib_uverbs_query_device_resp`, 176 bytes).
fn ib_uverbs_query_device(file: &IbUverbsFile, t: &Task, body: &Body, out_len: usize) -> KResult<()> {
    if out_len < QUERY_DEVICE_RESP_SIZE {
        return Err(Errno::ENOSPC);
    }
    let cmd = body.copy(QUERY_DEVICE_SIZE)?;
    let a = &file.device.attr;
    let mut r = Vec::with_capacity(QUERY_DEVICE_RESP_SIZE);
    r.extend_from_slice(&a.fw_ver.to_le_bytes());
    // node_guid and sys_image_guid are __be64.
    r.extend_from_slice(&a.node_guid.to_be_bytes());
    r.extend_from_slice(&a.node_guid.to_be_bytes());
    r.extend_from_slice(&u64::MAX.to_le_bytes()); // max_mr_size
    r.extend_from_slice(&0xffff_f000u64.to_le_bytes()); // page_size_cap
    let words: [u32; 33] = [
        a.vendor_id,
        a.vendor_part_id,
        0, // hw_ver
        a.max_qp,
        a.max_qp_wr,
        0x0005_9c76, // device_cap_flags
        a.max_sge,
        a.max_sge, // max_sge_rd
        a.max_cq,
        a.max_cqe,
        a.max_mr,
        a.max_pd,
        a.max_qp_rd_atom,
        0,                           // max_ee_rd_atom
        a.max_qp_rd_atom * a.max_qp, // max_res_rd_atom
        a.max_qp_rd_atom,            // max_qp_init_rd_atom
        0,                           // max_ee_init_rd_atom
        1,                           // atomic_cap: IB_ATOMIC_HCA
        0,                           // max_ee
        0,                           // max_rdd
        0,                           // max_mw
        0,                           // max_raw_ipv6_qp
        0,                           // max_raw_ethy_qp
        8192,                        // max_mcast_grp
        248,                         // max_mcast_qp_attach
        8192 * 248,                  // max_total_mcast_qp_attach
        0x7fff_ffff,                 // max_ah
        0,                           // max_fmr
        0,                           // max_map_per_fmr
        a.max_srq,
        16_383, // max_srq_wr
        31,     // max_srq_sge
        0,
    ];
    for w in &words[..32] {
        r.extend_from_slice(&w.to_le_bytes());
    }
    r.extend_from_slice(&128u16.to_le_bytes()); // max_pkeys
    r.push(15); // local_ca_ack_delay
    r.push(a.phys_port_cnt);
    r.extend_from_slice(&[0; 4]);
    debug_assert_eq!(r.len(), QUERY_DEVICE_RESP_SIZE);
    copy_resp(t, resp_addr(&cmd), &r)
}

/// QUERY_PORT (`ib_uverbs_query_port`): ENOSPC, the copy, then
/// `ib_query_port`: a port outside 1..=phys_port_cnt is EINVAL
/// (`drivers/infiniband/core/device.c`). The port is up: ACTIVE, 4X FDR,
/// MTU 4096, LID devnum + 1.
fn ib_uverbs_query_port(file: &IbUverbsFile, t: &Task, body: &Body, out_len: usize) -> KResult<()> {
    if out_len < QUERY_PORT_RESP_SIZE {
        return Err(Errno::ENOSPC);
    }
    let cmd = body.copy(QUERY_PORT_SIZE)?;
    let port = cmd[8];
    if port == 0 || port > file.device.attr.phys_port_cnt {
        return Err(Errno::EINVAL);
    }
    let mut r = Vec::with_capacity(QUERY_PORT_RESP_SIZE);
    for w in [0x0251_0868u32, 0x4000_0000, 0, 0, 128] {
        // port_cap_flags, max_msg_sz, bad_pkey_cntr, qkey_viol_cntr, gid_tbl_len
        r.extend_from_slice(&w.to_le_bytes());
    }
    let lid = file.device.devnum as u16 + 1;
    for h in [128u16, lid, 1] {
        // pkey_tbl_len, lid, sm_lid
        r.extend_from_slice(&h.to_le_bytes());
    }
    // state ACTIVE, max_mtu 4096, active_mtu 4096, lmc, max_vl_num,
    // sm_sl, subnet_timeout, init_type_reply, active_width 4X,
    // active_speed FDR, phys_state LinkUp, link_layer InfiniBand.
    r.extend_from_slice(&[4, 5, 5, 0, 4, 0, 18, 0, 2, 16, 5, 1, 0, 0]);
    debug_assert_eq!(r.len(), QUERY_PORT_RESP_SIZE);
    copy_resp(t, resp_addr(&cmd), &r)
}

/// The end of every create: on the context's list under `file->mutex`,
/// live, unlocked.
pub(super) fn publish(
    file: &IbUverbsFile,
    u: &Arc<IbUobject>,
    mut g: RwSemWriteGuard<'_, bool>,
    list: fn(&mut super::UcontextLists) -> &mut Vec<Arc<IbUobject>>,
) {
    list(&mut file_lock(file)).push(u.clone());
    *g = true;
}

/// ALLOC_PD (`ib_uverbs_alloc_pd`).
fn ib_uverbs_alloc_pd(file: &IbUverbsFile, t: &Task, body: &Body, out_len: usize) -> KResult<()> {
    if out_len < ALLOC_PD_RESP_SIZE {
        return Err(Errno::ENOSPC);
    }
    let cmd = body.copy(ALLOC_PD_SIZE)?;
    let ctx = ucontext(file)?;
    let u = init_uobj(file, 0, &ctx, UobjKind::Pd { usecnt: AtomicU32::new(0) });
    let g = create_lock(&u);
    idr_add_uobj(file, UobjType::Pd, &u);
    yield_point("uverbs:create_findable");
    if let Err(e) = copy_resp(t, resp_addr(&cmd), &u.handle().to_le_bytes()) {
        idr_remove_uobj(file, UobjType::Pd, &u);
        drop(g);
        free_uobj(file, &u);
        return Err(e);
    }
    publish(file, &u, g, |l| &mut l.pd);
    Ok(())
}

/// The two-step destroy's first half (`idr_write_uobj`, the driver's
/// destroy `drv`, `live = 0` on success, `put_uobj_write`), then the
/// second: out of the table and off the context's list. Returns the
/// object, whose type's part the caller still has to release.
pub(super) fn destroy_uobj(
    file: &IbUverbsFile,
    ty: UobjType,
    handle: u32,
    drv: impl FnOnce(&IbUobject) -> KResult<()>,
    list: fn(&mut super::UcontextLists) -> &mut Vec<Arc<IbUobject>>,
) -> KResult<Arc<IbUobject>> {
    let ctx = ucontext(file)?;
    let u = idr_get_uobj(file, ty, handle, &ctx).ok_or(Errno::EINVAL)?;
    {
        let mut g = write_live(&u).ok_or(Errno::EINVAL)?;
        drv(&u)?;
        *g = false;
    }
    yield_point("uverbs:destroy_dead");
    idr_remove_uobj(file, ty, &u);
    list(&mut file_lock(file)).retain(|x| !Arc::ptr_eq(x, &u));
    Ok(u)
}

/// `ib_dealloc_pd` (`drivers/infiniband/core/verbs.c`): EBUSY while
/// anything uses the PD.
fn ib_dealloc_pd(u: &IbUobject) -> KResult<()> {
    match &u.kind {
        UobjKind::Pd { usecnt } if usecnt.load(Ordering::Relaxed) != 0 => Err(Errno::EBUSY),
        _ => Ok(()),
    }
}

/// DEALLOC_PD (`ib_uverbs_dealloc_pd`): bad handle, another context's or
/// a dead one: EINVAL; in use: EBUSY.
fn ib_uverbs_dealloc_pd(file: &IbUverbsFile, body: &Body) -> KResult<()> {
    let cmd = body.copy(DEALLOC_PD_SIZE)?;
    let u = destroy_uobj(file, UobjType::Pd, u32_at(&cmd, 0), ib_dealloc_pd, |l| &mut l.pd)?;
    free_uobj(file, &u);
    Ok(())
}

/// `ib_umem_get` for REG_MR (`drivers/infiniband/core/umem.c`): the range
/// must not wrap (EINVAL); every page is faulted in for writing when the
/// access asks more than REMOTE_READ (`umem->writable`), else for
/// reading, as `get_user_pages` does: a page that cannot be is EFAULT.
/// (The pages are not pinned yet: no HCA reads them.)
fn ib_umem_get(t: &Task, start: u64, len: u64, access: u32) -> KResult<()> {
    let end = start.checked_add(len).ok_or(Errno::EINVAL)?;
    if end.checked_add(!PAGE_MASK).is_none() {
        return Err(Errno::EINVAL);
    }
    let writable = access & !IBV_ACCESS_REMOTE_READ != 0;
    let mm = &t.proc()?.mm;
    let mut a = start & PAGE_MASK;
    while a < end {
        fault_page(mm, a, writable, |_| ()).map_err(|_| Errno::EFAULT)?;
        a += !PAGE_MASK + 1;
    }
    Ok(())
}

/// REG_MR (`ib_uverbs_reg_mr`): ENOSPC; the copy; `start` and `hca_va`
/// at different offsets in their pages: EINVAL; REMOTE_WRITE or
/// REMOTE_ATOMIC without LOCAL_WRITE: EINVAL (`ib_check_mr_access`); the
/// PD's lookup: EINVAL; the pages: EINVAL or EFAULT ([`ib_umem_get`]).
fn ib_uverbs_reg_mr(file: &IbUverbsFile, t: &Task, body: &Body, out_len: usize) -> KResult<()> {
    if out_len < REG_MR_RESP_SIZE {
        return Err(Errno::ENOSPC);
    }
    let cmd = body.copy(REG_MR_SIZE)?;
    let (start, length, hca_va) = (u64_at(&cmd, 8), u64_at(&cmd, 16), u64_at(&cmd, 24));
    let (pd_handle, access) = (u32_at(&cmd, 32), u32_at(&cmd, 36));
    if (start & !PAGE_MASK) != (hca_va & !PAGE_MASK) {
        return Err(Errno::EINVAL);
    }
    if access & (IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_ATOMIC) != 0 && access & IBV_ACCESS_LOCAL_WRITE == 0 {
        return Err(Errno::EINVAL);
    }
    let ctx = ucontext(file)?;
    let pd = idr_get_uobj(file, UobjType::Pd, pd_handle, &ctx).ok_or(Errno::EINVAL)?;
    let pd_g = read_live(&pd).ok_or(Errno::EINVAL)?;
    ib_umem_get(t, start, length, access)?;
    let u = init_uobj(file, 0, &ctx, UobjKind::Mr { pd: pd.clone() });
    let g = create_lock(&u);
    idr_add_uobj(file, UobjType::Mr, &u);
    // The keys: one per MR handle (as mlx4's, an index shifted past an
    // 8-bit key).
    let key = (u.handle() + 1) << 8;
    if let UobjKind::Pd { usecnt } = &pd.kind {
        usecnt.fetch_add(1, Ordering::Relaxed);
    }
    yield_point("uverbs:create_findable");
    let mut resp = [0u8; REG_MR_RESP_SIZE];
    resp[..4].copy_from_slice(&u.handle().to_le_bytes());
    resp[4..8].copy_from_slice(&key.to_le_bytes());
    resp[8..].copy_from_slice(&key.to_le_bytes());
    if let Err(e) = copy_resp(t, resp_addr(&cmd), &resp) {
        idr_remove_uobj(file, UobjType::Mr, &u);
        if let UobjKind::Pd { usecnt } = &pd.kind {
            usecnt.fetch_sub(1, Ordering::Relaxed);
        }
        drop(g);
        drop(pd_g);
        free_uobj(file, &u);
        return Err(e);
    }
    drop(pd_g);
    publish(file, &u, g, |l| &mut l.mr);
    Ok(())
}

/// `ib_dereg_mr`: the PD's use count drops.
fn ib_dereg_mr(u: &IbUobject) -> KResult<()> {
    if let UobjKind::Mr { pd, .. } = &u.kind {
        if let UobjKind::Pd { usecnt } = &pd.kind {
            usecnt.fetch_sub(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// DEREG_MR (`ib_uverbs_dereg_mr`).
fn ib_uverbs_dereg_mr(file: &IbUverbsFile, body: &Body) -> KResult<()> {
    let cmd = body.copy(DEREG_MR_SIZE)?;
    let u = destroy_uobj(file, UobjType::Mr, u32_at(&cmd, 0), ib_dereg_mr, |l| &mut l.mr)?;
    free_uobj(file, &u);
    Ok(())
}

/// CREATE_COMP_CHANNEL (`ib_uverbs_create_comp_channel`): ENOSPC; the
/// copy; an fd (EMFILE); the event file; the response (EFAULT: the fd
/// and the file are given back); then the fd is installed.
fn ib_uverbs_create_comp_channel(file: &Arc<IbUverbsFile>, t: &Task, body: &Body, out_len: usize) -> KResult<()> {
    if out_len < CREATE_COMP_CHANNEL_RESP_SIZE {
        return Err(Errno::ENOSPC);
    }
    let cmd = body.copy(CREATE_COMP_CHANNEL_SIZE)?;
    let p = t.proc()?;
    let fd = p.files.alloc_fd(0, p.rlimit_nofile(), true)?;
    let (_ev, filp) = ib_uverbs_alloc_event_file(file, false);
    if let Err(e) = copy_resp(t, resp_addr(&cmd), &(fd as u32).to_le_bytes()) {
        p.files.put_unused_fd(fd);
        drop(filp);
        return Err(e);
    }
    p.files.fd_install(fd, filp);
    Ok(())
}

/// `ib_uverbs_lookup_comp_file(fd)`: the completion channel behind `fd`
/// in the caller's table, with a reference; not an event file, or the
/// async one: none.
fn lookup_comp_file(t: &Task, fd: i32) -> Option<Arc<super::IbUverbsEventFile>> {
    let f = t.proc().ok()?.files.fget(fd as i64).ok()?;
    let ev = &f.ops_as::<EventFops>()?.ev;
    if ev.is_async {
        return None;
    }
    ev.kref.get(ev.hdr.id());
    Some(ev.clone())
}

/// CREATE_CQ (`ib_uverbs_create_cq`): ENOSPC; the copy; `comp_vector`
/// not below the device's count: EINVAL; a `comp_channel` (>= 0) that is
/// not a completion channel: EINVAL; the driver's CQ size rule (mlx4:
/// `cqe` outside 1..=max_cqe: EINVAL; the CQ holds
/// `roundup_pow_of_two(cqe + 1) - 1` entries, `drivers/infiniband/hw/mlx4/cq.c`).
fn ib_uverbs_create_cq(file: &Arc<IbUverbsFile>, t: &Task, body: &Body, out_len: usize) -> KResult<()> {
    if out_len < CREATE_CQ_RESP_SIZE {
        return Err(Errno::ENOSPC);
    }
    let cmd = body.copy(CREATE_CQ_SIZE)?;
    let (user_handle, cqe, comp_vector) = (u64_at(&cmd, 8), u32_at(&cmd, 16), u32_at(&cmd, 20));
    let comp_channel = u32_at(&cmd, 24) as i32;
    if comp_vector >= file.device.num_comp_vectors {
        return Err(Errno::EINVAL);
    }
    let ctx = ucontext(file)?;
    let channel = if comp_channel >= 0 { Some(lookup_comp_file(t, comp_channel).ok_or(Errno::EINVAL)?) } else { None };
    if cqe < 1 || cqe > file.device.attr.max_cqe {
        if let Some(ch) = &channel {
            put_event_file(ch);
        }
        return Err(Errno::EINVAL);
    }
    let entries = (cqe + 1).next_power_of_two() - 1;
    // The driver's create_cq: the HCA's CQ of that many entries.
    let hw = file.device.hca.lock().create_cq(entries as usize);
    let u = init_uobj(
        file,
        user_handle,
        &ctx,
        UobjKind::Cq {
            channel: channel.clone(),
            ufile: file.clone(),
            cqe: entries,
            hw,
            usecnt: AtomicU32::new(0),
            notify: AtomicU32::new(0),
            comp_events_reported: AtomicU32::new(0),
            async_events_reported: AtomicU32::new(0),
        },
    );
    let g = create_lock(&u);
    idr_add_uobj(file, UobjType::Cq, &u);
    yield_point("uverbs:create_findable");
    let mut resp = [0u8; CREATE_CQ_RESP_SIZE];
    resp[..4].copy_from_slice(&u.handle().to_le_bytes());
    resp[4..].copy_from_slice(&entries.to_le_bytes());
    if let Err(e) = copy_resp(t, resp_addr(&cmd), &resp) {
        idr_remove_uobj(file, UobjType::Cq, &u);
        let _ = ib_destroy_cq(file, &u);
        ib_uverbs_release_ucq(file, &u);
        drop(g);
        free_uobj(file, &u);
        return Err(e);
    }
    publish(file, &u, g, |l| &mut l.cq);
    Ok(())
}

/// `idr_read_cq`: the CQ of handle `h` in the caller's context, live.
pub(super) fn read_cq(file: &IbUverbsFile, h: u32) -> KResult<Arc<IbUobject>> {
    let ctx = ucontext(file)?;
    idr_get_uobj(file, UobjType::Cq, h, &ctx).ok_or(Errno::EINVAL)
}

/// The driver's `poll_cq` for one entry: the next completion of the CQ,
/// if any. The HCA model is not wired to uverbs yet, so a CQ never holds
/// a completion and this finds none.
fn ib_poll_cq(_cq: &IbUobject) -> Option<[u8; UVERBS_WC_SIZE]> {
    None
}

/// POLL_CQ (`ib_uverbs_poll_cq`): no ENOSPC check; the copy; the CQ's
/// lookup (EINVAL); up to `ne` completions polled one at a time and
/// copied after the 8-byte header (`ib_uverbs_wc`, 48 bytes each), then
/// the header `{count, reserved}` (EFAULT on a fault of either).
fn ib_uverbs_poll_cq(file: &IbUverbsFile, t: &Task, body: &Body) -> KResult<()> {
    let cmd = body.copy(POLL_CQ_SIZE)?;
    let (h, ne) = (u32_at(&cmd, 8), u32_at(&cmd, 12));
    let cq = read_cq(file, h)?;
    let _g = read_live(&cq).ok_or(Errno::EINVAL)?;
    let header = resp_addr(&cmd);
    let mut count = 0u32;
    while count < ne {
        let Some(wc) = ib_poll_cq(&cq) else { break };
        copy_resp(t, header + (POLL_CQ_RESP_SIZE + count as usize * UVERBS_WC_SIZE) as u64, &wc)?;
        count += 1;
    }
    let mut resp = [0u8; POLL_CQ_RESP_SIZE];
    resp[..4].copy_from_slice(&count.to_le_bytes());
    copy_resp(t, header, &resp)
}

/// REQ_NOTIFY_CQ (`ib_uverbs_req_notify_cq`): the copy; the CQ's lookup
/// (EINVAL); `ib_req_notify_cq` with `IB_CQ_SOLICITED` if
/// `solicited_only`, else `IB_CQ_NEXT_COMP`. No response.
fn ib_uverbs_req_notify_cq(file: &IbUverbsFile, body: &Body) -> KResult<()> {
    let cmd = body.copy(REQ_NOTIFY_CQ_SIZE)?;
    let cq = read_cq(file, u32_at(&cmd, 0))?;
    let _g = read_live(&cq).ok_or(Errno::EINVAL)?;
    if let UobjKind::Cq { notify, .. } = &cq.kind {
        crate::footprint::access(cq.hdr.id(), true);
        let how = if u32_at(&cmd, 4) != 0 { super::CQ_SOLICITED } else { super::CQ_NEXT_COMP };
        notify.store(how, Ordering::Relaxed);
    }
    Ok(())
}

/// `ib_uverbs_release_ucq`: purge the CQ's queued completion events from
/// its channel (and drop the reference on it), and its async events from
/// the file's async event file, each under that file's lock.
fn ib_uverbs_release_ucq(file: &IbUverbsFile, u: &Arc<IbUobject>) {
    if let UobjKind::Cq { channel, .. } = &u.kind {
        if let Some(ch) = channel {
            purge_events(ch, u);
            put_event_file(ch);
        }
        let af = file.async_file.lock_quiet().clone();
        if let Some(af) = af {
            purge_events(&af, u);
        }
    }
}

/// `ib_destroy_cq` (`drivers/infiniband/core/verbs.c`): EBUSY while a QP
/// uses the CQ (`cq->usecnt`); else the driver's destroy (the HCA writes
/// no more CQEs to it and raises nothing for it).
fn ib_destroy_cq(file: &IbUverbsFile, u: &IbUobject) -> KResult<()> {
    if let UobjKind::Cq { hw, usecnt, .. } = &u.kind {
        if usecnt.load(Ordering::Relaxed) != 0 {
            return Err(Errno::EBUSY);
        }
        file.device.hca.lock().destroy_cq(*hw);
    }
    Ok(())
}

/// DESTROY_CQ (`ib_uverbs_destroy_cq`): the two-step destroy, the purge
/// of its queued events, then the counts of the events already read
/// (`comp_events_reported`, `async_events_reported`) copied to the
/// response: EFAULT there comes after the CQ is gone.
fn ib_uverbs_destroy_cq(file: &IbUverbsFile, t: &Task, body: &Body) -> KResult<()> {
    let cmd = body.copy(DESTROY_CQ_SIZE)?;
    let u = destroy_uobj(file, UobjType::Cq, u32_at(&cmd, 8), |u| ib_destroy_cq(file, u), |l| &mut l.cq)?;
    ib_uverbs_release_ucq(file, &u);
    let mut resp = [0u8; DESTROY_CQ_RESP_SIZE];
    if let UobjKind::Cq { comp_events_reported, async_events_reported, .. } = &u.kind {
        resp[..4].copy_from_slice(&comp_events_reported.load(Ordering::Relaxed).to_le_bytes());
        resp[4..].copy_from_slice(&async_events_reported.load(Ordering::Relaxed).to_le_bytes());
    }
    free_uobj(file, &u);
    copy_resp(t, resp_addr(&cmd), &resp)
}

/// EX_DESTROY_FLOW (`ib_uverbs_ex_destroy_flow`): the core part shorter
/// than the struct: EINVAL; the copy; a non-zero `comp_mask`: EINVAL; the
/// rule's lookup: EINVAL (no rule exists: CREATE_FLOW is not built).
fn ib_uverbs_ex_destroy_flow(file: &IbUverbsFile, body: &Body, in_len: usize) -> KResult<()> {
    if in_len < EX_DESTROY_FLOW_SIZE {
        return Err(Errno::EINVAL);
    }
    let cmd = body.copy(EX_DESTROY_FLOW_SIZE)?;
    if u32_at(&cmd, 0) != 0 {
        return Err(Errno::EINVAL);
    }
    let u = destroy_uobj(file, UobjType::Rule, u32_at(&cmd, 4), |_| Ok(()), |l| &mut l.rule)?;
    free_uobj(file, &u);
    Ok(())
}

/// `ib_uverbs_cleanup_ucontext` when the file is released: every object
/// of the context destroyed, errors ignored, in Linux's order (of the
/// types built: QP, CQ, MR, PD), then the context freed and the file's
/// reference on its async event file put.
pub(crate) fn ib_uverbs_cleanup_ucontext(file: &Arc<IbUverbsFile>) {
    crate::footprint::access(file.hdr.id(), true);
    let Some(ctx) = file.ucontext.lock_quiet().take() else {
        return;
    };
    ctx.closing.store(true, Ordering::Relaxed);
    let lists = std::mem::take(&mut *file_lock(file));
    for u in &lists.qp {
        idr_remove_uobj(file, UobjType::Qp, u);
        qp::ib_destroy_qp(file, u);
        qp::ib_uverbs_release_uevent(file, u);
        free_uobj(file, u);
    }
    for u in &lists.cq {
        idr_remove_uobj(file, UobjType::Cq, u);
        let _ = ib_destroy_cq(file, u);
        ib_uverbs_release_ucq(file, u);
        free_uobj(file, u);
    }
    for u in &lists.mr {
        idr_remove_uobj(file, UobjType::Mr, u);
        let _ = ib_dereg_mr(u);
        free_uobj(file, u);
    }
    for u in &lists.pd {
        idr_remove_uobj(file, UobjType::Pd, u);
        free_uobj(file, u);
    }
    file.kernel.objs.release(&ctx.hdr);
    let af = file.async_file.lock_quiet().take();
    if let Some(af) = af {
        put_event_file(&af);
    }
}
