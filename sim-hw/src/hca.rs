//! The HCA: its driver interface, its event loop, and the stages shared by
//! the three RC engines (transmit and receive engines, CQE and interrupt
//! writes, the error flush).
//!
//! Pipeline of one message, every step costed from the [`Profile`]:
//! doorbell (posted MMIO write; an inline WQE rides in it) -> WQE fetch (DMA
//! read, skipped for inline) -> payload gather (pipelined DMA read) ->
//! segmentation into path-MTU packets (`req.rs`) -> transmit engine ->
//! wire (`fabric.rs`) -> receive engine -> responder checks and payload DMA
//! write (`resp.rs`) -> coalesced ACK -> completer (`comp.rs`) -> CQE write ->
//! EQE + MSI-X if the CQ is armed. An RDMA READ runs the same stages with
//! the data going the other way: the responder gathers, and the completer
//! writes the READ responses into the requester's memory. An atomic is a
//! one-packet request whose acknowledge brings the original value back; a
//! UD datagram is one packet with no acknowledge at all (`req.rs`'s
//! `on_tx_ud`, `resp.rs`'s `ud_receive`). Port state (`set_port_state`,
//! driven by the fabric's faults) raises PORT_ERR / PORT_ACTIVE.
//!
//! The HCA runs only through [`Hca::step`] / [`Hca::poll`]: each call is lent
//! the [`Host`] (DMA and interrupts). Packets it sends wait in an outbox for
//! the fabric to carry (`fabric.rs`).
//!
//! Key types: [`Hca`], [`Stats`].

use std::collections::VecDeque;

use crate::cq::{Arm, Cq, Cqe, WcOpcode, WcStatus};
use crate::engine::{EventQueue, Ps};
use crate::host::{AsyncEvent, Host, Interrupt};
use crate::mr::{Access, MrError, MrKeys, MrTable, MwType};
use crate::packet::{Packet, Payload};
use crate::pcie::Pcie;
use crate::profile::Profile;
use crate::qp::{
    CompState, CreateError, ModifyError, PostError, Qp, QpAttr, QpCap, QpInit, QpState, QpType, RecvWqe, RecvWr,
    ReqState, RespState, SendOp, SendWqe, SendWr, Stage, MAX_QP_WR, MAX_SGE,
};

/// Hardware events.
#[derive(Debug)]
pub(crate) enum Event {
    /// The send-queue doorbell arrived: WQEs before `upto` are the HCA's.
    Doorbell { qpn: u32, upto: u64 },
    /// A WQE fetch completed.
    WqeFetched { qpn: u32, id: u64 },
    /// The head packet of the QP's transmit queue may be ready.
    Tx { qpn: u32 },
    /// A packet finished arriving from the wire; it was sent while the
    /// port's link was in this epoch (a port that went down since lost it).
    Arrive(Packet, u32),
    /// Hand a packet whose data is now ready to the transmit engine.
    Transmit(Packet),
    /// Send the QP's coalesced ACK.
    SendAck { qpn: u32 },
    /// The local ACK timer fired.
    RetransmitTimer { qpn: u32 },
    /// The RNR NAK timer fired.
    RnrTimer { qpn: u32 },
    /// An atomic's read-modify-write of the 8 bytes at host address `addr`,
    /// once its DMA read has returned.
    AtomicExec { qpn: u32, addr: u64, pkt: Packet },
    /// A DMA write becomes visible in host memory.
    HostWrite { addr: u64, data: Payload },
    /// A CQE becomes visible.
    CqeVisible { cq: u32, cqe: Cqe },
    /// An MSI-X write lands.
    Irq(Interrupt),
}

/// Counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub packets_sent: u64,
    pub packets_received: u64,
    pub retransmitted_packets: u64,
    pub timeouts: u64,
    pub rnr_naks_received: u64,
    pub seq_naks_received: u64,
    /// Packets dropped because their QP was not in RTS or did not exist.
    pub dropped_bad_qp: u64,
    /// Posted DMA writes the host refused (no one to report them to).
    pub dma_write_faults: u64,
    /// Packets lost because the port went down while they were arriving.
    pub dropped_port_down: u64,
    /// UD datagrams dropped for a Q_Key that is not the QP's.
    pub dropped_qkey: u64,
    /// UD datagrams dropped for want of a receive WQE (UD has no RNR).
    pub dropped_no_recv: u64,
    /// UC packets dropped: a gap in the PSNs, the rest of a message after
    /// one, or a message the responder refused.
    pub dropped_uc: u64,
}

