//! perftest-like drivers over the kernel-free harness, shared by the
//! calibration and scale tests and by `ksim-bench`: `ib_send_lat` and
//! `ib_write_bw` on two HCAs back to back, and an all-to-all of RDMA
//! WRITEs over N HCAs behind a switch.
//!
//! Key functions: [`send_lat`], [`write_bw`] / [`write_bw_run`],
//! [`all_to_all`].

use crate::cq::WcStatus;
use crate::harness::{Cluster, Endpoint, HcaPair, MEM_BASE};
use crate::mr::Access;
use crate::qp::{QpAttr, SendOp};
use crate::{Profile, Ps};

/// perftest's receive queue depth for latency tests is larger; a few suffice
/// as each receive is reposted as soon as it completes.
const RX_DEPTH: u64 = 8;

/// `ib_send_lat -s size -n iters`: RC SEND ping-pong, inline up to the
/// profile's max_inline, both sides busy-polling their CQs. Returns the
/// one-way samples (round trip / 2) in ps, and the events the model ran.
pub fn send_lat(profile: Profile, size: usize, iters: usize) -> (Vec<Ps>, u64) {
    let mut pair = HcaPair::new(profile, size.max(64), 1);
    let access = Access::LOCAL_WRITE | Access::REMOTE_WRITE;
    let (a, b) = pair.connect_rc(QpAttr::default(), size.max(64) as u64, access);
    for i in 0..RX_DEPTH {
        pair.post_recv(0, &a, i, size);
        pair.post_recv(0, &b, i, size);
    }
    let mut samples = Vec::with_capacity(iters);
    for i in 0..iters as u64 {
        let t0 = pair.now();
        pair.post_send(t0, &a, i, size, true);
        let c = pair.wait_cqe(b.hca, b.recv_cq).expect("B receives");
        assert_eq!(c.status, WcStatus::Success);
        let t1 = pair.now();
        pair.post_recv(t1, &b, i, size);
        pair.post_send(t1, &b, i, size, true);
        let c = pair.wait_cqe(a.hca, a.recv_cq).expect("A receives");
        assert_eq!(c.status, WcStatus::Success);
        let t2 = pair.now();
        pair.post_recv(t2, &a, i, size);
        for ep in [&a, &b] {
            while let Some(c) = pair.fabric.hca_mut(ep.hca).poll_cq_one(ep.send_cq) {
                assert_eq!(c.status, WcStatus::Success);
            }
        }
        samples.push((t2 - t0) / 2);
    }
    pair.run_to_idle();
    (samples, pair.fabric.events_processed())
}

/// The median, as perftest's "t_typical".
pub fn median(v: &mut [Ps]) -> Ps {
    v.sort_unstable();
    v[v.len() / 2]
}

/// One `ib_write_bw` run.
#[derive(Clone, Copy, Debug)]
pub struct WriteBw {
    /// Payload bits per simulated second.
    pub bits_per_sec: f64,
    /// Events the model ran.
    pub events: u64,
    /// Simulated time from the first post to the last completion.
    pub sim_time: Ps,
}

/// `ib_write_bw -s size -n iters`: RC RDMA WRITEs kept `tx_depth` deep,
/// every `cq_mod`-th signaled. Returns (payload bits/s, events run).
pub fn write_bw(profile: Profile, size: usize, iters: u64, mtu: usize) -> (f64, u64) {
    let r = write_bw_run(profile, size, iters, mtu);
    (r.bits_per_sec, r.events)
}

/// [`write_bw`], with the simulated time it took.
pub fn write_bw_run(profile: Profile, size: usize, iters: u64, mtu: usize) -> WriteBw {
    let tx_depth = 128;
    let cq_mod = 100;
    let mut pair = HcaPair::new(profile, size.max(64), 1);
    let access = Access::LOCAL_WRITE | Access::REMOTE_WRITE;
    let attr = QpAttr { path_mtu: mtu, ..QpAttr::default() };
    let (a, b) = pair.connect_rc(attr, size.max(64) as u64, access);
    let (mut posted, mut completed) = (0u64, 0u64);
    let start = pair.now();
    while completed < iters {
        while posted < iters && posted - completed < tx_depth {
            let signaled = (posted + 1) % cq_mod == 0 || posted + 1 == iters;
            let now = pair.now();
            pair.post_write(now, &a, posted, size, b.buf, b.mr.rkey, signaled);
            posted += 1;
        }
        let c = pair.wait_cqe(a.hca, a.send_cq).expect("write completes");
        assert_eq!(c.status, WcStatus::Success);
        completed = c.wr_id + 1;
    }
    let sim_time = pair.now() - start;
    let bits = (iters * size as u64 * 8) as f64;
    WriteBw { bits_per_sec: bits / (sim_time as f64 * 1e-12), events: pair.fabric.events_processed(), sim_time }
}

