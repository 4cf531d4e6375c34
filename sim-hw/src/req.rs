//! The requester: turns send WQEs into packets. Analogous to Linux's
//! drivers/infiniband/sw/rxe/rxe_req.c (`rxe_requester`).
//!
//! A doorbell hands WQEs to the HCA; each non-inline WQE is fetched by DMA
//! read and its payload gathered by a second, pipelined DMA read (inline WQEs
//! arrive with the doorbell and skip both). WQEs are then segmented strictly
//! in order into path-MTU packets with consecutive PSNs (`FIRST`/`MIDDLE`/
//! `LAST`/`ONLY`, RETH on the first packet of an RDMA WRITE), each ready when
//! its bytes have arrived over PCIe. AckReq is set on the last packet of a
//! message and at least every `max_pkt_per_ack` packets (rxe_req.c
//! `noack_pkts`). Packets leave while the window allows: no PSN beyond the
//! oldest unacknowledged one plus `max_unacked_psns` (rxe's `wait_psn`
//! stall, released by the completer). Retransmission is go-back-N from the
//! oldest unacknowledged PSN, re-gathering the payload (rxe_req.c
//! `req_retry`).
//!
//! An RDMA READ is fetched like any WQE (its scatter list is checked for
//! LOCAL_WRITE, nothing is gathered) and sent as one READ request with a
//! RETH; the request reserves the PSNs of all its responses. A retry of a
//! partly answered READ asks only for the rest: the RETH's address and
//! length are advanced by the responses already received (rxe_req.c
//! `req_retry`). At most `max_rd_atomic` READs and atomics are outstanding
//! (the initiator depth): a further request waits for the completer.
//!
//! An atomic (CMP_SWAP, FETCH_ADD) is fetched like a READ (its WQE adds a
//! 16-byte atomic segment; its 8-byte list is checked for LOCAL_WRITE) and
//! sent as one request with an AtomicETH; a retry sends the same request.
//! A list that is not 8 bytes or a remote address that is not 8-byte
//! aligned is refused at post time, as rxe's `validate_send_wr` does.

use crate::cq::{Cqe, WcOpcode, WcStatus};
use crate::engine::Ps;
use crate::hca::{wc_opcode, Event, Hca};
use crate::host::Host;
use crate::mr::Access;
use crate::packet::{psn_add, psn_diff, AtomicEth, Deth, Ext, Opcode, Packet, Payload, Reth};
use crate::qp::{local_ack_timeout, QpState, QpType, SendOp, Stage};

impl Hca {
    pub(crate) fn on_doorbell(&mut self, now: Ps, qpn: u32, upto: u64) {
        let qp = self.qp_mut(qpn).unwrap();
        qp.req.doorbell_id = qp.req.doorbell_id.max(upto);
        match qp.state {
            // Work posted to a QP in error completes flushed; in SQE the
            // send queue alone is in error.
            QpState::Error => return self.flush(now, qpn),
            QpState::Sqe => return self.flush_sq(now, qpn),
            _ => {}
        }
        let qp = self.qp_mut(qpn).unwrap();
        let mut fetches = Vec::new();
        for id in qp.req.fetch_id..qp.req.doorbell_id {
            let w = qp.wqe_mut(id).unwrap();
            if let Some(d) = w.wr.inline_data.take() {
                w.data = std::sync::Arc::new(d);
                w.ready_at = now;
                w.stage = Stage::Ready;
            } else {
                w.stage = Stage::Fetching;
                // An atomic WQE adds its 16-byte atomic segment, a UD one
                // its 48-byte datagram segment (mlx5_wqe_datagram_seg).
                let extra = match w.wr.op {
                    SendOp::UdSend { .. } => 3,
                    op => op.is_atomic() as usize,
                };
                fetches.push((id, w.wr.sges.len() + extra, w.wr.op.is_remote()));
            }
        }
        qp.req.fetch_id = qp.req.doorbell_id;
        for (id, sges, remote) in fetches {
            let bytes = self.p.wqe_bytes(sges, remote);
            let done = self.pcie.dma_read(&self.p, now, bytes).end;
            self.q.schedule(done, Event::WqeFetched { qpn, id });
        }
        self.packetize_ready(now, qpn);
    }

