//! Queue pairs: the driver-visible work requests and attributes, and the
//! per-QP state of the three RC engines.
//!
//! The state is split as in Linux's Soft-RoCE (drivers/infiniband/sw/rxe/
//! rxe_verbs.h `struct rxe_qp`): the requester's (`req`: next PSN, the send
//! queue cursor, the packets waiting to go out), the completer's (`comp`: the
//! oldest unacknowledged PSN, retry counters, the retransmit and RNR timers),
//! and the responder's (`resp`: expected PSN, the message in progress, the
//! receive queue, the coalesced ACK). The engines themselves are in `req.rs`,
//! `resp.rs` and `comp.rs`.
//!
//! QPs are created in RESET and moved to RTS in one step by
//! [`crate::hca::Hca::connect`] (INIT and RTR are not modelled separately),
//! and to ERROR by a fatal error or by the driver. A UD QP
//! ([`crate::hca::Hca::create_ud_qp`]) uses only the requester's PSN and
//! queues and the responder's receive queue: no ACK, window or timer.
//! RC work requests are SEND, RDMA WRITE, RDMA READ and the two atomics;
//! UD ones are [`SendOp::UdSend`] through an address handle.
//!
//! Key types: [`QpAttr`], [`QpState`], [`SendWr`], [`RecvWr`], [`Sge`].

use std::collections::VecDeque;

use crate::cq::WcStatus;
use crate::engine::Ps;
use crate::packet::{Opcode, Packet};
use crate::pcie::ReadTiming;

/// QP states (IBTA Vol. 1 sec. 10.3.1; `enum ib_qp_state`, in its order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum QpState {
    /// No queues usable; posts are refused.
    Reset,
    /// Receives may be posted; packets are dropped, nothing is sent.
    Init,
    /// Ready to receive: the responder runs; nothing is sent.
    Rtr,
    /// Ready to send (and receive).
    Rts,
    /// Send queue drain: WQEs already started finish, no new one starts;
    /// SQ_DRAINED once the last completes (if asked for).
    Sqd,
    /// Send queue error (UD, UC): a send failed; the send queue is flushed
    /// and stopped, receives go on.
    Sqe,
    /// Everything flushed with WR_FLUSH_ERR; packets dropped.
    Error,
}

impl QpState {
    /// The states whose responder takes incoming requests (rxe_recv.c
    /// `check_type_state`: a request needs at least RTR).
    pub fn receives(self) -> bool {
        matches!(self, QpState::Rtr | QpState::Rts | QpState::Sqd | QpState::Sqe)
    }
    /// The states whose requester and completer run: RTS, and SQD for the
    /// WQEs it is draining.
    pub fn sends(self) -> bool {
        matches!(self, QpState::Rts | QpState::Sqd)
    }
}

/// Transport service of a QP (`enum ib_qp_type`'s RC, UC, UD).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QpType {
    Rc,
    /// Unreliable connection: SEND and RDMA WRITE (with immediate), no
    /// acknowledge, no retry; a message with a lost packet is dropped.
    Uc,
    Ud,
}

/// QP attributes (`struct ib_qp_attr`, the fields the device keeps). Which
/// of them a modify applies is said by a [`QpAttrMask`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QpAttr {
    /// The state to move to (IB_QP_STATE).
    pub qp_state: QpState,
    /// The state the consumer believes the QP is in (IB_QP_CUR_STATE).
    pub cur_qp_state: QpState,
    /// Ask for SQ_DRAINED on RTS -> SQD (IB_QP_EN_SQD_ASYNC_NOTIFY).
    pub en_sqd_async_notify: bool,
    /// Remote operations the responder accepts: REMOTE_WRITE, REMOTE_READ,
    /// REMOTE_ATOMIC (IB_QP_ACCESS_FLAGS; rxe_resp.c `check_op_valid`).
    pub qp_access_flags: crate::mr::Access,
    /// P_Key table index (IB_QP_PKEY_INDEX), below [`crate::modify_qp::PKEY_TABLE_LEN`].
    pub pkey_index: u16,
    /// The HCA port (IB_QP_PORT): 1, the only one.
    pub port_num: u8,
    /// Initiator depth: READs and atomics outstanding (IB_QP_MAX_QP_RD_ATOMIC).
    pub max_rd_atomic: u8,
    /// Responder resources (IB_QP_MAX_DEST_RD_ATOMIC).
    pub max_dest_rd_atomic: u8,
    /// The remote port (LID; the HCA index in a fabric).
    pub dest_lid: u16,
    /// The remote QP number.
    pub dest_qpn: u32,
    /// Path MTU in bytes: 256, 512, 1024, 2048 or 4096.
    pub path_mtu: usize,
    /// Local ACK timeout exponent: 4.096 us * 2^timeout; 0 disables the timer.
    pub timeout: u8,
    /// Transport retries (0..=7; 7 means seven).
    pub retry_cnt: u8,
    /// RNR retries (0..=7; 7 means retry for ever).
    pub rnr_retry: u8,
    /// RNR NAK timer code this QP sends as responder (IBTA table 45).
    pub min_rnr_timer: u8,
    /// First PSN this QP sends.
    pub sq_psn: u32,
    /// First PSN this QP expects.
    pub rq_psn: u32,
    /// UD: the Q_Key incoming datagrams must carry.
    pub qkey: u32,
}