/// One host channel adapter.
pub struct Hca {
    pub(crate) lid: u16,
    pub(crate) p: Profile,
    pub(crate) q: EventQueue<Event>,
    pub(crate) pcie: Pcie,
    pub(crate) mrs: MrTable,
    pub(crate) qps: Vec<Qp>,
    pub(crate) cqs: Vec<Cq>,
    pub(crate) tx_busy: Ps,
    pub(crate) rx_busy: Ps,
    pub(crate) outbox: VecDeque<(Ps, Packet)>,
    pub(crate) stats: Stats,
    /// Port 1 is up (PORT_ACTIVE).
    pub(crate) port_up: bool,
    /// Counts the port's down transitions: a packet delivered in an older
    /// epoch was on the wire when the link died.
    pub(crate) port_epoch: u32,
    /// Address handles: the destination LID of each.
    pub(crate) ahs: Vec<u16>,
    /// Shared receive queues (None: destroyed).
    pub(crate) srqs: Vec<Option<crate::srq::Srq>>,
}

impl Hca {
    /// An HCA at port `lid` with cost table `profile`.
    pub fn new(lid: u16, profile: Profile) -> Hca {
        Hca {
            lid,
            p: profile,
            q: EventQueue::new(),
            pcie: Pcie::default(),
            mrs: MrTable::default(),
            qps: Vec::new(),
            cqs: Vec::new(),
            tx_busy: 0,
            rx_busy: 0,
            outbox: VecDeque::new(),
            stats: Stats::default(),
            port_up: true,
            port_epoch: 0,
            ahs: Vec::new(),
            srqs: Vec::new(),
        }
    }

    /// The cost table.
    pub fn profile(&self) -> &Profile {
        &self.p
    }
    /// Port LID.
    pub fn lid(&self) -> u16 {
        self.lid
    }
    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
    /// Events run so far.
    pub fn events_processed(&self) -> u64 {
        self.q.processed()
    }
    /// The HCA's clock (time of the last event run or driver call).
    pub fn now(&self) -> Ps {
        self.q.now()
    }

    // ---------------------------------------------------------------
    // Driver interface
    // ---------------------------------------------------------------

    /// Creates a CQ of `capacity` entries.
    pub fn create_cq(&mut self, capacity: usize) -> u32 {
        self.cqs.push(Cq::new(capacity));
        self.cqs.len() as u32 - 1
    }

    /// The CQ `cq`.
    pub fn cq(&self, cq: u32) -> &Cq {
        &self.cqs[cq as usize]
    }

    /// Creates an RC QP in RESET. `sig_all` is IB_SIGNAL_ALL_WR.
    pub fn create_qp(&mut self, pd: u32, send_cq: u32, recv_cq: u32, sig_all: bool) -> u32 {
        self.new_qp(pd, send_cq, recv_cq, sig_all, false)
    }

    /// Creates a UD QP in RESET; [`connect`](Self::connect) moves it to RTS
    /// (only `qkey`, `path_mtu` and `sq_psn` matter).
    pub fn create_ud_qp(&mut self, pd: u32, send_cq: u32, recv_cq: u32, sig_all: bool) -> u32 {
        self.new_qp(pd, send_cq, recv_cq, sig_all, true)
    }

    /// Creates an address handle for the port at `dlid` (ibv_create_ah).
    pub fn create_ah(&mut self, dlid: u16) -> u32 {
        self.ahs.push(dlid);
        self.ahs.len() as u32 - 1
    }

    fn new_qp(&mut self, pd: u32, send_cq: u32, recv_cq: u32, sig_all: bool, ud: bool) -> u32 {
        let qp_type = if ud { QpType::Ud } else { QpType::Rc };
        let init = QpInit { qp_type, pd, send_cq, recv_cq, srq: None, sig_all, cap: QpCap::default() };
        self.create_qp_init(&init).expect("the harness's CQs exist")
    }

