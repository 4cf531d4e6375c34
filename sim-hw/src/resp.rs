//! The responder: checks each incoming request packet and executes it.
//! Analogous to Linux's drivers/infiniband/sw/rxe/rxe_resp.c
//! (`rxe_responder`), whose states it follows in order:
//!
//! 1. QP state: a packet for a QP not in RTS is silently dropped (as IBTA
//!    requires for a QP in ERROR), so the requester times out.
//! 2. CHK_PSN: a PSN beyond the expected one is out of sequence: the first
//!    such packet draws one PSN sequence NAK (`sent_psn_nak`), the rest are
//!    dropped; an older PSN is a duplicate and is re-acknowledged (C9-105).
//! 3. CHK_OP_SEQ: inside a message only MIDDLE/LAST of the same kind may
//!    follow; between messages only FIRST/ONLY. Violation: invalid request.
//! 4. CHK_OP_VALID / length: FIRST and MIDDLE packets carry exactly the path
//!    MTU, none more. Violation: invalid request.
//! 5. CHK_RESOURCE: a SEND needs a receive WQE; none is an RNR NAK carrying
//!    the QP's `min_rnr_timer`, and the PSN does not advance.
//! 6. CHK_LENGTH: a SEND longer than the receive buffer completes the
//!    receive with LOC_LEN_ERR and NAKs invalid request.
//! 7. CHK_RKEY: an RDMA WRITE's RETH must name a region of the QP's PD
//!    granting REMOTE_WRITE and covering the whole range; otherwise remote
//!    access NAK.
//! 8. EXECUTE: the payload is DMA-written to host memory (posted; visible
//!    after the PCIe write latency), the PSN advances, and the end of a SEND
//!    writes the receive CQE behind the data.
//! 9. ACKNOWLEDGE: a packet with AckReq schedules the QP's ACK; further
//!    AckReqs before it leaves are coalesced into it.
//!
//! A READ request checks its RETH for REMOTE_READ, reads the range by a
//! pipelined DMA read, and answers with one READ response per path MTU
//! (FIRST/MIDDLE/LAST or ONLY, AETH on all but MIDDLE), each leaving when
//! its bytes have arrived (rxe_resp.c `read_reply`). A duplicate READ is
//! executed again without moving the expected PSN (IBTA C9-106).
//!
//! An atomic (CMP_SWAP, FETCH_ADD) checks its AtomicETH for REMOTE_ATOMIC
//! on 8 bytes, then its alignment (misaligned: invalid request, as rxe's
//! `RESPST_ERR_MISALIGNED_ATOMIC`), and executes once its DMA read is back
//! and every earlier posted write is visible; the ATOMIC acknowledge
//! carries the original value. A duplicate is answered from the saved
//! result (the last `max_rd_atomic`), never executed twice (C9-150).
//!
//! Invalid request and access errors move the responder's QP to ERROR and
//! raise QP_REQ_ERR / QP_ACCESS_ERR (rxe `do_class_ac_error`).

use crate::cq::{Cqe, WcOpcode, WcStatus};
use crate::engine::Ps;
use crate::hca::{Event, Hca};
use crate::host::{AsyncEvent, Host, Interrupt};
use crate::mr::{Access, MrTable};
use crate::packet::{psn_add, psn_diff, AckKind, Aeth, Ext, Opcode, Packet, Payload, GRH_BYTES};
use crate::qp::{QpType, RecvInProgress, Sge, WriteInProgress};