impl Default for QpAttr {
    /// perftest's defaults: port 1, every remote access, MTU 4096, timeout
    /// 14, retry_cnt 7, rnr_retry 7, min_rnr_timer 12 (0.64 ms), 16 READs
    /// and atomics each way.
    fn default() -> Self {
        QpAttr {
            qp_state: QpState::Reset,
            cur_qp_state: QpState::Reset,
            en_sqd_async_notify: false,
            qp_access_flags: crate::mr::Access::REMOTE_WRITE
                | crate::mr::Access::REMOTE_READ
                | crate::mr::Access::REMOTE_ATOMIC,
            pkey_index: 0,
            port_num: 1,
            max_rd_atomic: 16,
            max_dest_rd_atomic: 16,
            dest_lid: 0,
            dest_qpn: 0,
            path_mtu: 4096,
            timeout: 14,
            retry_cnt: 7,
            rnr_retry: 7,
            min_rnr_timer: 12,
            sq_psn: 0,
            rq_psn: 0,
            qkey: 0,
        }
    }
}

/// The local ACK timeout for exponent `timeout` (IBTA Vol. 1 sec. 9.7.6.1.3:
/// 4.096 us * 2^timeout), or None when 0 disables it.
pub fn local_ack_timeout(timeout: u8) -> Option<Ps> {
    (timeout != 0).then(|| 4_096_000u64 << timeout.min(31))
}

/// RNR NAK timer values in microseconds, by 5-bit code (IBTA Vol. 1 table
/// 45; the same table as rxe_comp.c `rnrnak_usec`, except that code 25 is
/// 61.44 ms as in the specification where rxe has 61410).
pub const RNR_NAK_USEC: [u64; 32] = [
    655_360, 10, 20, 30, 40, 60, 80, 120, 160, 240, 320, 480, 640, 960, 1_280, 1_920, 2_560, 3_840, 5_120, 7_680,
    10_240, 15_360, 20_480, 30_720, 40_960, 61_440, 81_920, 122_880, 163_840, 245_760, 327_680, 491_520,
];

/// One scatter/gather entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sge {
    pub addr: u64,
    pub len: u32,
    pub lkey: u32,
}

/// What a send work request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendOp {
    Send,
    RdmaWrite {
        remote_addr: u64,
        rkey: u32,
    },
    /// Reads `[remote_addr, +len)` of the peer into the gather list (here a
    /// scatter list), `len` being the list's total.
    RdmaRead {
        remote_addr: u64,
        rkey: u32,
    },
    /// If the 8 bytes at `remote_addr` equal `compare`, replaces them with
    /// `swap`; the original value lands in the (8-byte) gather list.
    AtomicCmpSwap {
        remote_addr: u64,
        rkey: u32,
        compare: u64,
        swap: u64,
    },
    /// Adds `add` to the 8 bytes at `remote_addr`; the original value lands
    /// in the (8-byte) gather list.
    AtomicFetchAdd {
        remote_addr: u64,
        rkey: u32,
        add: u64,
    },
    /// SEND_WITH_IMM: a SEND whose last packet carries `imm`, reported in
    /// the receive's CQE.
    SendWithImm {
        imm: u32,
    },
    /// RDMA_WRITE_WITH_IMM: an RDMA WRITE whose last packet carries `imm`
    /// and consumes a receive WQE at the responder (RNR if none).
    RdmaWriteWithImm {
        remote_addr: u64,
        rkey: u32,
        imm: u32,
    },
    /// BIND_MW: binds a memory window (type 1 or 2) to a range of a region;
    /// a local operation, nothing is sent.
    BindMw(crate::mr::MwBind),
    /// LOCAL_INV: invalidates the type 2 window `rkey`; local.
    LocalInv {
        rkey: u32,
    },
    /// SEND_WITH_INVALIDATE: a SEND whose last packet asks the responder
    /// to invalidate its window `rkey`.
    SendWithInv {
        rkey: u32,
    },
    /// A UD SEND to QP `remote_qpn`, with Q_Key `remote_qkey`, at the port
    /// of address handle `ah` (from [`crate::hca::Hca::create_ah`]).
    UdSend {
        ah: u32,
        remote_qpn: u32,
        remote_qkey: u32,
    },
}