    /// Creates a QP in RESET (CREATE_QP): of `init.qp_type`, its receives
    /// taken from `init.srq` if given. Fails for a CQ or SRQ that does not
    /// exist or was destroyed, or queue sizes beyond [`MAX_QP_WR`] WQEs or
    /// [`MAX_SGE`] entries (mlx5_ib_create_qp: -EINVAL). The queues are
    /// granted as mlx5 sizes its receive queue: the WQE count rounded up to
    /// a power of two (the send queue's basic-block arithmetic is not
    /// modelled: it is rounded the same way); see
    /// [`query_qp_cap`](Self::query_qp_cap).
    pub fn create_qp_init(&mut self, init: &QpInit) -> Result<u32, CreateError> {
        let cq_live = |cq: u32| self.cqs.get(cq as usize).is_some_and(|c| !c.destroyed);
        if !cq_live(init.send_cq) || !cq_live(init.recv_cq) {
            return Err(CreateError::BadCq);
        }
        if init.srq.is_some_and(|s| self.srq(s).is_none()) {
            return Err(CreateError::BadSrq);
        }
        let c = init.cap;
        let recv_checked = init.srq.is_none();
        if c.max_send_wr > MAX_QP_WR
            || c.max_send_sge > MAX_SGE
            || (recv_checked && (c.max_recv_wr > MAX_QP_WR || c.max_recv_sge > MAX_SGE))
        {
            return Err(CreateError::InvalidAttr);
        }
        let cap = QpCap {
            max_send_wr: c.max_send_wr.max(1).next_power_of_two(),
            max_recv_wr: if recv_checked { c.max_recv_wr.max(1).next_power_of_two() } else { 0 },
            max_send_sge: c.max_send_sge.max(1),
            max_recv_sge: if recv_checked { c.max_recv_sge.max(1) } else { 0 },
            max_inline_data: c.max_inline_data,
        };
        let QpInit { qp_type, pd, send_cq, recv_cq, srq, sig_all, .. } = *init;
        let qpn = self.qps.len() as u32 + 1;
        self.qps.push(Qp {
            qpn,
            qp_type,
            ud: qp_type == QpType::Ud,
            srq,
            cap,
            draining: false,
            destroyed: false,
            pd,
            state: QpState::Reset,
            attr: QpAttr::default(),
            send_cq,
            recv_cq,
            sig_all,
            sq: VecDeque::new(),
            req: ReqState::default(),
            comp: CompState::default(),
            resp: RespState::default(),
        });
        Ok(qpn)
    }

    /// RESET -> INIT -> RTR -> RTS with `attr`: three [`modify_qp`](Self::modify_qp)
    /// calls with the masks the table requires for the QP's type (what
    /// perftest and rdma_cm do). A UD QP's path MTU is the port's: connect
    /// sets it from `attr.path_mtu`, which no modify can. Fails, changing
    /// nothing, for an unknown QP, a QP not in RESET, or an attribute out
    /// of its IBTA range (MTU 256..4096, 3-bit retry counts, 5-bit timer
    /// codes).
    pub fn connect(&mut self, qpn: u32, attr: QpAttr) -> Result<(), ModifyError> {
        use crate::modify_qp::QpAttrMask as M;
        let qp = self.live_qp(qpn).ok_or(ModifyError::BadQp)?;
        if qp.state != QpState::Reset {
            return Err(ModifyError::BadState);
        }
        let ty = qp.qp_type;
        let valid = matches!(attr.path_mtu, 256 | 512 | 1024 | 2048 | 4096)
            && attr.retry_cnt <= 7
            && attr.rnr_retry <= 7
            && attr.min_rnr_timer < 32
            && attr.timeout < 32
            && attr.port_num == 1
            && attr.max_rd_atomic as u64 <= self.p.max_rd_atomic.value
            && attr.max_dest_rd_atomic as u64 <= self.p.max_rd_atomic.value
            && attr.pkey_index < crate::modify_qp::PKEY_TABLE_LEN;
        if !valid {
            return Err(ModifyError::InvalidAttr);
        }
        let (init, rtr, rts) = match ty {
            QpType::Ud => (M::QKEY, M::NONE, M::SQ_PSN),
            QpType::Uc => (M::ACCESS_FLAGS, M::AV | M::PATH_MTU | M::DEST_QPN | M::RQ_PSN, M::SQ_PSN),
            QpType::Rc => (
                M::ACCESS_FLAGS,
                M::AV | M::PATH_MTU | M::DEST_QPN | M::RQ_PSN | M::MAX_DEST_RD_ATOMIC | M::MIN_RNR_TIMER,
                M::TIMEOUT | M::RETRY_CNT | M::RNR_RETRY | M::SQ_PSN | M::MAX_QP_RD_ATOMIC,
            ),
        };
        let now = self.q.now();
        for (state, mask) in [(QpState::Init, init | M::PKEY_INDEX | M::PORT), (QpState::Rtr, rtr), (QpState::Rts, rts)]
        {
            self.modify_qp(now, qpn, &QpAttr { qp_state: state, ..attr }, mask | M::STATE)?;
        }
        if ty == QpType::Ud {
            self.qp_mut(qpn).unwrap().attr.path_mtu = attr.path_mtu;
        }
        Ok(())
    }

