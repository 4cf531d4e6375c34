//! The completer: consumes ACKs and NAKs, completes send WQEs, and runs the
//! retry machinery. Analogous to Linux's drivers/infiniband/sw/rxe/rxe_comp.c
//! (`rxe_completer`: CHECK_PSN, CHECK_ACK, COMP_ACK, ERROR_RETRY, RNR_RETRY,
//! ERROR).
//!
//! - An ACK of PSN p acknowledges every PSN up to p (coalesced ACKs): each
//!   WQE whose last PSN is covered completes in order, with a CQE if
//!   signaled; progress resets both retry counters (rxe
//!   `reset_retry_counters`) and restarts the local ACK timer.
//! - A NAK of PSN p first acknowledges PSNs before p. A PSN sequence NAK
//!   retries from p (go-back-N) and counts against `retry_cnt`; an RNR NAK
//!   pauses the QP for the RNR NAK timer of its code, then retries, counting
//!   against `rnr_retry`; remote access, invalid request and remote
//!   operational NAKs fail the WQE with REM_ACCESS_ERR, REM_INV_REQ_ERR,
//!   REM_OP_ERR.
//! - The local ACK timer (4.096 us * 2^timeout; timeout 0 never fires)
//!   retries from the oldest unacknowledged PSN, counting against `retry_cnt`.
//! - Exhausted counters fail the head WQE with RETRY_EXC_ERR or
//!   RNR_RETRY_EXC_ERR, move the QP to ERROR and flush the rest.
//! - An ATOMIC acknowledge is handled as a one-packet READ response whose
//!   data is the original value (8 bytes into the WQE's scatter list); a
//!   lost one is recovered like a lost READ response.
//! - READ responses in sequence are DMA-written into the WQE's scatter list
//!   at their offset; the last completes the READ. Out-of-sequence responses
//!   are ignored (rxe `check_psn` -> COMPST_DONE) and recovered by the ACK
//!   timer, or at once when an ACK covers the READ's PSNs (its responses were
//!   lost: rxe `check_psn` -> COMPST_ERROR_RETRY).
//!
//! Divergence from rxe, on purpose: rxe treats `retry_cnt == 7` as infinite
//! (`if (qp->comp.retry_cnt != 7) qp->comp.retry_cnt--`); the IBTA
//! specification (Vol. 1 sec. 9.7.6.1.3) makes only `rnr_retry == 7`
//! infinite, so here `retry_cnt` 7 means seven retries.

use crate::cq::{Cqe, WcStatus};
use crate::engine::{Ps, US};
use crate::hca::{wc_opcode, Event, Hca};
use crate::host::Host;
use crate::mr::Access;
use crate::packet::{psn_add, psn_diff, AckKind, Opcode, Packet};
use crate::qp::{QpState, QpType, Stage, RNR_NAK_USEC};