    /// The WQE is in the HCA: check its gather list through the MR table and
    /// gather the payload.
    pub(crate) fn on_wqe_fetched<H: Host + ?Sized>(&mut self, host: &mut H, now: Ps, qpn: u32, id: u64) {
        let Some(qp) = self.qps.get_mut(qpn as usize - 1) else { return };
        let pd = qp.pd;
        let Some(w) = qp.wqe_mut(id) else { return }; // flushed meanwhile
        if w.stage != Stage::Fetching {
            return;
        }
        w.stage = Stage::Ready;
        w.ready_at = now;
        if w.wr.op.has_response() {
            // The list is where the response will land: check it now for
            // LOCAL_WRITE; nothing to gather.
            let ok =
                w.wr.sges
                    .iter()
                    .all(|s| self.mrs.translate(s.lkey, pd, s.addr, s.len as u64, Access::LOCAL_WRITE).is_ok());
            if !ok {
                w.error = Some(WcStatus::LocProtErr);
            }
            return self.packetize_ready(now, qpn);
        }
        let mut data = vec![0; w.len];
        let mut off = 0;
        for sge in &w.wr.sges {
            let len = sge.len as usize;
            let ok = self
                .mrs
                .translate(sge.lkey, pd, sge.addr, len as u64, Access::NONE)
                .ok()
                .and_then(|a| host.dma_read(a, &mut data[off..off + len]).ok());
            if ok.is_none() {
                w.error = Some(WcStatus::LocProtErr);
                break;
            }
            off += len;
        }
        if w.error.is_none() {
            w.data = std::sync::Arc::new(data);
            if w.len > 0 {
                w.gather = Some(self.pcie.dma_read(&self.p, now, w.len));
            }
        }
        self.packetize_ready(now, qpn);
    }

