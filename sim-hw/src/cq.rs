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
//! Key types: [`Cq`], [`Cqe`], [`WcStatus`], [`WcOpcode`].

use std::collections::VecDeque;

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
}

impl Cqe {
    /// A completion of a work request other than a UD receive (no source QP
    /// or LID).
    pub fn new(wr_id: u64, status: WcStatus, opcode: WcOpcode, byte_len: u32, qpn: u32) -> Cqe {
        Cqe { wr_id, status, opcode, byte_len, qpn, src_qp: 0, slid: 0, invalidated_rkey: None }
    }
}

/// One completion queue.
#[derive(Debug)]
pub struct Cq {
    pub(crate) capacity: usize,
    pub(crate) entries: VecDeque<Cqe>,
    pub(crate) armed: bool,
    pub(crate) error: bool,
    pub(crate) destroyed: bool,
}

impl Cq {
    pub(crate) fn new(capacity: usize) -> Cq {
        Cq { capacity, entries: VecDeque::new(), armed: false, error: false, destroyed: false }
    }

    /// Whether the CQ overflowed.
    pub fn is_error(&self) -> bool {
        self.error
    }
    /// Whether a completion event is armed.
    pub fn is_armed(&self) -> bool {
        self.armed
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