impl Hca {
    pub(crate) fn completer<H: Host + ?Sized>(&mut self, host: &mut H, t: Ps, pkt: Packet) {
        let qpn = pkt.dest_qp;
        match self.qp(qpn) {
            Some(qp) if qp.state.sends() && qp.qp_type == QpType::Rc => {}
            _ => {
                self.stats.dropped_bad_qp += 1;
                return;
            }
        }
        if pkt.opcode == Opcode::AtomicAcknowledge {
            // The original value is the response's data: scatter it like
            // a one-packet READ response.
            let orig = pkt.atomic_ack().expect("an atomic acknowledge carries the original value");
            let pkt = Packet { payload: orig.to_le_bytes().to_vec().into(), ..pkt };
            return self.read_response(host, t, pkt);
        }
        if pkt.opcode != Opcode::Acknowledge {
            return self.read_response(host, t, pkt);
        }
        let aeth = pkt.aeth.expect("acknowledge carries an AETH");
        let qp = self.qp(qpn).unwrap();
        // CHECK_PSN: an acknowledge of nothing outstanding is stale.
        if psn_diff(pkt.psn, qp.req.sent_psn) >= 0 || psn_diff(pkt.psn, psn_add(qp.comp.psn, 0xff_ffff)) < 0 {
            return;
        }
        match aeth.kind {
            AckKind::Ack => {
                self.ack_through(t, qpn, pkt.psn);
            }
            AckKind::NakPsnSeq => {
                self.stats.seq_naks_received += 1;
                if self.qp(qpn).unwrap().req.rnr_wait {
                    return; // the RNR retry will resend from the same PSN
                }
                self.ack_through(t, qpn, psn_add(pkt.psn, 0xff_ffff));
                if self.qp(qpn).is_some_and(|q| q.state.sends()) {
                    self.retry(t, qpn);
                }
            }
            AckKind::RnrNak(code) => {
                self.stats.rnr_naks_received += 1;
                self.ack_through(t, qpn, psn_add(pkt.psn, 0xff_ffff));
                let qp = self.qp_mut(qpn).unwrap();
                if !qp.state.sends() {
                    return;
                }
                if qp.comp.rnr_left == 0 {
                    self.fail_head(t, qpn, WcStatus::RnrRetryExcErr);
                    return;
                }
                if qp.attr.rnr_retry != 7 {
                    qp.comp.rnr_left -= 1;
                }
                qp.req.rnr_wait = true;
                qp.req.txq.clear();
                qp.comp.timer_deadline = None;
                let at = t + RNR_NAK_USEC[code as usize & 31] * US;
                self.q.schedule(at, Event::RnrTimer { qpn });
            }
            AckKind::NakInvalidRequest | AckKind::NakRemoteAccess | AckKind::NakRemoteOp => {
                self.ack_through(t, qpn, psn_add(pkt.psn, 0xff_ffff));
                if self.qp(qpn).is_some_and(|q| q.state.sends()) {
                    let status = match aeth.kind {
                        AckKind::NakInvalidRequest => WcStatus::RemInvReqErr,
                        AckKind::NakRemoteAccess => WcStatus::RemAccessErr,
                        _ => WcStatus::RemOpErr,
                    };
                    self.fail_head(t, qpn, status);
                }
            }
        }
    }

    /// Acknowledges every PSN up to and including `psn`. A READ covered by
    /// the acknowledge but not completed by its responses lost them: the
    /// acknowledge stops there and the requester retries (rxe_comp.c
    /// `check_psn` -> COMPST_ERROR_RETRY).
    /// Returns whether it found such a READ (or atomic) and retried.
    fn ack_through(&mut self, t: Ps, qpn: u32, psn: u32) -> bool {
        let qp = self.qp_mut(qpn).unwrap();
        let progress = psn_diff(psn, qp.comp.psn) >= 0;
        if !progress {
            return false;
        }
        qp.comp.retry_left = qp.attr.retry_cnt;
        qp.comp.rnr_left = qp.attr.rnr_retry;
        let mut done = Vec::new();
        let mut lost_read = false;
        while let Some(w) = qp.sq.front() {
            if w.stage == Stage::Done {
                // A local operation behind the acknowledged WQEs.
                let w = qp.sq.pop_front().unwrap();
                qp.req.head_id += 1;
                if qp.sig_all || w.wr.signaled {
                    done.push(Cqe::new(w.wr.wr_id, WcStatus::Success, wc_opcode(&w.wr), 0, qpn));
                }
                continue;
            }
            if w.stage != Stage::Sent || psn_diff(w.last_psn, psn) > 0 {
                break;
            }
            if w.wr.op.has_response() {
                if psn_diff(w.first_psn, qp.comp.psn) > 0 {
                    qp.comp.psn = w.first_psn;
                }
                lost_read = true;
                break;
            }
            let w = qp.sq.pop_front().unwrap();
            qp.req.head_id += 1;
            if qp.sig_all || w.wr.signaled {
                done.push(Cqe::new(w.wr.wr_id, WcStatus::Success, wc_opcode(&w.wr), w.len as u32, qpn));
            }
        }
        if !lost_read {
            qp.comp.psn = psn_add(psn, 1);
        }
        let cq = qp.send_cq;
        let outstanding = qp.req.sent_psn != qp.comp.psn;
        let was_waiting = std::mem::take(&mut qp.req.wait_psn);
        for cqe in done {
            self.post_cqe(t, cq, cqe);
        }
        if outstanding {
            self.arm_retransmit_timer(t, qpn);
        } else {
            let qp = self.qp_mut(qpn).unwrap();
            qp.comp.timer_deadline = None;
        }
        if was_waiting {
            self.kick_tx(t, qpn);
        }
        self.check_failed_head(t, qpn);
        self.check_drained(t, qpn);
        if lost_read {
            self.retry(t, qpn);
        }
        lost_read
    }