    /// Segments, in order, every WQE that is ready. Stops at a WQE that
    /// failed locally; the completer fails it once it reaches the head.
    pub(crate) fn packetize_ready(&mut self, now: Ps, qpn: u32) {
        let lid = self.lid;
        let max_per_ack = self.p.max_pkt_per_ack.value;
        let qp = self.qps.get_mut(qpn as usize - 1).unwrap();
        let uc = qp.qp_type == QpType::Uc;
        // Only RTS starts WQEs (SQD drains those already started).
        while qp.req.packetize_id < qp.req.fetch_id && qp.state == QpState::Rts {
            let id = qp.req.packetize_id;
            let mtu = qp.attr.path_mtu;
            let (dlid, dqp) = (qp.attr.dest_lid, qp.attr.dest_qpn);
            let psn = qp.req.psn;
            let i = (id - qp.req.head_id) as usize;
            let w = &mut qp.sq[i];
            if w.stage != Stage::Ready || w.error.is_some() {
                break;
            }
            if w.wr.op.is_local() {
                // Executed here, in order, sending nothing (rxe_req.c
                // `rxe_do_local_ops`); a failure completes it with its
                // error once it reaches the head, and the QP goes to ERROR.
                let (op, pd) = (w.wr.op, qp.pd);
                let r = match op {
                    SendOp::BindMw(b) => self.mrs.bind_mw(qpn, pd, &b).map_err(|_| WcStatus::MwBindErr),
                    SendOp::LocalInv { rkey } => self.mrs.invalidate(rkey).map_err(|_| WcStatus::LocQpOpErr),
                    _ => unreachable!(),
                };
                let w = &mut qp.sq[i];
                match r {
                    Ok(()) => {
                        w.stage = Stage::Done;
                        qp.req.packetize_id += 1;
                        continue;
                    }
                    Err(status) => {
                        w.error = Some(status);
                        break;
                    }
                }
            }
            let npkts = w.len.div_ceil(mtu).max(1) as u32;
            w.first_psn = psn;
            w.last_psn = psn_add(psn, npkts - 1);
            w.stage = Stage::Sent;
            qp.req.psn = psn_add(psn, npkts);
            qp.req.packetize_id += 1;
            if let SendOp::UdSend { ah, remote_qpn, remote_qkey } = w.wr.op {
                // One packet, whatever the length: a message longer than
                // the MTU is never sent (see on_tx_ud).
                let ready = match &w.gather {
                    Some(g) => g.end,
                    None => w.ready_at,
                };
                let pkt = Packet {
                    dlid: self.ahs[ah as usize],
                    slid: lid,
                    dest_qp: remote_qpn,
                    opcode: Opcode::UdSendOnly,
                    psn,
                    ack_req: false,
                    se: w.wr.solicited,
                    reth: None,
                    aeth: None,
                    ext: Ext::Deth(Deth { qkey: remote_qkey, src_qp: qpn }),
                    payload: Payload::window(&w.data, 0, w.len),
                };
                qp.req.psn = psn_add(psn, 1);
                w.last_psn = psn;
                qp.req.txq.push_back((ready.max(now), pkt));
                continue;
            }
            if let Some(pkt) = atomic_request(lid, dlid, dqp, psn, w.wr.op) {
                let ready = w.ready_at;
                qp.req.noack_pkts = 0;
                qp.req.txq.push_back((ready.max(now), pkt));
                continue;
            }
            if let SendOp::RdmaRead { remote_addr, rkey } = w.wr.op {
                // One request reserves the PSNs of all its responses.
                let ready = w.ready_at;
                let pkt = read_request(lid, dlid, dqp, psn, remote_addr, rkey, w.len as u32);
                qp.req.noack_pkts = 0;
                qp.req.txq.push_back((ready.max(now), pkt));
                continue;
            }
            for k in 0..npkts {
                let w = &qp.sq[i];
                let end = ((k as usize + 1) * mtu).min(w.len);
                let ready = match &w.gather {
                    Some(g) => g.available(&self.p, end),
                    None => w.ready_at,
                };
                qp.req.noack_pkts += 1;
                let last = k == npkts - 1;
                // UC asks for no acknowledge.
                let ack_req = !uc && (last || qp.req.noack_pkts >= max_per_ack);
                if ack_req {
                    qp.req.noack_pkts = 0;
                }
                let pkt = make_packet(lid, dlid, dqp, &qp.sq[i], k, npkts, mtu, ack_req);
                qp.req.txq.push_back((ready.max(now), pkt));
            }
        }
        self.kick_tx(now, qpn);
        self.complete_done_head(now, qpn);
        self.check_failed_head(now, qpn);
        self.check_drained(now, qpn);
    }

    /// Schedules a Tx event when the head packet will be ready.
    pub(crate) fn kick_tx(&mut self, now: Ps, qpn: u32) {
        let qp = self.qps.get_mut(qpn as usize - 1).unwrap();
        if qp.req.wait_psn || qp.req.rnr_wait {
            return; // the completer kicks again when the window opens
        }
        let Some(&(ready, _)) = qp.req.txq.front() else { return };
        let at = ready.max(now);
        if !matches!(qp.req.tx_pending_at, Some(p) if p <= at) {
            qp.req.tx_pending_at = Some(at);
            self.q.schedule(at, Event::Tx { qpn });
        }
    }