    /// The queue capacities granted at creation.
    pub fn query_qp_cap(&self, qpn: u32) -> Option<QpCap> {
        self.live_qp(qpn).map(|q| q.cap)
    }

    /// The QP's state.
    pub fn qp_state(&self, qpn: u32) -> Option<QpState> {
        self.live_qp(qpn).map(|qp| qp.state)
    }

    /// Registers memory: `[iova, iova + len)` at host bus address `host_addr`.
    pub fn reg_mr(&mut self, pd: u32, iova: u64, len: u64, host_addr: u64, access: Access) -> MrKeys {
        self.mrs.register(pd, iova, len, host_addr, access)
    }

    /// Deregisters the region named by `key`.
    pub fn dereg_mr(&mut self, key: u32) -> Result<(), MrError> {
        self.mrs.deregister(key)
    }

    /// ALLOC_MW of type `ty` in `pd`: returns its rkey. A type 2 window is
    /// bound by a BIND_MW work request ([`SendOp::BindMw`]) and freed by
    /// LOCAL_INV or a SEND_WITH_INVALIDATE; a type 1 window is bound by the
    /// same work request (libibverbs's `ibv_bind_mw` posts one).
    pub fn alloc_mw(&mut self, pd: u32, ty: MwType) -> u32 {
        self.mrs.alloc_mw(pd, ty)
    }

    /// DEALLOC_MW of the window whose index `rkey` names.
    pub fn dealloc_mw(&mut self, rkey: u32) -> Result<(), MrError> {
        self.mrs.dealloc_mw(rkey)
    }

    /// A window's current rkey (a bind changes its low byte).
    pub fn mw_rkey(&self, rkey: u32) -> Option<u32> {
        self.mrs.mw_rkey(rkey)
    }

    /// Writes a send WQE into the send queue. The HCA sees it only after
    /// [`ring_sq_doorbell`](Self::ring_sq_doorbell).
    pub fn post_send(&mut self, qpn: u32, wr: SendWr) -> Result<(), PostError> {
        let max_inline = self.p.max_inline.value as usize;
        let ahs = self.ahs.len() as u32;
        let qp = self.qp_mut(qpn).filter(|q| !q.destroyed).ok_or(PostError::BadQp)?;
        let ud_op = matches!(wr.op, SendOp::UdSend { .. });
        // rxe_opcode.c `rxe_wr_opcode_info`: UC has SEND and RDMA WRITE
        // (with immediate) and the local operations.
        let uc_op = matches!(
            wr.op,
            SendOp::Send
                | SendOp::SendWithImm { .. }
                | SendOp::RdmaWrite { .. }
                | SendOp::RdmaWriteWithImm { .. }
                | SendOp::BindMw(_)
                | SendOp::LocalInv { .. }
        );
        if qp.qp_type == QpType::Uc && !uc_op {
            return Err(PostError::WrongTransport);
        }
        if qp.ud != ud_op || matches!(wr.op, SendOp::UdSend { ah, .. } if ah >= ahs) {
            return Err(PostError::WrongTransport);
        }
        if qp.state < QpState::Rts {
            return Err(PostError::BadState);
        }
        // mlx5_ib_post_send: too many entries is -EINVAL, then a full
        // queue -ENOMEM.
        if wr.sges.len() > qp.cap.max_send_sge as usize {
            return Err(PostError::TooManySge);
        }
        if qp.sq.len() >= qp.cap.max_send_wr as usize {
            return Err(PostError::QueueFull);
        }
        let len = match &wr.inline_data {
            Some(_) if wr.op.has_response() => return Err(PostError::InlineTooLong),
            Some(d) if d.len() > max_inline || d.len() > qp.cap.max_inline_data as usize => {
                return Err(PostError::InlineTooLong)
            }
            Some(d) => d.len(),
            None => wr.sges.iter().map(|s| s.len as usize).sum(),
        };
        if let SendOp::AtomicCmpSwap { remote_addr, .. } | SendOp::AtomicFetchAdd { remote_addr, .. } = wr.op {
            if len != 8 || !remote_addr.is_multiple_of(8) {
                return Err(PostError::InvalidAtomic);
            }
        }
        qp.sq.push_back(SendWqe {
            wr,
            len,
            stage: Stage::Posted,
            data: Default::default(),
            error: None,
            gather: None,
            ready_at: 0,
            first_psn: 0,
            last_psn: 0,
        });
        Ok(())
    }