    /// A READ response (rxe_comp.c COMPST_READ): in sequence, its payload
    /// is DMA-written into the WQE's scatter list at its offset; the last
    /// one completes the WQE. Responses out of sequence are ignored, and the
    /// ACK timer recovers lost ones, as in rxe.
    fn read_response<H: Host + ?Sized>(&mut self, _host: &mut H, t: Ps, pkt: Packet) {
        let qpn = pkt.dest_qp;
        let qp = self.qps.get_mut(qpn as usize - 1).unwrap();
        let first =
            matches!(pkt.opcode, Opcode::ReadResponseFirst | Opcode::ReadResponseOnly | Opcode::AtomicAcknowledge);
        if first && psn_diff(pkt.psn, qp.comp.psn) > 0 && psn_diff(pkt.psn, qp.req.sent_psn) < 0 {
            // The first response of a later WQE acknowledges every PSN
            // before it (rxe_comp.c check_psn: COMPST_COMP_WQE); a READ or
            // atomic among them without its response is retried.
            let retried = self.ack_through(t, qpn, psn_add(pkt.psn, 0xff_ffff));
            if retried || self.qp(qpn).is_none_or(|q| !q.state.sends()) {
                return;
            }
        }
        let qp = self.qps.get_mut(qpn as usize - 1).unwrap();
        if pkt.psn != qp.comp.psn {
            return;
        }
        let mtu = qp.attr.path_mtu;
        let pd = qp.pd;
        let Some(w) = qp.sq.front() else { return };
        if !w.wr.op.has_response() {
            return;
        }
        if w.stage != Stage::Sent || psn_diff(pkt.psn, w.first_psn) < 0 || psn_diff(pkt.psn, w.last_psn) > 0 {
            return;
        }
        let is_last = pkt.psn == w.last_psn;
        if pkt.opcode.is_last_response() != is_last {
            return;
        }
        // Scatter at the packet's offset, each piece checked by lkey.
        let mut off = psn_diff(pkt.psn, w.first_psn) as usize * mtu;
        let mut pieces = Vec::new();
        let mut done = 0;
        let mut fault = false;
        for sge in &w.wr.sges {
            let sl = sge.len as usize;
            if off >= sl {
                off -= sl;
                continue;
            }
            if done == pkt.payload.len() {
                break;
            }
            let n = (sl - off).min(pkt.payload.len() - done);
            match self.mrs.translate(sge.lkey, pd, sge.addr + off as u64, n as u64, Access::LOCAL_WRITE) {
                Ok(a) => pieces.push((a, pkt.payload.slice(done, n))),
                Err(_) => fault = true,
            }
            done += n;
            off = 0;
        }
        if fault {
            return self.fail_head(t, qpn, WcStatus::LocProtErr);
        }
        for (addr, data) in pieces {
            let visible = self.pcie.dma_write(&self.p, t, data.len());
            self.q.schedule(visible, Event::HostWrite { addr, data });
        }
        let qp = self.qps.get_mut(qpn as usize - 1).unwrap();
        qp.comp.psn = psn_add(pkt.psn, 1);
        qp.comp.retry_left = qp.attr.retry_cnt;
        qp.comp.rnr_left = qp.attr.rnr_retry;
        let mut cqe = None;
        if is_last {
            let w = qp.sq.pop_front().unwrap();
            qp.req.head_id += 1;
            if qp.sig_all || w.wr.signaled {
                cqe = Some(Cqe::new(w.wr.wr_id, WcStatus::Success, wc_opcode(&w.wr), w.len as u32, qpn));
            }
        }
        let cq = qp.send_cq;
        let outstanding = qp.req.sent_psn != qp.comp.psn;
        let was_waiting = std::mem::take(&mut qp.req.wait_psn);
        if let Some(cqe) = cqe {
            self.post_cqe(t, cq, cqe);
        }
        if outstanding {
            self.arm_retransmit_timer(t, qpn);
        } else {
            self.qp_mut(qpn).unwrap().comp.timer_deadline = None;
        }
        if was_waiting {
            self.kick_tx(t, qpn);
        }
        self.complete_done_head(t, qpn);
        self.check_failed_head(t, qpn);
        self.check_drained(t, qpn);
    }