    pub(crate) fn on_tx(&mut self, now: Ps, qpn: u32) {
        let window = self.p.max_unacked_psns.value as i32;
        let max_rd_atomic = self.p.max_rd_atomic.value as usize;
        let qp = self.qps.get_mut(qpn as usize - 1).unwrap();
        if qp.req.tx_pending_at == Some(now) {
            qp.req.tx_pending_at = None;
        }
        if !qp.state.sends() || qp.req.rnr_wait {
            return;
        }
        if qp.ud {
            return self.on_tx_ud(now, qpn);
        }
        if qp.qp_type == QpType::Uc {
            return self.on_tx_uc(now, qpn);
        }
        let arm = qp.comp.timer_deadline.is_none();
        let mut sent = false;
        loop {
            let qp = &mut self.qps[qpn as usize - 1];
            let Some(&(ready, ref pkt)) = qp.req.txq.front() else { break };
            if ready > now {
                break;
            }
            if psn_diff(pkt.psn, qp.comp.psn) >= window {
                qp.req.wait_psn = true;
                break;
            }
            if pkt.opcode == Opcode::ReadRequest || pkt.opcode.is_atomic() {
                // The initiator depth: no more READs and atomics
                // outstanding than the responder keeps resources for
                // (max_rd_atomic); the completer kicks again.
                let before = qp
                    .sq
                    .iter()
                    .take_while(|w| {
                        w.stage == Stage::Done || (w.stage == Stage::Sent && psn_diff(w.first_psn, pkt.psn) < 0)
                    })
                    .filter(|w| w.wr.op.has_response())
                    .count();
                if before >= max_rd_atomic {
                    qp.req.wait_psn = true;
                    break;
                }
            }
            let (_, pkt) = qp.req.txq.pop_front().unwrap();
            let span = match pkt.reth {
                Some(r) if pkt.opcode == Opcode::ReadRequest => (r.len as usize).div_ceil(qp.attr.path_mtu).max(1),
                _ => 1,
            };
            let end = psn_add(pkt.psn, span as u32);
            if psn_diff(end, qp.req.sent_psn) > 0 {
                qp.req.sent_psn = end;
            }
            self.transmit(now, pkt);
            sent = true;
        }
        let arm = arm && sent;
        if arm {
            self.arm_retransmit_timer(now, qpn);
        }
        self.kick_tx(now, qpn);
    }

    /// UD: each ready datagram leaves and its WQE completes as it does (no
    /// ACK, no window, no retransmission). A message longer than the path
    /// MTU emits nothing and completes successfully (IBTA C10-93.1.1, as
    /// rxe_req.c's "fake a successful UD send").
    fn on_tx_ud(&mut self, now: Ps, qpn: u32) {
        loop {
            let qp = &mut self.qps[qpn as usize - 1];
            let Some(&(ready, _)) = qp.req.txq.front() else { break };
            if ready > now {
                break;
            }
            let (_, pkt) = qp.req.txq.pop_front().unwrap();
            let mtu = qp.attr.path_mtu;
            let w = qp.sq.pop_front().expect("a datagram's WQE is at the head");
            qp.req.head_id += 1;
            qp.comp.psn = psn_add(pkt.psn, 1);
            qp.req.sent_psn = qp.comp.psn;
            let cq = qp.send_cq;
            let signaled = qp.sig_all || w.wr.signaled;
            let mut t = now;
            if pkt.payload.len() <= mtu {
                t = now.max(self.tx_busy) + self.p.hca_packet_time.value;
                self.transmit(now, pkt);
            }
            if signaled {
                let cqe = Cqe::new(w.wr.wr_id, WcStatus::Success, WcOpcode::Send, w.len as u32, qpn);
                self.post_cqe(t, cq, cqe);
            }
        }
        self.kick_tx(now, qpn);
        self.check_failed_head(now, qpn);
        self.check_drained(now, qpn);
    }

    /// UC: ready packets leave in order, with no window and no timer; a
    /// WQE completes once its last packet has left (rxe_comp.c completes UC
    /// sends without an acknowledge).
    fn on_tx_uc(&mut self, now: Ps, qpn: u32) {
        loop {
            let qp = &mut self.qps[qpn as usize - 1];
            let Some(&(ready, _)) = qp.req.txq.front() else { break };
            if ready > now {
                break;
            }
            let (_, pkt) = qp.req.txq.pop_front().unwrap();
            let psn = pkt.psn;
            qp.comp.psn = psn_add(psn, 1);
            qp.req.sent_psn = qp.comp.psn;
            self.transmit(now, pkt);
            let t = self.tx_busy;
            let qp = &mut self.qps[qpn as usize - 1];
            let cq = qp.send_cq;
            let mut done = Vec::new();
            while let Some(w) = qp.sq.front() {
                let finished = w.stage == Stage::Done || (w.stage == Stage::Sent && psn_diff(w.last_psn, psn) <= 0);
                if !finished {
                    break;
                }
                let w = qp.sq.pop_front().unwrap();
                qp.req.head_id += 1;
                if qp.sig_all || w.wr.signaled {
                    let len = if w.stage == Stage::Done { 0 } else { w.len as u32 };
                    done.push(Cqe::new(w.wr.wr_id, WcStatus::Success, wc_opcode(&w.wr), len, qpn));
                }
            }
            for cqe in done {
                self.post_cqe(t, cq, cqe);
            }
        }
        self.kick_tx(now, qpn);
        self.check_failed_head(now, qpn);
        self.check_drained(now, qpn);
    }