impl Hca {
    pub(crate) fn responder<H: Host + ?Sized>(&mut self, host: &mut H, t: Ps, pkt: Packet) {
        let qpn = pkt.dest_qp;
        let ud = self.qp(qpn).is_some_and(|q| q.ud);
        if ud || pkt.opcode == Opcode::UdSendOnly {
            if ud && pkt.opcode == Opcode::UdSendOnly {
                return self.ud_receive(t, pkt);
            }
            self.stats.dropped_bad_qp += 1;
            return;
        }
        if self.qp(qpn).is_some_and(|q| q.qp_type == QpType::Uc && q.state.receives()) {
            // UC (rxe_resp.c `check_psn`): after a gap or a refused packet
            // the rest of the message is dropped; the next message's first
            // packet starts over from its own PSN, the partial message's
            // receive WQE put back to be used again.
            let qp = self.qp_mut(qpn).unwrap();
            if qp.resp.drop_msg || pkt.psn != qp.resp.psn {
                if !pkt.opcode.is_start() {
                    qp.resp.drop_msg = true;
                    self.stats.dropped_uc += 1;
                    return;
                }
                qp.resp.psn = pkt.psn;
                self.uc_restart(qpn);
            }
        }
        let mtu;
        {
            let Some(qp) = self.qp_mut(qpn).filter(|q| q.state.receives()) else {
                self.stats.dropped_bad_qp += 1;
                return;
            };
            mtu = qp.attr.path_mtu;
            // CHK_PSN
            let diff = psn_diff(pkt.psn, qp.resp.psn);
            if diff > 0 {
                if !qp.resp.sent_psn_nak {
                    qp.resp.sent_psn_nak = true;
                    let psn = qp.resp.psn;
                    self.send_nak(t, qpn, psn, AckKind::NakPsnSeq);
                }
                return;
            }
            if diff < 0 {
                if pkt.opcode.is_atomic() {
                    // Answered from the saved result, never executed twice.
                    let saved = qp.resp.atomic_results.iter().find(|r| r.0 == pkt.psn).map(|r| r.1);
                    if let Some(orig) = saved {
                        self.send_atomic_ack(t, qpn, pkt.psn, orig);
                    }
                    return;
                }
                if pkt.opcode == Opcode::ReadRequest {
                    // A duplicate READ is executed again (C9-106).
                    return self.execute_read(host, t, qpn, &pkt, false);
                }
                let psn = psn_add(qp.resp.psn, 0xff_ffff);
                self.schedule_ack(t, qpn, psn);
                return;
            }
            qp.resp.sent_psn_nak = false;
            // CHK_OP_SEQ
            let ok = match qp.resp.last_op {
                None => pkt.opcode.is_start(),
                Some(Opcode::SendFirst | Opcode::SendMiddle) => {
                    matches!(
                        pkt.opcode,
                        Opcode::SendMiddle | Opcode::SendLast | Opcode::SendLastInv | Opcode::SendLastImm
                    )
                }
                Some(_) => matches!(pkt.opcode, Opcode::WriteMiddle | Opcode::WriteLast | Opcode::WriteLastImm),
            };
            if !ok {
                return self.responder_error(t, qpn, &pkt, AckKind::NakInvalidRequest, None);
            }
            // CHK_OP_VALID: the QP's remote access flags (rxe_resp.c
            // `check_op_valid`: an operation the QP does not allow is an
            // invalid request).
            let need = match pkt.opcode {
                Opcode::ReadRequest => Access::REMOTE_READ,
                op if op.is_atomic() => Access::REMOTE_ATOMIC,
                op if op.is_write() => Access::REMOTE_WRITE,
                _ => Access::NONE,
            };
            // UC has no READ, atomics or SEND with invalidate.
            let uc_lacks = qp.qp_type == QpType::Uc
                && (pkt.opcode == Opcode::ReadRequest
                    || pkt.opcode.is_atomic()
                    || matches!(pkt.opcode, Opcode::SendLastInv | Opcode::SendOnlyInv));
            if !qp.attr.qp_access_flags.allows(need) || uc_lacks {
                return self.responder_error(t, qpn, &pkt, AckKind::NakInvalidRequest, None);
            }
        }
        if pkt.opcode == Opcode::ReadRequest {
            return self.execute_read(host, t, qpn, &pkt, true);
        }
        if pkt.opcode.is_atomic() {
            return self.execute_atomic(t, qpn, pkt);
        }
        // CHK_OP_VALID: packet length against the path MTU.
        let len = pkt.payload.len();
        if len > mtu || (!pkt.opcode.is_end() && len != mtu) {
            return self.responder_error(t, qpn, &pkt, AckKind::NakInvalidRequest, None);
        }
        let pd = self.qp(qpn).unwrap().pd;
        let mut start = t;
        // (host address, offset in the payload, length) of each piece to write.
        let mut pieces: Vec<(u64, usize, usize)> = Vec::new();
        if pkt.opcode.is_send() {
            // CHK_RESOURCE
            if pkt.opcode.is_start() {
                match self.take_recv(t, qpn) {
                    Some(wqe) => self.qps[qpn as usize - 1].resp.recv = Some(RecvInProgress { wqe, offset: 0 }),
                    None => return self.no_receive(t, qpn, pkt.psn),
                }
            }
            let recv = self.qps[qpn as usize - 1].resp.recv.as_ref().unwrap();
            start = start.max(recv.wqe.ready_at);
            // CHK_LENGTH
            let cap: usize = recv.wqe.wr.sges.iter().map(|s| s.len as usize).sum();
            if recv.offset + len > cap {
                return self.responder_error(t, qpn, &pkt, AckKind::NakInvalidRequest, Some(WcStatus::LocLenErr));
            }
            // Scatter into the receive buffers, each piece checked by lkey.
            if scatter(&self.mrs, pd, &recv.wqe.wr.sges, recv.offset, len, &mut pieces).is_err() {
                return self.responder_error(t, qpn, &pkt, AckKind::NakRemoteOp, Some(WcStatus::LocProtErr));
            }
        } else {
            // CHK_RESOURCE: the last packet of a WRITE with immediate
            // consumes a receive WQE (rxe's RXE_RWR_MASK); none is an RNR
            // NAK of that packet.
            if pkt.opcode.has_imm() {
                match self.take_recv(t, qpn) {
                    Some(wqe) => {
                        start = start.max(wqe.ready_at);
                        self.qps[qpn as usize - 1].resp.recv = Some(RecvInProgress { wqe, offset: 0 });
                    }
                    None => return self.no_receive(t, qpn, pkt.psn),
                }
            }
            // CHK_RKEY on the first packet; the rest continue the range.
            if let Some(reth) = pkt.reth {
                match self.mrs.translate_remote(reth.rkey, pd, qpn, reth.va, reth.len as u64, Access::REMOTE_WRITE) {
                    Ok(a) => {
                        self.qp_mut(qpn).unwrap().resp.write =
                            Some(WriteInProgress { host_addr: a, resid: reth.len as u64, len: reth.len as u64 })
                    }
                    Err(_) => return self.responder_error(t, qpn, &pkt, AckKind::NakRemoteAccess, None),
                }
            }
            let w = self.qp_mut(qpn).unwrap().resp.write.as_mut().expect("op sequence checked");
            if len as u64 > w.resid || (pkt.opcode.is_end() && len as u64 != w.resid) {
                return self.responder_error(t, qpn, &pkt, AckKind::NakInvalidRequest, None);
            }
            if len > 0 {
                pieces.push((w.host_addr, 0, len));
            }
            w.host_addr += len as u64;
            w.resid -= len as u64;
        }
        // EXECUTE: posted writes of the payload.
        for &(addr, off, n) in &pieces {
            let data = pkt.payload.slice(off, n);
            let visible = self.pcie.dma_write(&self.p, start, n);
            self.q.schedule(visible, Event::HostWrite { addr, data });
        }
        // A SEND_WITH_INVALIDATE invalidates its window once the data is
        // placed (rxe_resp.c `execute`); failing, the receive completes
        // with REM_INV_REQ_ERR and the QP goes to ERROR (class J).
        let invalidated = pkt.ieth();
        if let Some(rkey) = invalidated {
            if self.mrs.invalidate(rkey).is_err() {
                let status = Some(WcStatus::RemInvReqErr);
                return self.responder_error(t, qpn, &pkt, AckKind::NakInvalidRequest, status);
            }
        }
        let qp = self.qp_mut(qpn).unwrap();
        qp.resp.psn = psn_add(qp.resp.psn, 1);
        let end = pkt.opcode.is_end();
        qp.resp.last_op = if end { None } else { Some(pkt.opcode) };
        let mut cqe = None;
        if end {
            qp.resp.msn = psn_add(qp.resp.msn, 1);
            let write = qp.resp.write.take();
            let imm = pkt.imm();
            if pkt.opcode.is_send() {
                let r = qp.resp.recv.take().unwrap();
                let c = Cqe::new(r.wqe.wr.wr_id, WcStatus::Success, WcOpcode::Recv, (r.offset + len) as u32, qpn);
                cqe = Some((qp.recv_cq, Cqe { invalidated_rkey: invalidated, imm, ..c }));
            } else if pkt.opcode.has_imm() {
                // The WRITE's length, nothing scattered (rxe_resp.c do_complete).
                let r = qp.resp.recv.take().unwrap();
                let n = write.map_or(0, |w| w.len) as u32;
                let c = Cqe::new(r.wqe.wr.wr_id, WcStatus::Success, WcOpcode::RecvRdmaWithImm, n, qpn);
                cqe = Some((qp.recv_cq, Cqe { imm, ..c }));
            }
        } else if let Some(r) = qp.resp.recv.as_mut() {
            r.offset += len;
        }
        if let Some((cq, cqe)) = cqe {
            self.post_cqe_se(start, cq, cqe, pkt.se);
        }
        if pkt.ack_req {
            self.schedule_ack(t, qpn, pkt.psn);
        }
    }