impl SendOp {
    /// Whether the WQE carries a remote-address segment.
    pub fn is_remote(self) -> bool {
        matches!(
            self,
            SendOp::RdmaWrite { .. }
                | SendOp::RdmaWriteWithImm { .. }
                | SendOp::RdmaRead { .. }
                | SendOp::AtomicCmpSwap { .. }
                | SendOp::AtomicFetchAdd { .. }
        )
    }
    /// Whether the HCA executes it without sending (BIND_MW, LOCAL_INV).
    pub fn is_local(self) -> bool {
        matches!(self, SendOp::BindMw(_) | SendOp::LocalInv { .. })
    }
    /// Whether the WQE carries an atomic segment.
    pub fn is_atomic(self) -> bool {
        matches!(self, SendOp::AtomicCmpSwap { .. } | SendOp::AtomicFetchAdd { .. })
    }
    /// Whether the responder answers with data for the gather list (READ,
    /// atomics), which then serves as a scatter list.
    pub fn has_response(self) -> bool {
        matches!(self, SendOp::RdmaRead { .. }) || self.is_atomic()
    }
}

/// A send work request (`ib_send_wr`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendWr {
    pub wr_id: u64,
    pub op: SendOp,
    /// Gather list (ignored when `inline_data` is set).
    pub sges: Vec<Sge>,
    /// IBV_SEND_INLINE: the driver copied the payload into the WQE, which
    /// travels with the doorbell; no WQE fetch and no gather.
    pub inline_data: Option<Vec<u8>>,
    /// IBV_SEND_SIGNALED (the QP may also signal all).
    pub signaled: bool,
    /// IBV_SEND_SOLICITED: the last packet of a SEND or WRITE with
    /// immediate sets the BTH SE bit, for a CQ armed solicited-only.
    pub solicited: bool,
}

/// A receive work request (`ib_recv_wr`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecvWr {
    pub wr_id: u64,
    pub sges: Vec<Sge>,
}

/// What CREATE_QP gives the device (`struct ib_qp_init_attr`'s part it
/// keeps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QpInit {
    pub qp_type: QpType,
    pub pd: u32,
    pub send_cq: u32,
    pub recv_cq: u32,
    /// Take receives from this SRQ (then POST_RECV on the QP is refused).
    pub srq: Option<u32>,
    /// IB_SIGNAL_ALL_WR.
    pub sig_all: bool,
    /// Queue sizes asked for; [`crate::hca::Hca::query_qp_cap`] tells what
    /// was granted.
    pub cap: QpCap,
}

/// WQEs a send or receive queue may hold (ConnectX-4's max_qp_wr).
pub const MAX_QP_WR: u32 = 32768;
/// Scatter/gather entries per WQE (ConnectX-4's max_sge).
pub const MAX_SGE: u32 = 30;

/// Queue capacities (`struct ib_qp_cap`). Default: the device's maxima,
/// with the profile's inline limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QpCap {
    pub max_send_wr: u32,
    pub max_recv_wr: u32,
    pub max_send_sge: u32,
    pub max_recv_sge: u32,
    pub max_inline_data: u32,
}

impl Default for QpCap {
    fn default() -> Self {
        QpCap {
            max_send_wr: MAX_QP_WR,
            max_recv_wr: MAX_QP_WR,
            max_send_sge: MAX_SGE,
            max_recv_sge: MAX_SGE,
            max_inline_data: u32::MAX,
        }
    }
}