    /// (Re)starts the local ACK timer if the QP has one.
    pub(crate) fn arm_retransmit_timer(&mut self, now: Ps, qpn: u32) {
        let qp = self.qps.get_mut(qpn as usize - 1).unwrap();
        qp.comp.timer_deadline = local_ack_timeout(qp.attr.timeout).map(|d| now + d);
        if let (Some(d), None) = (qp.comp.timer_deadline, qp.comp.timer_event_at) {
            qp.comp.timer_event_at = Some(d);
            self.q.schedule(d, Event::RetransmitTimer { qpn });
        }
    }

    /// Go-back-N: rebuilds the packets of every sent WQE from the oldest
    /// unacknowledged PSN on, re-gathering non-inline payloads.
    pub(crate) fn retransmit(&mut self, now: Ps, qpn: u32) {
        let lid = self.lid;
        let qp = self.qps.get_mut(qpn as usize - 1).unwrap();
        qp.req.txq.clear();
        qp.req.wait_psn = false;
        let from = qp.comp.psn;
        let mtu = qp.attr.path_mtu;
        let (dlid, dqp) = (qp.attr.dest_lid, qp.attr.dest_qpn);
        let mut n = 0;
        for i in 0..qp.sq.len() {
            match qp.sq[i].stage {
                Stage::Sent => {}
                Stage::Done => continue,
                _ => break,
            }
            let (first, last, len) = (qp.sq[i].first_psn, qp.sq[i].last_psn, qp.sq[i].len);
            if psn_diff(last, from) < 0 {
                continue;
            }
            if let Some(pkt) = atomic_request(lid, dlid, dqp, first, qp.sq[i].wr.op) {
                // The same request again; the responder answers a
                // duplicate from its saved result.
                qp.req.txq.push_back((now, pkt));
                n += 1;
                continue;
            }
            if let SendOp::RdmaRead { remote_addr, rkey } = qp.sq[i].wr.op {
                // Re-request what has not arrived (rxe_req.c req_retry).
                let done = if psn_diff(from, first) > 0 { psn_diff(from, first) as usize * mtu } else { 0 };
                let psn = psn_add(first, (done / mtu) as u32);
                let pkt = read_request(lid, dlid, dqp, psn, remote_addr + done as u64, rkey, (len - done) as u32);
                qp.req.txq.push_back((now, pkt));
                n += 1;
                continue;
            }
            let inline = qp.sq[i].gather.is_none();
            let gather = (!inline && len > 0).then(|| self.pcie.dma_read(&self.p, now, len));
            let npkts = len.div_ceil(mtu).max(1) as u32;
            for k in 0..npkts {
                if psn_diff(psn_add(first, k), from) < 0 {
                    continue;
                }
                let end = ((k as usize + 1) * mtu).min(len);
                let ready = gather.map_or(now, |g| g.available(&self.p, end));
                let ack_req = k == npkts - 1;
                let pkt = make_packet(lid, dlid, dqp, &qp.sq[i], k, npkts, mtu, ack_req);
                qp.req.txq.push_back((ready, pkt));
                n += 1;
            }
        }
        self.stats.retransmitted_packets += n;
        self.kick_tx(now, qpn);
    }
}