    /// READ: CHK_RKEY for REMOTE_READ, then a pipelined DMA read of the
    /// range and one response packet per path MTU, each leaving when its
    /// bytes have arrived (rxe_resp.c `read_reply`). `advance` is false for
    /// a duplicate request, which leaves the responder's PSN alone.
    fn execute_read<H: Host + ?Sized>(&mut self, host: &mut H, t: Ps, qpn: u32, pkt: &Packet, advance: bool) {
        let reth = pkt.reth.expect("a READ request carries a RETH");
        let qp = self.qp(qpn).unwrap();
        let (pd, mtu, dlid, dqp, msn) = (qp.pd, qp.attr.path_mtu, qp.attr.dest_lid, qp.attr.dest_qpn, qp.resp.msn);
        let len = reth.len as usize;
        let addr = match self.mrs.translate_remote(reth.rkey, pd, qpn, reth.va, len as u64, Access::REMOTE_READ) {
            Ok(a) => a,
            Err(_) => return self.responder_error(t, qpn, pkt, AckKind::NakRemoteAccess, None),
        };
        let mut data = vec![0; len];
        if host.dma_read(addr, &mut data).is_err() {
            return self.responder_error(t, qpn, pkt, AckKind::NakRemoteOp, None);
        }
        let data = std::sync::Arc::new(data);
        let timing = (len > 0).then(|| self.pcie.dma_read(&self.p, t, len));
        let npkts = len.div_ceil(mtu).max(1);
        let msn = if advance { psn_add(msn, 1) } else { msn };
        for k in 0..npkts {
            let (first, last) = (k == 0, k == npkts - 1);
            let opcode = match (first, last) {
                (true, true) => Opcode::ReadResponseOnly,
                (true, false) => Opcode::ReadResponseFirst,
                (false, true) => Opcode::ReadResponseLast,
                (false, false) => Opcode::ReadResponseMiddle,
            };
            let end = ((k + 1) * mtu).min(len);
            let ready = timing.map_or(t, |g| g.available(&self.p, end));
            let resp = Packet {
                dlid,
                slid: self.lid,
                dest_qp: dqp,
                opcode,
                psn: psn_add(pkt.psn, k as u32),
                ack_req: false,
                se: false,
                reth: None,
                aeth: opcode.has_aeth().then_some(Aeth { kind: AckKind::Ack, msn }),
                ext: Ext::None,
                payload: Payload::window(&data, k * mtu, end - k * mtu),
            };
            self.q.schedule(ready, Event::Transmit(resp));
        }
        if advance {
            let qp = self.qp_mut(qpn).unwrap();
            qp.resp.psn = psn_add(qp.resp.psn, npkts as u32);
            qp.resp.msn = msn;
            qp.resp.last_op = None;
        }
    }