    /// Rings the send doorbell at `now`: a posted MMIO write that hands every
    /// WQE posted so far to the HCA. Inline WQEs are written through the same
    /// MMIO (BlueFlame), so their bytes lengthen it.
    pub fn ring_sq_doorbell(&mut self, now: Ps, qpn: u32) {
        self.q.advance_to(now);
        let now = self.q.now();
        let p = &self.p;
        let Some(qp) = (qpn as usize).checked_sub(1).and_then(|i| self.qps.get_mut(i)).filter(|q| !q.destroyed) else {
            return;
        };
        let upto = qp.req.head_id + qp.sq.len() as u64;
        let mut bytes = 8;
        let from = qp.req.rung_id.max(qp.req.head_id);
        qp.req.rung_id = upto;
        for id in from..upto {
            let w = &qp.sq[(id - qp.req.head_id) as usize];
            if let Some(d) = &w.wr.inline_data {
                let remote = w.wr.op.is_remote();
                bytes += p.wqe_bytes(0, remote) + d.len().next_multiple_of(p.wqe_segment.value as usize);
            }
        }
        let at = self.pcie.mmio_write(&self.p, now, bytes);
        self.q.schedule(at, Event::Doorbell { qpn, upto });
    }

    /// Posts a receive WQE at `now`. The HCA fetches it by DMA read, so it is
    /// usable one read round trip later.
    pub fn post_recv(&mut self, now: Ps, qpn: u32, wr: RecvWr) -> Result<(), PostError> {
        self.q.advance_to(now);
        let now = self.q.now();
        let bytes = self.p.wqe_segment.value as usize * wr.sges.len().max(1);
        let qp = self.live_qp(qpn).ok_or(PostError::BadQp)?;
        if qp.srq.is_some() {
            return Err(PostError::HasSrq);
        }
        // mlx5_ib_post_recv: a full queue is -ENOMEM, then too many
        // entries -EINVAL.
        if qp.state != QpState::Error {
            if qp.resp.rq.len() + qp.resp.recv.is_some() as usize >= qp.cap.max_recv_wr as usize {
                return Err(PostError::QueueFull);
            }
            if wr.sges.len() > qp.cap.max_recv_sge as usize {
                return Err(PostError::TooManySge);
            }
        }
        match qp.state {
            QpState::Reset => Err(PostError::BadState),
            QpState::Error => {
                let (cq, qpn) = (qp.recv_cq, qp.qpn);
                let cqe = Cqe::new(wr.wr_id, WcStatus::WrFlushErr, WcOpcode::Recv, 0, qpn);
                self.post_cqe(now, cq, cqe);
                Ok(())
            }
            // From INIT on, the receive waits for the responder.
            _ => {
                let fetched = self.pcie.dma_read(&self.p, now, bytes).end;
                self.qp_mut(qpn).unwrap().resp.rq.push_back(RecvWqe { wr, ready_at: fetched });
                Ok(())
            }
        }
    }

    /// Takes the oldest visible CQE (ibv_poll_cq of one entry).
    pub fn poll_cq_one(&mut self, cq: u32) -> Option<Cqe> {
        self.cqs[cq as usize].entries.pop_front()
    }

    /// Takes up to `max` visible CQEs.
    pub fn poll_cq(&mut self, cq: u32, max: usize) -> Vec<Cqe> {
        let e = &mut self.cqs[cq as usize].entries;
        let n = max.min(e.len());
        e.drain(..n).collect()
    }

    /// Arms the CQ for one completion event (ibv_req_notify_cq).
    pub fn req_notify_cq(&mut self, cq: u32) {
        self.cqs[cq as usize].armed = Arm::Next;
    }