/// One [`all_to_all`] run.
#[derive(Clone, Copy, Debug)]
pub struct AllToAll {
    /// QPs in all (HCAs x QPs per HCA).
    pub qps: usize,
    /// WRITEs completed.
    pub writes: u64,
    /// Events the model ran.
    pub events: u64,
    /// Simulated time from the first post to the last completion.
    pub sim_time: Ps,
    /// Packets lost anywhere in the fabric (none for lack of buffer).
    pub dropped: u64,
    /// Packets that waited for link-level credits.
    pub credit_stalls: u64,
    /// Packets retransmitted by all HCAs.
    pub retransmitted: u64,
}

/// An all-to-all of RDMA WRITEs behind one switch: `hcas` HCAs, each with
/// `qps_per_hca` RC QPs. With an even `qps_per_hca`, for each distance d in
/// 1..=qps_per_hca/2 HCA i connects a QP to HCA i + d (mod `hcas`), so every
/// HCA has QPs to the qps_per_hca/2 HCAs ahead of it and as many behind;
/// with 1, HCAs pair up (0 with 1, 2 with 3, ...). Every QP writes
/// `writes_per_qp` messages of `size` bytes, `depth` outstanding, from its
/// own source buffer into its own region of the peer's memory. Each HCA
/// shares one send CQ among its QPs, and the driver polls only the CQ of
/// the HCA whose event just ran, so the driver's own cost per event does
/// not grow with the QP count. Panics if a WRITE fails or (in
/// [`check`](Self::check)) a region does not hold its sender's bytes.
pub struct AllToAllRun {
    /// The HCAs and their hosts.
    pub cluster: Cluster,
    size: usize,
    depth: u64,
    cqs: Vec<u32>,
    /// eps[h][slot] = (this QP, its peer).
    eps: Vec<Vec<(Endpoint, Endpoint)>>,
    /// by_qpn[h][qpn] = slot.
    by_qpn: Vec<Vec<usize>>,
    left: Vec<Vec<u64>>,
}

/// [`AllToAllRun`] built, run and checked.
pub fn all_to_all(
    profile: Profile,
    hcas: usize,
    qps_per_hca: usize,
    size: usize,
    writes_per_qp: u64,
    depth: u64,
) -> AllToAll {
    let mut run = AllToAllRun::new(profile, hcas, qps_per_hca, size, writes_per_qp, depth);
    let r = run.run();
    run.check();
    r
}