    /// An atomic: CHK_RKEY for REMOTE_ATOMIC on 8 bytes, then the alignment
    /// (rxe `RESPST_ERR_MISALIGNED_ATOMIC`: invalid request). The read-modify-
    /// write runs when its 8-byte DMA read returns, and not before every
    /// earlier posted write is visible (PCIe ordering), so that it sees
    /// the data of the WRITEs before it.
    fn execute_atomic(&mut self, t: Ps, qpn: u32, pkt: Packet) {
        let eth = pkt.atomic().expect("an atomic carries an AtomicETH");
        let pd = self.qp(qpn).unwrap().pd;
        let addr = match self.mrs.translate_remote(eth.rkey, pd, qpn, eth.va, 8, Access::REMOTE_ATOMIC) {
            Ok(a) => a,
            Err(_) => return self.responder_error(t, qpn, &pkt, AckKind::NakRemoteAccess, None),
        };
        if !eth.va.is_multiple_of(8) {
            return self.responder_error(t, qpn, &pkt, AckKind::NakInvalidRequest, None);
        }
        let read = self.pcie.dma_read(&self.p, t, 8);
        let at = read.end.max(self.pcie.writes_visible(&self.p));
        let qp = self.qp_mut(qpn).unwrap();
        qp.resp.psn = psn_add(qp.resp.psn, 1);
        qp.resp.msn = psn_add(qp.resp.msn, 1);
        qp.resp.last_op = None;
        qp.resp.atomic_pending.push_back((pkt.psn, at));
        self.q.schedule(at, Event::AtomicExec { qpn, addr, pkt });
    }

