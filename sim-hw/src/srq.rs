//! Shared receive queues: receive WQEs that any QP created with the SRQ
//! consumes, in order (IBTA Vol. 1 sec. 10.2.9; rxe_srq.c, rxe_resp.c
//! `get_srq_wqe`; mlx5_ib srq.c for the limits and what it refuses).
//!
//! An SRQ holds `max_wr` WQEs of at most `max_sge` entries each; a post
//! beyond either is refused (mlx5_ib_post_srq_recv: -EINVAL for the
//! entries, -ENOMEM when full). As on mlx5 (mlx5_ib_create_srq), the ring
//! has a power-of-two number of slots, one kept empty, so the `max_wr`
//! granted is `roundup_pow_of_two(max_wr + 1) - 1` ([`Hca::query_srq`]
//! reports it); asking for [`MAX_SRQ_WR`] + 1 or more, or more than
//! [`MAX_SRQ_SGE`] entries, is refused. Its limit (`srq_limit`), armed by MODIFY_SRQ,
//! is one-shot: when the responder takes a WQE and fewer than the limit
//! remain, the limit goes back to 0 and SRQ_LIMIT_REACHED is raised; the
//! consumer re-arms it. A limit beyond the granted `max_wr` is refused,
//! and so is a resize (mlx5_ib_modify_srq: -EINVAL for both). The WQEs are
//! the SRQ's, not a QP's: a QP going to ERROR flushes only the receive it
//! had started, and raises LAST_WQE_REACHED instead (`hca.rs`, `qp_error`).
//! Destroying an SRQ drops its WQEs without completions and disarms it.
//!
//! Key items: [`SrqAttr`], [`SrqAttrMask`], [`SrqError`], the driver calls
//! [`Hca::create_srq`], [`Hca::modify_srq`], [`Hca::query_srq`],
//! [`Hca::post_srq_recv`], [`Hca::destroy_srq`].

use std::collections::VecDeque;

use crate::engine::Ps;
use crate::hca::Hca;
use crate::host::{AsyncEvent, Interrupt};
use crate::qp::{CreateError, PostError, RecvWqe, RecvWr};

/// WQEs an SRQ may hold (ConnectX-4's max_srq_wr).
pub const MAX_SRQ_WR: u32 = 32767;
/// Scatter/gather entries per SRQ WQE (ConnectX-4's max_srq_sge).
pub const MAX_SRQ_SGE: u32 = 31;

/// `struct ib_srq_attr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SrqAttr {
    pub max_wr: u32,
    pub max_sge: u32,
    /// 0: not armed.
    pub srq_limit: u32,
}

/// `enum ib_srq_attr_mask`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SrqAttrMask(pub u32);

impl SrqAttrMask {
    pub const MAX_WR: SrqAttrMask = SrqAttrMask(1);
    pub const LIMIT: SrqAttrMask = SrqAttrMask(2);
}

/// Why an SRQ call failed (all -EINVAL in mlx5_ib).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SrqError {
    /// No such SRQ, or destroyed.
    BadSrq,
    /// A limit beyond the granted max_wr.
    InvalidAttr,
    /// A resize (IB_SRQ_MAX_WR), which the device does not do.
    Unsupported,
}

pub(crate) struct Srq {
    pub pd: u32,
    pub max_wr: u32,
    pub max_sge: u32,
    pub limit: u32,
    pub rq: VecDeque<RecvWqe>,
}

impl Hca {
    pub(crate) fn srq(&self, srq: u32) -> Option<&Srq> {
        self.srqs.get(srq as usize)?.as_ref()
    }