impl AllToAllRun {
    /// Builds the cluster, registers memory, fills the source buffers and
    /// connects the QPs; runs nothing.
    pub fn new(profile: Profile, hcas: usize, qps_per_hca: usize, size: usize, writes_per_qp: u64, depth: u64) -> Self {
        let q = qps_per_hca;
        assert!(hcas >= 2 && (q == 1 || q.is_multiple_of(2)), "1 or an even number of QPs per HCA");
        assert!(q > 1 || hcas.is_multiple_of(2), "pairs need an even number of HCAs");
        assert!((1..=q / 2).all(|d| d % hcas != 0), "a QP would connect an HCA to itself");
        // Slot k of each HCA: a source buffer, then a destination region.
        let region = |k: usize| MEM_BASE + (2 * k * size) as u64;
        let mut c = Cluster::switched(profile, hcas, 2 * q * size, 7);
        let access = Access::LOCAL_WRITE | Access::REMOTE_WRITE;
        let mut cqs = Vec::new();
        let mut mrs = Vec::new();
        for h in 0..hcas {
            let hca = c.fabric.hca_mut(h);
            cqs.push(hca.create_cq(q * depth as usize + 16));
            mrs.push(hca.reg_mr(1, MEM_BASE, (2 * q * size) as u64, MEM_BASE, access));
            for k in 0..q {
                let pattern: Vec<u8> =
                    (0..size).map(|i| (i as u64 * 31 + h as u64 * 7 + k as u64 * 13) as u8).collect();
                c.hosts[h].mem.store(region(k), &pattern);
                // Touch the destination too, so that the run does not pay
                // the host's first-touch page faults.
                c.hosts[h].mem.store(region(k) + size as u64, &vec![0xee; size]);
            }
        }
        // (HCA, slot, peer HCA, peer slot) of each connection.
        let mut conns = Vec::new();
        if q == 1 {
            conns.extend((0..hcas).step_by(2).map(|i| (i, 0, i + 1, 0)));
        } else {
            for d in 1..=q / 2 {
                conns.extend((0..hcas).map(|i| (i, 2 * (d - 1), (i + d) % hcas, 2 * (d - 1) + 1)));
            }
        }
        let mut eps: Vec<Vec<Option<(Endpoint, Endpoint)>>> = vec![vec![None; q]; hcas];
        let mut by_qpn: Vec<Vec<usize>> = vec![Vec::new(); hcas];
        for (i, ki, j, kj) in conns {
            let a = c.endpoint(i, cqs[i], cqs[i], region(ki), size as u64, mrs[i]);
            let b = c.endpoint(j, cqs[j], cqs[j], region(kj), size as u64, mrs[j]);
            c.connect(&a, &b, QpAttr::default());
            eps[i][ki] = Some((a, b));
            eps[j][kj] = Some((b, a));
            for (h, qpn, k) in [(i, a.qpn, ki), (j, b.qpn, kj)] {
                let v = &mut by_qpn[h];
                if v.len() <= qpn as usize {
                    v.resize(qpn as usize + 1, usize::MAX);
                }
                v[qpn as usize] = k;
            }
        }
        let eps = eps.into_iter().map(|row| row.into_iter().map(|e| e.expect("every slot connected")).collect());
        AllToAllRun {
            cluster: c,
            size,
            depth,
            cqs,
            eps: eps.collect(),
            by_qpn,
            left: vec![vec![writes_per_qp; q]; hcas],
        }
    }

    fn post(&mut self, h: usize, k: usize, now: Ps) {
        let (me, peer) = self.eps[h][k];
        let n = self.left[h][k];
        self.left[h][k] -= 1;
        // Into the peer's destination region, behind its source buffer.
        let dst = peer.buf + self.size as u64;
        let op = SendOp::RdmaWrite { remote_addr: dst, rkey: peer.mr.rkey };
        self.cluster.post(now, &me, n, op, self.size, true);
    }

    /// Posts every WRITE, `depth` per QP at a time, and runs until all have
    /// completed (then until the model is idle).
    pub fn run(&mut self) -> AllToAll {
        let hcas = self.eps.len();
        let q = self.eps[0].len();
        let total: u64 = self.left.iter().flatten().sum();
        let events0 = self.cluster.fabric.events_processed();
        let start = self.cluster.now();
        for h in 0..hcas {
            for k in 0..q {
                for _ in 0..self.depth.min(self.left[h][k]) {
                    self.post(h, k, start);
                }
            }
        }
        let mut done = 0u64;
        while done < total {
            let (_, src) = self.cluster.step().expect("the all-to-all completes");
            if src >= hcas {
                continue;
            }
            while let Some(cqe) = self.cluster.fabric.poll_cq_one(src, self.cqs[src]) {
                assert_eq!(cqe.status, WcStatus::Success, "{cqe:?}");
                done += 1;
                let k = self.by_qpn[src][cqe.qpn as usize];
                if self.left[src][k] > 0 {
                    let now = self.cluster.now();
                    self.post(src, k, now);
                }
            }
        }
        let sim_time = self.cluster.now() - start;
        self.cluster.run_to_idle();
        let f = &self.cluster.fabric;
        AllToAll {
            qps: hcas * q,
            writes: done,
            events: f.events_processed() - events0,
            sim_time,
            dropped: f.links.iter().map(|l| l.dropped).sum(),
            credit_stalls: f.links.iter().map(|l| l.credit_stalls).sum(),
            retransmitted: f.hcas().iter().map(|h| h.stats().retransmitted_packets).sum(),
        }
    }

    /// Panics unless every destination region holds its sender's bytes.
    pub fn check(&self) {
        for (h, row) in self.eps.iter().enumerate() {
            for (k, (me, peer)) in row.iter().enumerate() {
                let sent = self.cluster.hosts[h].mem.slice(me.buf, self.size);
                let got = self.cluster.hosts[peer.hca].mem.slice(peer.buf + self.size as u64, self.size);
                assert!(sent == got, "HCA {h} slot {k}: the peer's region does not hold the written bytes");
            }
        }
    }
}