    /// The atomic's read-modify-write. The HCA holds the location for the
    /// operation, so the new value is in memory at once (the next atomic
    /// reads it); the 8-byte posted write's PCIe time is charged.
    pub(crate) fn on_atomic_exec<H: Host + ?Sized>(&mut self, host: &mut H, now: Ps, qpn: u32, addr: u64, pkt: Packet) {
        let max = self.p.max_rd_atomic.value as usize;
        let Some(qp) = self.qp_mut(qpn).filter(|q| q.state.receives()) else { return };
        // Not pending any more: the QP was flushed or reset since.
        let Some(i) = qp.resp.atomic_pending.iter().position(|&(psn, _)| psn == pkt.psn) else { return };
        qp.resp.atomic_pending.remove(i);
        let eth = pkt.atomic().unwrap();
        let mut b = [0; 8];
        if host.dma_read(addr, &mut b).is_err() {
            return self.responder_error(now, qpn, &pkt, AckKind::NakRemoteOp, None);
        }
        let orig = u64::from_le_bytes(b);
        let new = match pkt.opcode {
            Opcode::CompareSwap if orig == eth.compare => eth.swap_add,
            Opcode::CompareSwap => orig,
            _ => orig.wrapping_add(eth.swap_add),
        };
        if host.dma_write(addr, &new.to_le_bytes()).is_err() {
            self.stats.dma_write_faults += 1;
        }
        self.pcie.dma_write(&self.p, now, 8);
        let qp = self.qp_mut(qpn).unwrap();
        if qp.resp.atomic_results.len() >= max {
            qp.resp.atomic_results.pop_front();
        }
        qp.resp.atomic_results.push_back((pkt.psn, orig));
        self.send_atomic_ack(now, qpn, pkt.psn, orig);
    }

    /// Sends the ATOMIC acknowledge of `psn` carrying `orig`.
    fn send_atomic_ack(&mut self, t: Ps, qpn: u32, psn: u32, orig: u64) {
        self.send_ack(t, qpn, psn, AckKind::Ack, Opcode::AtomicAcknowledge, Ext::AtomicAck(orig));
    }