    /// Arms the CQ for one event on the next solicited receive (or a
    /// receive completed in error): ibv_req_notify_cq with solicited_only.
    /// A CQ armed for any completion stays so (rxe_cq.c `rxe_req_notify_cq`).
    pub fn req_notify_cq_solicited(&mut self, cq: u32) {
        let c = &mut self.cqs[cq as usize];
        if c.armed != Arm::Next {
            c.armed = Arm::Solicited;
        }
    }

    /// Moves a QP to ERROR at `now` (modify_qp to ERR), flushing its queues;
    /// a shorthand for [`modify_qp`](Self::modify_qp) with only IB_QP_STATE
    /// that also takes a QP in RESET.
    pub fn modify_qp_error(&mut self, now: Ps, qpn: u32) {
        self.q.advance_to(now);
        let now = self.q.now();
        if self.live_qp(qpn).is_some() {
            self.qp_error(now, qpn);
        }
    }

    // ---------------------------------------------------------------
    // Event loop
    // ---------------------------------------------------------------

    /// The time of the next hardware event.
    pub fn next_deadline(&self) -> Option<Ps> {
        self.q.next_deadline()
    }

    /// The (time, sequence number) of the next event: a discrete step a
    /// scheduler may interleave with others.
    pub fn peek_event(&self) -> Option<(Ps, u64)> {
        self.q.peek()
    }

    /// Runs exactly the next event; returns its time.
    pub fn step<H: Host + ?Sized>(&mut self, host: &mut H) -> Option<Ps> {
        let (t, ev) = self.q.pop()?;
        self.dispatch(host, t, ev);
        Some(t)
    }

    /// Runs every event due at or before `now`, then advances the clock to `now`.
    pub fn poll<H: Host + ?Sized>(&mut self, now: Ps, host: &mut H) {
        while let Some((t, ev)) = self.q.pop_due(now) {
            self.dispatch(host, t, ev);
        }
        self.q.advance_to(now);
    }