    /// CREATE_SRQ in protection domain `pd`. Fails for more than
    /// [`MAX_SRQ_WR`] WQEs or [`MAX_SRQ_SGE`] entries; grants at least
    /// what it was asked (see [`query_srq`](Self::query_srq)).
    pub fn create_srq(&mut self, pd: u32, max_wr: u32, max_sge: u32) -> Result<u32, CreateError> {
        if max_wr > MAX_SRQ_WR || max_sge > MAX_SRQ_SGE {
            return Err(CreateError::InvalidAttr);
        }
        let max_wr = (max_wr + 1).next_power_of_two() - 1;
        self.srqs.push(Some(Srq { pd, max_wr, max_sge: max_sge.max(1), limit: 0, rq: VecDeque::new() }));
        Ok(self.srqs.len() as u32 - 1)
    }

    /// MODIFY_SRQ: arms the limit (IB_SRQ_LIMIT); a resize is refused.
    pub fn modify_srq(&mut self, srq: u32, attr: &SrqAttr, mask: SrqAttrMask) -> Result<(), SrqError> {
        let s = self.srqs.get_mut(srq as usize).and_then(Option::as_mut).ok_or(SrqError::BadSrq)?;
        if mask.0 & SrqAttrMask::MAX_WR.0 != 0 {
            return Err(SrqError::Unsupported);
        }
        if mask.0 & SrqAttrMask::LIMIT.0 != 0 {
            if attr.srq_limit > s.max_wr {
                return Err(SrqError::InvalidAttr);
            }
            s.limit = attr.srq_limit;
        }
        Ok(())
    }

    /// QUERY_SRQ.
    pub fn query_srq(&self, srq: u32) -> Option<SrqAttr> {
        let s = self.srq(srq)?;
        Some(SrqAttr { max_wr: s.max_wr, max_sge: s.max_sge, srq_limit: s.limit })
    }

    /// The SRQ's protection domain.
    pub fn srq_pd(&self, srq: u32) -> Option<u32> {
        self.srq(srq).map(|s| s.pd)
    }

    /// WQEs posted and not yet taken.
    pub fn srq_len(&self, srq: u32) -> Option<usize> {
        self.srq(srq).map(|s| s.rq.len())
    }

    /// POST_SRQ_RECV at `now`: fetched by DMA read like a QP's receive.
    pub fn post_srq_recv(&mut self, now: Ps, srq: u32, wr: RecvWr) -> Result<(), PostError> {
        self.q.advance_to(now);
        let now = self.q.now();
        let s = self.srq(srq).ok_or(PostError::BadQp)?;
        if wr.sges.len() > s.max_sge as usize {
            return Err(PostError::TooManySge);
        }
        if s.rq.len() >= s.max_wr as usize {
            return Err(PostError::QueueFull);
        }
        let bytes = self.p.wqe_segment.value as usize * wr.sges.len().max(1);
        let fetched = self.pcie.dma_read(&self.p, now, bytes).end;
        self.srqs[srq as usize].as_mut().unwrap().rq.push_back(RecvWqe { wr, ready_at: fetched });
        Ok(())
    }

    /// DESTROY_SRQ: its WQEs go without completions; no event follows.
    pub fn destroy_srq(&mut self, srq: u32) -> Result<(), SrqError> {
        let s = self.srqs.get_mut(srq as usize).ok_or(SrqError::BadSrq)?;
        s.take().map(|_| ()).ok_or(SrqError::BadSrq)
    }

    /// The responder takes the next receive WQE of QP `qpn`: from its SRQ
    /// if it has one (raising SRQ_LIMIT_REACHED once when fewer than the
    /// armed limit remain, rxe_resp.c `get_srq_wqe`), else from its own
    /// receive queue.
    pub(crate) fn take_recv(&mut self, t: Ps, qpn: u32) -> Option<RecvWqe> {
        let qp = self.qp_mut(qpn)?;
        let Some(srq) = qp.srq else { return qp.resp.rq.pop_front() };
        let s = self.srqs.get_mut(srq as usize)?.as_mut()?;
        let wqe = s.rq.pop_front()?;
        if s.limit != 0 && (s.rq.len() as u32) < s.limit {
            s.limit = 0;
            self.raise(t, Interrupt::Async(AsyncEvent::SrqLimitReached { srq }));
        }
        Some(wqe)
    }
}