    /// A UD datagram (after rxe_resp.c for UD): dropped silently unless the
    /// QP is in RTS, the Q_Key matches, the payload fits the path MTU and
    /// a receive WQE is posted (UD has no RNR NAK, no PSN check, no ACK).
    /// The payload lands 40 bytes into the receive buffer, behind the room
    /// verbs reserve for a GRH; a buffer too small for both completes the
    /// receive with LOC_LEN_ERR (rxe's class D error for UD). The CQE names
    /// the sender's QP and LID.
    fn ud_receive(&mut self, t: Ps, pkt: Packet) {
        let qpn = pkt.dest_qp;
        let deth = pkt.deth().expect("a UD packet carries a DETH");
        let qp = self.qp_mut(qpn).unwrap();
        if !qp.state.receives() || pkt.payload.len() > qp.attr.path_mtu {
            self.stats.dropped_bad_qp += 1;
            return;
        }
        if deth.qkey != qp.attr.qkey {
            self.stats.dropped_qkey += 1;
            return;
        }
        let (pd, cq) = (qp.pd, qp.recv_cq);
        let Some(wqe) = self.take_recv(t, qpn) else {
            self.stats.dropped_no_recv += 1;
            return;
        };
        let start = t.max(wqe.ready_at);
        let len = pkt.payload.len();
        let cap: usize = wqe.wr.sges.iter().map(|s| s.len as usize).sum();
        let mut cqe = Cqe {
            wr_id: wqe.wr.wr_id,
            status: WcStatus::Success,
            opcode: WcOpcode::Recv,
            byte_len: (GRH_BYTES + len) as u32,
            qpn,
            src_qp: deth.src_qp,
            slid: pkt.slid,
            invalidated_rkey: None,
            imm: None,
        };
        let mut pieces = Vec::new();
        if GRH_BYTES + len > cap {
            cqe.status = WcStatus::LocLenErr;
        } else {
            let mut at = Vec::new();
            if scatter(&self.mrs, pd, &wqe.wr.sges, GRH_BYTES, len, &mut at).is_err() {
                cqe.status = WcStatus::LocProtErr;
            } else {
                pieces.extend(at.into_iter().map(|(a, done, n)| (a, pkt.payload.slice(done, n))));
            }
        }
        if cqe.status != WcStatus::Success {
            cqe.byte_len = 0;
        }
        for (addr, data) in pieces {
            let visible = self.pcie.dma_write(&self.p, start, data.len());
            self.q.schedule(visible, Event::HostWrite { addr, data });
        }
        if cqe.status == WcStatus::Success {
            self.post_cqe_se(start, cq, cqe, pkt.se);
        } else {
            self.post_cqe(start, cq, cqe);
        }
    }

    /// Coalesces an ACK of `psn` into the QP's pending ACK.
    fn schedule_ack(&mut self, t: Ps, qpn: u32, psn: u32) {
        let qp = self.qp_mut(qpn).unwrap();
        qp.resp.ack_psn = psn;
        if !qp.resp.ack_scheduled {
            qp.resp.ack_scheduled = true;
            self.q.schedule(t, Event::SendAck { qpn });
        }
    }

    pub(crate) fn on_send_ack(&mut self, now: Ps, qpn: u32) {
        let qp = self.qp_mut(qpn).unwrap();
        if let Some(&(apsn, at)) = qp.resp.atomic_pending.front() {
            if now < at && psn_diff(qp.resp.ack_psn, apsn) > 0 {
                // Not before the atomic's acknowledge: responses in PSN order.
                self.q.schedule(at, Event::SendAck { qpn });
                return;
            }
        }
        qp.resp.ack_scheduled = false;
        if !qp.state.receives() {
            return;
        }
        let psn = qp.resp.ack_psn;
        self.send_nak(now, qpn, psn, AckKind::Ack);
    }

    /// Sends an acknowledge (ACK or NAK) of `psn` at `t`.
    fn send_nak(&mut self, t: Ps, qpn: u32, psn: u32, kind: AckKind) {
        self.send_ack(t, qpn, psn, kind, Opcode::Acknowledge, Ext::None);
    }

    /// Sends an acknowledge packet of `psn` at `t`: an AETH of `kind` with
    /// the responder's MSN, and `ext` (an ATOMIC acknowledge's original
    /// value).
    fn send_ack(&mut self, t: Ps, qpn: u32, psn: u32, kind: AckKind, opcode: Opcode, ext: Ext) {
        let lid = self.lid;
        let qp = self.qp(qpn).unwrap();
        let pkt = Packet {
            dlid: qp.attr.dest_lid,
            slid: lid,
            dest_qp: qp.attr.dest_qpn,
            opcode,
            psn,
            ack_req: false,
            se: false,
            reth: None,
            aeth: Some(Aeth { kind, msn: qp.resp.msn }),
            ext,
            payload: Payload::default(),
        };
        self.transmit(t, pkt);
    }