/// The request packet of an atomic WQE (None for other operations).
fn atomic_request(slid: u16, dlid: u16, dest_qp: u32, psn: u32, op: SendOp) -> Option<Packet> {
    let (opcode, eth) = match op {
        SendOp::AtomicCmpSwap { remote_addr, rkey, compare, swap } => {
            (Opcode::CompareSwap, AtomicEth { va: remote_addr, rkey, swap_add: swap, compare })
        }
        SendOp::AtomicFetchAdd { remote_addr, rkey, add } => {
            (Opcode::FetchAdd, AtomicEth { va: remote_addr, rkey, swap_add: add, compare: 0 })
        }
        _ => return None,
    };
    Some(Packet {
        dlid,
        slid,
        dest_qp,
        opcode,
        psn,
        ack_req: true,
        se: false,
        reth: None,
        aeth: None,
        ext: Ext::Atomic(Box::new(eth)),
        payload: Payload::default(),
    })
}

fn read_request(slid: u16, dlid: u16, dest_qp: u32, psn: u32, va: u64, rkey: u32, len: u32) -> Packet {
    Packet {
        dlid,
        slid,
        dest_qp,
        opcode: Opcode::ReadRequest,
        psn,
        ack_req: true,
        se: false,
        reth: Some(Reth { va, rkey, len }),
        aeth: None,
        ext: Ext::None,
        payload: Payload::default(),
    }
}

#[allow(clippy::too_many_arguments)]
fn make_packet(
    slid: u16,
    dlid: u16,
    dest_qp: u32,
    w: &crate::qp::SendWqe,
    k: u32,
    npkts: u32,
    mtu: usize,
    ack_req: bool,
) -> Packet {
    let start = k as usize * mtu;
    let end = (start + mtu).min(w.len);
    let (first, last) = (k == 0, k == npkts - 1);
    let (opcode, reth) = match w.wr.op {
        SendOp::Send => (
            match (first, last) {
                (true, true) => Opcode::SendOnly,
                (true, false) => Opcode::SendFirst,
                (false, true) => Opcode::SendLast,
                (false, false) => Opcode::SendMiddle,
            },
            None,
        ),
        SendOp::SendWithInv { .. } => (
            match (first, last) {
                (true, true) => Opcode::SendOnlyInv,
                (true, false) => Opcode::SendFirst,
                (false, true) => Opcode::SendLastInv,
                (false, false) => Opcode::SendMiddle,
            },
            None,
        ),
        SendOp::RdmaWrite { remote_addr, rkey } => (
            match (first, last) {
                (true, true) => Opcode::WriteOnly,
                (true, false) => Opcode::WriteFirst,
                (false, true) => Opcode::WriteLast,
                (false, false) => Opcode::WriteMiddle,
            },
            first.then_some(Reth { va: remote_addr, rkey, len: w.len as u32 }),
        ),
        SendOp::SendWithImm { .. } => (
            match (first, last) {
                (true, true) => Opcode::SendOnlyImm,
                (true, false) => Opcode::SendFirst,
                (false, true) => Opcode::SendLastImm,
                (false, false) => Opcode::SendMiddle,
            },
            None,
        ),
        SendOp::RdmaWriteWithImm { remote_addr, rkey, .. } => (
            match (first, last) {
                (true, true) => Opcode::WriteOnlyImm,
                (true, false) => Opcode::WriteFirst,
                (false, true) => Opcode::WriteLastImm,
                (false, false) => Opcode::WriteMiddle,
            },
            first.then_some(Reth { va: remote_addr, rkey, len: w.len as u32 }),
        ),
        _ => unreachable!("a READ or an atomic is one request packet"),
    };
    Packet {
        dlid,
        slid,
        dest_qp,
        opcode,
        psn: psn_add(w.first_psn, k),
        ack_req,
        se: last && w.wr.solicited && !matches!(w.wr.op, SendOp::RdmaWrite { .. }),
        reth,
        aeth: None,
        ext: match w.wr.op {
            SendOp::SendWithInv { rkey } if last => Ext::Ieth(rkey),
            SendOp::SendWithImm { imm } | SendOp::RdmaWriteWithImm { imm, .. } if last => Ext::Imm(imm),
            _ => Ext::None,
        },
        payload: Payload::window(&w.data, start, end - start),
    }
}