    /// ERROR_RETRY: one more go-back-N retry, or RETRY_EXC_ERR.
    fn retry(&mut self, t: Ps, qpn: u32) {
        let qp = self.qp_mut(qpn).unwrap();
        if qp.comp.retry_left == 0 {
            self.fail_head(t, qpn, WcStatus::RetryExcErr);
            return;
        }
        qp.comp.retry_left -= 1;
        qp.comp.timer_deadline = None;
        self.retransmit(t, qpn);
    }

    pub(crate) fn on_retransmit_timer(&mut self, now: Ps, qpn: u32) {
        let qp = self.qp_mut(qpn).unwrap();
        qp.comp.timer_event_at = None;
        match qp.comp.timer_deadline {
            None => return,
            Some(d) if d > now => {
                qp.comp.timer_event_at = Some(d);
                self.q.schedule(d, Event::RetransmitTimer { qpn });
                return;
            }
            Some(_) => qp.comp.timer_deadline = None,
        }
        if !qp.state.sends() {
            return;
        }
        if qp.req.sent_psn == qp.comp.psn {
            return;
        }
        self.stats.timeouts += 1;
        self.retry(now, qpn);
    }

    pub(crate) fn on_rnr_timer(&mut self, now: Ps, qpn: u32) {
        let qp = self.qp_mut(qpn).unwrap();
        if !qp.req.rnr_wait || !qp.state.sends() {
            return;
        }
        qp.req.rnr_wait = false;
        self.retransmit(now, qpn);
    }

    /// Local operations at the head of the send queue complete (rxe_req.c
    /// runs the completer at once for them: no ACK will come).
    pub(crate) fn complete_done_head(&mut self, t: Ps, qpn: u32) {
        let qp = self.qp_mut(qpn).unwrap();
        let cq = qp.send_cq;
        let mut done = Vec::new();
        while qp.sq.front().is_some_and(|w| w.stage == Stage::Done) {
            let w = qp.sq.pop_front().unwrap();
            qp.req.head_id += 1;
            if qp.sig_all || w.wr.signaled {
                done.push(Cqe::new(w.wr.wr_id, WcStatus::Success, wc_opcode(&w.wr), 0, qpn));
            }
        }
        for cqe in done {
            self.post_cqe(t, cq, cqe);
        }
    }

    /// A WQE the requester failed locally completes with its error once every
    /// WQE before it has completed (rxe_comp.c `get_wqe` -> COMPST_ERROR).
    pub(crate) fn check_failed_head(&mut self, t: Ps, qpn: u32) {
        let qp = self.qp(qpn).unwrap();
        if qp.state != QpState::Rts {
            return;
        }
        if let Some(status) = qp.sq.front().and_then(|w| if w.stage == Stage::Ready { w.error } else { None }) {
            self.fail_head(t, qpn, status);
        }
    }
}