    /// No receive WQE for a SEND or a WRITE with immediate: RC sends an
    /// RNR NAK carrying the QP's `min_rnr_timer` and drops later packets of
    /// the message, not NAKing them again, until the retry arrives; UC
    /// drops the message (rxe_resp.c RESPST_ERR_RNR).
    fn no_receive(&mut self, t: Ps, qpn: u32, psn: u32) {
        let qp = &mut self.qps[qpn as usize - 1];
        if qp.qp_type == QpType::Uc {
            return self.uc_drop(qpn);
        }
        qp.resp.sent_psn_nak = true;
        let code = qp.attr.min_rnr_timer;
        self.send_nak(t, qpn, psn, AckKind::RnrNak(code));
    }

    /// UC: the message in progress is dropped, silently, and its receive
    /// WQE kept for the next one (rxe_resp.c: UC errors set `drop_msg`).
    fn uc_drop(&mut self, qpn: u32) {
        self.stats.dropped_uc += 1;
        self.uc_restart(qpn);
        self.qp_mut(qpn).unwrap().resp.drop_msg = true;
    }

    /// UC: forget the message in progress; a receive WQE it had taken goes
    /// back to the front of its queue (the QP's or the SRQ's).
    fn uc_restart(&mut self, qpn: u32) {
        let qp = self.qp_mut(qpn).unwrap();
        qp.resp.drop_msg = false;
        qp.resp.last_op = None;
        qp.resp.write = None;
        let Some(r) = qp.resp.recv.take() else { return };
        match qp.srq {
            None => qp.resp.rq.push_front(r.wqe),
            Some(s) => {
                if let Some(srq) = self.srqs.get_mut(s as usize).and_then(Option::as_mut) {
                    srq.rq.push_front(r.wqe);
                }
            }
        }
    }

    /// A class B/C responder error: NAK, complete the receive in progress
    /// with `recv_status` if given, raise the async event, QP to ERROR. On
    /// UC the message is dropped instead, the QP left alone.
    fn responder_error(&mut self, t: Ps, qpn: u32, pkt: &Packet, nak: AckKind, recv_status: Option<WcStatus>) {
        if self.qp(qpn).unwrap().qp_type == QpType::Uc {
            return self.uc_drop(qpn);
        }
        self.send_nak(t, qpn, pkt.psn, nak);
        let qp = self.qp_mut(qpn).unwrap();
        if let (Some(status), Some(r)) = (recv_status, qp.resp.recv.take()) {
            let cq = qp.recv_cq;
            let cqe = Cqe::new(r.wqe.wr.wr_id, status, WcOpcode::Recv, 0, qpn);
            self.post_cqe(t, cq, cqe);
        }
        let ev = match nak {
            AckKind::NakRemoteAccess => AsyncEvent::QpAccessError { qpn },
            _ => AsyncEvent::QpRequestError { qpn },
        };
        self.raise(t, Interrupt::Async(ev));
        self.qp_error(t, qpn);
    }
}

/// Where `len` bytes land in a receive WQE's scatter list, starting `off`
/// bytes into it: `(host address, offset in the payload, length)` per
/// piece, pushed onto `out`, each piece checked through its lkey for
/// LOCAL_WRITE. An lkey that does not allow it: `Err` (the caller's
/// LOC_PROT_ERR), with `out` holding the pieces before it.
fn scatter(
    mrs: &MrTable,
    pd: u32,
    sges: &[Sge],
    mut off: usize,
    len: usize,
    out: &mut Vec<(u64, usize, usize)>,
) -> Result<(), ()> {
    let mut done = 0;
    for sge in sges {
        if done == len {
            break;
        }
        let sl = sge.len as usize;
        if off >= sl {
            off -= sl;
            continue;
        }
        let n = (sl - off).min(len - done);
        let a = mrs.translate(sge.lkey, pd, sge.addr + off as u64, n as u64, Access::LOCAL_WRITE).map_err(|_| ())?;
        out.push((a, done, n));
        done += n;
        off = 0;
    }
    Ok(())
}