    /// Packets sent and not yet taken by the fabric: (time they leave the
    /// transmit engine, packet), in order.
    pub fn take_outbox(&mut self) -> impl Iterator<Item = (Ps, Packet)> + '_ {
        self.outbox.drain(..)
    }

    /// A packet finishes arriving from the wire at `at`. It is lost if the
    /// port goes down before then.
    pub fn deliver(&mut self, at: Ps, pkt: Packet) {
        self.q.schedule(at, Event::Arrive(pkt, self.port_epoch));
    }

    /// Whether port 1 is up.
    pub fn port_active(&self) -> bool {
        self.port_up
    }

    /// The physical state of port 1 changes at `now` (the fabric calls this
    /// when the port's link goes down or comes back). Down: packets still
    /// arriving are lost and PORT_ERR is raised; up: PORT_ACTIVE is raised.
    /// Both go through the EQE and MSI-X writes, like any async event. QPs
    /// are left alone: their retries recover or exhaust, as on real HCAs
    /// (IBTA Vol. 1 sec. 11.6.3: port events are unaffiliated).
    pub fn set_port_state(&mut self, now: Ps, up: bool) {
        self.q.advance_to(now);
        let now = self.q.now();
        if self.port_up == up {
            return;
        }
        self.port_up = up;
        let ev = if up {
            AsyncEvent::PortActive { port: 1 }
        } else {
            self.port_epoch += 1;
            AsyncEvent::PortError { port: 1 }
        };
        self.raise(now, Interrupt::Async(ev));
    }

    fn dispatch<H: Host + ?Sized>(&mut self, host: &mut H, now: Ps, ev: Event) {
        match ev {
            Event::Doorbell { qpn, upto } => self.on_doorbell(now, qpn, upto),
            Event::WqeFetched { qpn, id } => self.on_wqe_fetched(host, now, qpn, id),
            Event::Tx { qpn } => self.on_tx(now, qpn),
            Event::Arrive(pkt, epoch) => {
                if epoch != self.port_epoch || !self.port_up {
                    self.stats.dropped_port_down += 1;
                    return;
                }
                self.stats.packets_received += 1;
                let t = now.max(self.rx_busy) + self.p.hca_packet_time.value;
                self.rx_busy = t;
                if pkt.opcode.is_response() {
                    self.completer(host, t, pkt);
                } else {
                    self.responder(host, t, pkt);
                }
            }
            Event::Transmit(pkt) => self.transmit(now, pkt),
            Event::SendAck { qpn } => self.on_send_ack(now, qpn),
            Event::RetransmitTimer { qpn } => self.on_retransmit_timer(now, qpn),
            Event::RnrTimer { qpn } => self.on_rnr_timer(now, qpn),
            Event::AtomicExec { qpn, addr, pkt } => self.on_atomic_exec(host, now, qpn, addr, pkt),
            Event::HostWrite { addr, data } => {
                if host.dma_write(addr, &data).is_err() {
                    self.stats.dma_write_faults += 1;
                }
            }
            Event::CqeVisible { cq, cqe } => {
                let gone = self.qp(cqe.qpn).is_some_and(|q| q.destroyed);
                let c = &mut self.cqs[cq as usize];
                if c.error || c.destroyed || gone {
                    return;
                }
                if c.entries.len() >= c.capacity {
                    c.error = true;
                    self.raise(now, Interrupt::Async(AsyncEvent::CqError { cq }));
                } else {
                    c.entries.push_back(cqe);
                }
            }
            Event::Irq(irq) => {
                if self.irq_live(&irq) {
                    host.interrupt(irq)
                }
            }
        }
    }

    // ---------------------------------------------------------------
    // Shared stages
    // ---------------------------------------------------------------

    pub(crate) fn qp(&self, qpn: u32) -> Option<&Qp> {
        self.qps.get((qpn as usize).checked_sub(1)?)
    }
    pub(crate) fn qp_mut(&mut self, qpn: u32) -> Option<&mut Qp> {
        self.qps.get_mut((qpn as usize).checked_sub(1)?)
    }

    /// The transmit engine: a packet ready at `t` leaves the HCA after the
    /// per-packet engine time, in order.
    pub(crate) fn transmit(&mut self, t: Ps, pkt: Packet) {
        let out = t.max(self.tx_busy) + self.p.hca_packet_time.value;
        self.tx_busy = out;
        self.stats.packets_sent += 1;
        self.outbox.push_back((out, pkt));
    }

    /// Writes a CQE at `t` (a 64-byte posted DMA write); if the CQ is armed,
    /// disarms it and follows with an EQE and the MSI-X write. A receive
    /// completed in error counts as solicited, a send completion never
    /// does (rxe passes 1 and 0).
    pub(crate) fn post_cqe(&mut self, t: Ps, cq: u32, cqe: Cqe) {
        let recv = matches!(cqe.opcode, WcOpcode::Recv | WcOpcode::RecvRdmaWithImm);
        let solicited = recv && cqe.status != WcStatus::Success;
        self.post_cqe_se(t, cq, cqe, solicited)
    }

    /// [`post_cqe`](Self::post_cqe) of a receive completed by a packet
    /// whose BTH SE bit was `solicited`.
    pub(crate) fn post_cqe_se(&mut self, t: Ps, cq: u32, cqe: Cqe, solicited: bool) {
        if self.cqs[cq as usize].destroyed {
            return;
        }
        let visible = self.pcie.dma_write(&self.p, t, self.p.cqe_size.value as usize);
        self.q.schedule(visible, Event::CqeVisible { cq, cqe });
        let c = &mut self.cqs[cq as usize];
        let fire = match c.armed {
            Arm::No => false,
            Arm::Next => true,
            Arm::Solicited => solicited,
        };
        if fire && !c.error {
            c.armed = Arm::No;
            self.raise(t, Interrupt::Completion { cq });
        }
    }

    /// An EQE write followed by the MSI-X write, issued at `t`.
    pub(crate) fn raise(&mut self, t: Ps, irq: Interrupt) {
        self.pcie.dma_write(&self.p, t, self.p.cqe_size.value as usize);
        let at = self.pcie.dma_write(&self.p, t, self.p.msix_size.value as usize);
        self.q.schedule(at, Event::Irq(irq));
    }

    /// Moves the QP to ERROR: every outstanding send WQE and receive WQE
    /// completes with WR_FLUSH_ERR, signaled or not (IBTA Vol. 1 sec.
    /// 10.7.3.1; rxe_comp.c `rxe_drain_resp_pkts`, rxe_resp.c flush), and the
    /// timers and queued packets are dropped. An SRQ-attached QP keeps its
    /// SRQ's WQEs (they are the SRQ's) and raises LAST_WQE_REACHED (IBTA
    /// 11.6.3.1; rxe_resp.c).
    pub(crate) fn qp_error(&mut self, t: Ps, qpn: u32) {
        let Some(qp) = self.qp_mut(qpn) else { return };
        if qp.state == QpState::Error {
            return;
        }
        qp.state = QpState::Error;
        qp.draining = false;
        let srq = qp.srq.is_some();
        self.flush(t, qpn);
        if srq {
            self.raise(t, Interrupt::Async(AsyncEvent::QpLastWqeReached { qpn }));
        }
    }

    /// A UD or UC send failed: the QP goes to SQE (IBTA Vol. 1 sec. 10.3.1.2):
    /// its send queue is flushed and stopped, its receives go on.
    pub(crate) fn sq_error(&mut self, t: Ps, qpn: u32) {
        let qp = self.qp_mut(qpn).unwrap();
        if !qp.state.sends() {
            return;
        }
        qp.state = QpState::Sqe;
        qp.draining = false;
        self.flush_sq(t, qpn);
    }

    /// Completes every doorbelled send WQE and every receive WQE of the QP
    /// with WR_FLUSH_ERR and drops its queued packets and timers.
    pub(crate) fn flush(&mut self, t: Ps, qpn: u32) {
        self.flush_sq(t, qpn);
        let qp = self.qp_mut(qpn).unwrap();
        let rcq = qp.recv_cq;
        let mut flushed = Vec::new();
        let recv = qp.resp.recv.take().map(|r| r.wqe);
        for w in recv.into_iter().chain(qp.resp.rq.drain(..)) {
            flushed.push(Cqe::new(w.wr.wr_id, WcStatus::WrFlushErr, WcOpcode::Recv, 0, qpn));
        }
        qp.resp.write = None;
        qp.resp.atomic_pending.clear();
        for cqe in flushed {
            self.post_cqe(t, rcq, cqe);
        }
    }

    /// Completes every doorbelled send WQE with WR_FLUSH_ERR and drops the
    /// queued packets and timers.
    pub(crate) fn flush_sq(&mut self, t: Ps, qpn: u32) {
        let qp = self.qp_mut(qpn).unwrap();
        qp.req.txq.clear();
        qp.req.rnr_wait = false;
        qp.comp.timer_deadline = None;
        let scq = qp.send_cq;
        let mut flushed = Vec::new();
        // Send WQEs not yet doorbelled stay until their doorbell (then flush).
        let n = (qp.req.doorbell_id - qp.req.head_id) as usize;
        for w in qp.sq.drain(..n) {
            flushed.push(Cqe::new(w.wr.wr_id, WcStatus::WrFlushErr, wc_opcode(&w.wr), 0, qpn));
        }
        qp.req.head_id = qp.req.doorbell_id;
        qp.req.fetch_id = qp.req.doorbell_id;
        qp.req.packetize_id = qp.req.doorbell_id;
        qp.req.wait_psn = false;
        for cqe in flushed {
            self.post_cqe(t, scq, cqe);
        }
    }

    /// Completes the head send WQE at `t` with `status` (an error always
    /// completes, signaled or not) and moves the QP to ERROR.
    pub(crate) fn fail_head(&mut self, t: Ps, qpn: u32, status: WcStatus) {
        let qp = self.qp_mut(qpn).unwrap();
        if let Some(w) = qp.sq.pop_front() {
            qp.req.head_id += 1;
            let cq = qp.send_cq;
            let cqe = Cqe::new(w.wr.wr_id, status, wc_opcode(&w.wr), 0, qpn);
            self.post_cqe(t, cq, cqe);
        }
        if self.qp(qpn).unwrap().qp_type != QpType::Rc {
            self.sq_error(t, qpn);
        } else {
            self.qp_error(t, qpn);
        }
    }
}

pub(crate) fn wc_opcode(wr: &SendWr) -> WcOpcode {
    match wr.op {
        SendOp::Send | SendOp::SendWithInv { .. } | SendOp::SendWithImm { .. } | SendOp::UdSend { .. } => {
            WcOpcode::Send
        }
        SendOp::RdmaWriteWithImm { .. } => WcOpcode::RdmaWrite,
        SendOp::BindMw(_) => WcOpcode::BindMw,
        SendOp::LocalInv { .. } => WcOpcode::LocalInv,
        SendOp::RdmaWrite { .. } => WcOpcode::RdmaWrite,
        SendOp::RdmaRead { .. } => WcOpcode::RdmaRead,
        SendOp::AtomicCmpSwap { .. } => WcOpcode::CompSwap,
        SendOp::AtomicFetchAdd { .. } => WcOpcode::FetchAdd,
    }
}
