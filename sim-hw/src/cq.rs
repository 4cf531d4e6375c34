//! Completion queues and work completions.
//!
//! A CQE becomes visible to the driver when its 64-byte DMA write lands (the
//! PCIe model decides when); [`Cq`] holds the visible entries in order for
//! the driver to poll. Arming (`REQ_NOTIFY_CQ`) is one-shot: the next CQE
//! written after arming makes the HCA write an EQE and raise the completion
//! interrupt, and disarms the CQ, so the driver must re-arm after each event
//! (IBTA Vol. 1 sec. 11.4.2.2; rxe_cq.c `rxe_cq_post` clears `notify`). A CQE
//! arriving at a full CQ puts the CQ in error and raises CQ_ERR (rxe_cq.c).
//! The CQ ring and the EQ live in the model, not in host memory; only their
//! PCIe cost is charged.
//!
//! CREATE_CQ and RESIZE_CQ size a CQ as mlx5 does (mlx5_ib_create_cq,
//! mlx5_ib_resize_cq): the ring has a power of two of entries, one kept
//! free, so `cqe` entries are granted as `roundup_pow_of_two(cqe + 1) - 1`;
//! more than [`crate::device::MAX_CQE`] is refused, and a resize below
//! the entries waiting to be polled too (rxe_cq.c `rxe_cq_chk_attr`).
//!
//! Key types: [`Cq`], [`Cqe`], [`WcStatus`], [`WcOpcode`], [`CqError`].

use std::collections::VecDeque;

use crate::device::MAX_CQE;
use crate::hca::Hca;

/// Why CREATE_CQ or RESIZE_CQ failed (-EINVAL in mlx5 and rxe).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CqError {
    /// No such CQ, or destroyed.
    BadCq,
    /// 0 entries, more than the device's, or fewer than are waiting.
    InvalidSize,
}

/// The entries granted for `cqe` asked.
fn granted(cqe: u32) -> Result<u32, CqError> {
    if cqe == 0 || cqe > MAX_CQE {
        return Err(CqError::InvalidSize);
    }
    Ok((cqe + 1).next_power_of_two() - 1)
}

impl Hca {
    /// CREATE_CQ of at least `cqe` entries: (CQ, entries granted).
    pub fn create_cq_sized(&mut self, cqe: u32) -> Result<(u32, u32), CqError> {
        let n = granted(cqe)?;
        Ok((self.create_cq(n as usize), n))
    }

    /// RESIZE_CQ to at least `cqe` entries: the entries granted. The
    /// CQEs waiting to be polled stay, in order.
    pub fn resize_cq(&mut self, cq: u32, cqe: u32) -> Result<u32, CqError> {
        let n = granted(cqe)?;
        let c = self.cqs.get_mut(cq as usize).filter(|c| !c.destroyed).ok_or(CqError::BadCq)?;
        if (n as usize) < c.entries.len() {
            return Err(CqError::InvalidSize);
        }
        c.capacity = n as usize;
        Ok(n)
    }
}

/// Work completion status (`enum ib_wc_status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WcStatus {
    Success,
    /// A local operation (LOCAL_INV) failed (IB_WC_LOC_QP_OP_ERR).
    LocQpOpErr,
    /// A BIND_MW work request failed its checks (IB_WC_MW_BIND_ERR).
    MwBindErr,
    /// Receive buffer too small for the incoming SEND.
    LocLenErr,
    /// An lkey reference failed the MR checks (or a gather faulted).
    LocProtErr,
    /// Flushed because the QP is in error.
    WrFlushErr,
    /// The responder rejected the request (opcode sequence, length).
    RemInvReqErr,
    /// The responder's rkey/bounds/access check failed.
    RemAccessErr,
    /// The responder failed locally.
    RemOpErr,
    /// Transport retries (ACK timeout or sequence NAK) exhausted.
    RetryExcErr,
    /// RNR NAK retries exhausted.
    RnrRetryExcErr,
}

/// Work completion opcode (`enum ib_wc_opcode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WcOpcode {
    Send,
    RdmaWrite,
    RdmaRead,
    CompSwap,
    FetchAdd,
    BindMw,
    LocalInv,
    Recv,
    /// The receive an RDMA WRITE with immediate consumed
    /// (IB_WC_RECV_RDMA_WITH_IMM).
    RecvRdmaWithImm,
}

/// How a CQ is armed (REQ_NOTIFY_CQ's `solicited_only`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Arm {
    No,
    /// IB_CQ_NEXT_COMP: any CQE raises the event.
    Next,
    /// IB_CQ_SOLICITED: only a solicited receive, or a receive completed
    /// in error, raises it (rxe_cq.c `rxe_cq_post`).
    Solicited,
}

/// A completion queue entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cqe {
    pub wr_id: u64,
    pub status: WcStatus,
    pub opcode: WcOpcode,
    pub byte_len: u32,
    pub qpn: u32,
    /// UD receives: the sender's QP (wc.src_qp); 0 otherwise.
    pub src_qp: u32,
    /// UD receives: the sender's LID (wc.slid); 0 otherwise.
    pub slid: u16,
    /// A receive of a SEND_WITH_INVALIDATE: the rkey it invalidated
    /// (IB_WC_WITH_INVALIDATE, wc.ex.invalidate_rkey).
    pub invalidated_rkey: Option<u32>,
    /// A receive of a SEND or WRITE with immediate: the immediate data
    /// (IB_WC_WITH_IMM, wc.ex.imm_data).
    pub imm: Option<u32>,
}

impl Cqe {
    /// A completion of a work request other than a UD receive (no source QP
    /// or LID).
    pub fn new(wr_id: u64, status: WcStatus, opcode: WcOpcode, byte_len: u32, qpn: u32) -> Cqe {
        Cqe { wr_id, status, opcode, byte_len, qpn, src_qp: 0, slid: 0, invalidated_rkey: None, imm: None }
    }
}

/// One completion queue.
#[derive(Debug)]
pub struct Cq {
    pub(crate) capacity: usize,
    pub(crate) entries: VecDeque<Cqe>,
    pub(crate) armed: Arm,
    pub(crate) error: bool,
    pub(crate) destroyed: bool,
}

impl Cq {
    pub(crate) fn new(capacity: usize) -> Cq {
        Cq { capacity, entries: VecDeque::new(), armed: Arm::No, error: false, destroyed: false }
    }

    /// Whether the CQ overflowed.
    pub fn is_error(&self) -> bool {
        self.error
    }
    /// Whether a completion event is armed.
    pub fn is_armed(&self) -> bool {
        self.armed != Arm::No
    }
    /// Entries it holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
    /// Entries visible to the driver.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    /// Whether no entry is visible.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