/// Why an object could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateError {
    /// A CQ that does not exist.
    BadCq,
    /// An SRQ that does not exist.
    BadSrq,
    /// A size beyond the device's limits.
    InvalidAttr,
}

/// Why a post was refused synchronously. The errno each is in Linux is
/// the kernel's to give; the drivers' choices are noted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostError {
    /// No such QP (or SRQ, for POST_SRQ_RECV).
    BadQp,
    /// Send: the QP is below RTS (RESET, INIT, RTR); receive: in RESET
    /// (rxe_verbs.c: -EINVAL).
    BadState,
    /// A receive posted to a QP that takes its receives from an SRQ (rxe:
    /// -EINVAL; mlx5 finds its empty receive queue full: -ENOMEM).
    HasSrq,
    /// More scatter/gather entries than the queue takes (-EINVAL).
    TooManySge,
    /// The queue is full: `max_send_wr`/`max_recv_wr` WQEs outstanding, or
    /// the SRQ's `max_wr` (mlx5: -ENOMEM).
    QueueFull,
    /// An operation the device does not do.
    Unsupported,
    /// Inline payload longer than the QP's `max_inline_data` or the
    /// profile's max_inline, or on a READ or atomic (mlx5: -ENOMEM; rxe:
    /// -EINVAL).
    InlineTooLong,
    /// A UD operation on an RC or UC QP, an RC one on a UD QP, a READ,
    /// atomic or SEND with invalidate on a UC QP, or an unknown address
    /// handle.
    WrongTransport,
    /// An atomic whose gather list is not 8 bytes or whose remote address
    /// is not 8-byte aligned (rxe_verbs.c `validate_send_wr`: -EINVAL).
    InvalidAtomic,
}

/// Why a QP could not be modified (all -EINVAL in mlx5_ib_modify_qp and
/// rxe_qp_chk_attr, but for the unknown QP, which the kernel never passes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModifyError {
    /// No such QP.
    BadQp,
    /// The transition, or the attribute mask, is not in the state table
    /// ([`crate::modify_qp::modify_qp_is_ok`]), or IB_QP_CUR_STATE names a
    /// state the QP is not in (firmware's bad-state syndrome).
    BadState,
    /// An attribute is out of range.
    InvalidAttr,
    /// Out of SQD while the send queue is still draining (rxe_qp.c
    /// `rxe_qp_chk_attr`: only ERROR is allowed until SQ_DRAINED).
    Draining,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Posted, its doorbell not yet seen.
    Posted,
    /// Doorbell seen, WQE fetch in flight.
    Fetching,
    /// Fetched and gathered (or failed locally); waiting to be packetized in order.
    Ready,
    /// Packets made; waiting for the ACK.
    Sent,
    /// A local operation, executed in order; completes once every WQE
    /// before it has.
    Done,
}

pub(crate) struct SendWqe {
    pub wr: SendWr,
    pub len: usize,
    pub stage: Stage,
    pub data: std::sync::Arc<Vec<u8>>,
    /// A local error found by the requester; completed when it reaches the head.
    pub error: Option<WcStatus>,
    /// When the payload was gathered (None: inline, it came with the doorbell).
    pub gather: Option<ReadTiming>,
    pub ready_at: Ps,
    pub first_psn: u32,
    pub last_psn: u32,
}

pub(crate) struct RecvWqe {
    pub wr: RecvWr,
    /// When the HCA has the WQE (it fetches it when the driver posts it).
    pub ready_at: Ps,
}

pub(crate) struct RecvInProgress {
    pub wqe: RecvWqe,
    pub offset: usize,
}

pub(crate) struct WriteInProgress {
    pub host_addr: u64,
    pub resid: u64,
    /// The RETH's length (a WRITE with immediate reports it).
    pub len: u64,
}

#[derive(Default)]
pub(crate) struct ReqState {
    /// Next PSN to assign to a new packet.
    pub psn: u32,
    /// Next PSN to put on the wire (PSNs before it have been sent at least once).
    pub sent_psn: u32,
    /// Packets since the last AckReq.
    pub noack_pkts: u64,
    /// Absolute index of `sq[0]`.
    pub head_id: u64,
    /// WQEs before this index are covered by a doorbell the driver rang.
    pub rung_id: u64,
    /// WQEs before this index have had their doorbell arrive.
    pub doorbell_id: u64,
    /// WQEs before this index have been fetched or are being fetched.
    pub fetch_id: u64,
    /// WQEs before this index have been packetized.
    pub packetize_id: u64,
    /// Packets waiting for their data or for the window: (ready time, packet).
    pub txq: VecDeque<(Ps, Packet)>,
    /// A Tx event is pending at this time.
    pub tx_pending_at: Option<Ps>,
    /// The window is full (rxe's `wait_psn`).
    pub wait_psn: bool,
    /// Paused by an RNR NAK until the RNR timer fires.
    pub rnr_wait: bool,
}

#[derive(Default)]
pub(crate) struct CompState {
    /// Oldest unacknowledged PSN.
    pub psn: u32,
    pub retry_left: u8,
    pub rnr_left: u8,
    /// When the local ACK timer expires (None: not running).
    pub timer_deadline: Option<Ps>,
    /// When the pending timer event fires. Re-arming to a later deadline
    /// leaves it in place; it re-schedules itself when it finds the deadline
    /// moved (rxe's `mod_timer` "kick it down the road"), so a busy QP has
    /// at most one timer event queued.
    pub timer_event_at: Option<Ps>,
}

#[derive(Default)]
pub(crate) struct RespState {
    /// Next PSN expected.
    pub psn: u32,
    pub msn: u32,
    /// The opcode of the last packet of the message in progress (None between messages).
    pub last_op: Option<Opcode>,
    /// A PSN sequence NAK was sent and not yet answered (rxe's `sent_psn_nak`).
    pub sent_psn_nak: bool,
    /// UC: the rest of the message in progress is being dropped (a packet
    /// was lost or refused; rxe's `drop_msg`).
    pub drop_msg: bool,
    pub rq: VecDeque<RecvWqe>,
    pub recv: Option<RecvInProgress>,
    pub write: Option<WriteInProgress>,
    /// PSN the coalesced ACK will acknowledge.
    pub ack_psn: u32,
    /// Atomics being executed, oldest first: (PSN, when its acknowledge
    /// leaves); a coalesced ACK of a later PSN waits for the oldest, so
    /// that responses leave in PSN order.
    pub atomic_pending: VecDeque<(u32, Ps)>,
    /// The original values of the last atomics executed, by PSN, to answer
    /// duplicates without executing them again (IBTA C9-150; rxe's
    /// responder resources). At most the profile's `max_rd_atomic`.
    pub atomic_results: VecDeque<(u32, u64)>,
    pub ack_scheduled: bool,
}

pub(crate) struct Qp {
    pub qpn: u32,
    pub qp_type: QpType,
    /// Unreliable datagram (`qp_type == Ud`).
    pub ud: bool,
    /// The SRQ its receives come from (then it has no receive queue).
    pub srq: Option<u32>,
    /// Queue capacities granted.
    pub cap: QpCap,
    /// In SQD with WQEs still in flight; SQ_DRAINED not yet raised.
    pub draining: bool,
    /// Destroyed: kept (in RESET) so that events in flight find it.
    pub destroyed: bool,
    pub pd: u32,
    pub state: QpState,
    pub attr: QpAttr,
    pub send_cq: u32,
    pub recv_cq: u32,
    pub sig_all: bool,
    pub sq: VecDeque<SendWqe>,
    pub req: ReqState,
    pub comp: CompState,
    pub resp: RespState,
}

impl Qp {
    pub(crate) fn wqe_mut(&mut self, id: u64) -> Option<&mut SendWqe> {
        let i = id.checked_sub(self.req.head_id)? as usize;
        self.sq.get_mut(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_timeout_is_4_096_us_times_two_to_the_exponent() {
        assert_eq!(local_ack_timeout(0), None);
        assert_eq!(local_ack_timeout(1), Some(8_192_000));
        assert_eq!(local_ack_timeout(14), Some(4_096_000 << 14)); // 67.1 ms
    }

    #[test]
    fn rnr_table_matches_the_specification_ends() {
        assert_eq!(RNR_NAK_USEC[0], 655_360);
        assert_eq!(RNR_NAK_USEC[1], 10);
        assert_eq!(RNR_NAK_USEC[12], 640);
        assert_eq!(RNR_NAK_USEC[31], 491_520);
    }
}
