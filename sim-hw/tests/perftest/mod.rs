//! perftest-like drivers (ib_send_lat, ib_write_bw) over the kernel-free
//! HCA pair, shared by the calibration test and the throughput bench.
#![allow(dead_code)]

use sim_hw::harness::HcaPair;
use sim_hw::mr::Access;
use sim_hw::qp::QpAttr;
use sim_hw::{Profile, Ps};

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
        assert_eq!(c.status, sim_hw::cq::WcStatus::Success);
        let t1 = pair.now();
        pair.post_recv(t1, &b, i, size);
        pair.post_send(t1, &b, i, size, true);
        let c = pair.wait_cqe(a.hca, a.recv_cq).expect("A receives");
        assert_eq!(c.status, sim_hw::cq::WcStatus::Success);
        let t2 = pair.now();
        pair.post_recv(t2, &a, i, size);
        for ep in [&a, &b] {
            while let Some(c) = pair.fabric.hcas[ep.hca].poll_cq_one(ep.send_cq) {
                assert_eq!(c.status, sim_hw::cq::WcStatus::Success);
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

/// `ib_write_bw -s size -n iters`: RC RDMA WRITEs kept `tx_depth` deep,
/// every `cq_mod`-th signaled. Returns (payload bits/s, events run).
pub fn write_bw(profile: Profile, size: usize, iters: u64, mtu: usize) -> (f64, u64) {
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
        assert_eq!(c.status, sim_hw::cq::WcStatus::Success);
        completed = c.wr_id + 1;
    }
    let secs = (pair.now() - start) as f64 * 1e-12;
    let bits = (iters * size as u64 * 8) as f64;
    (bits / secs, pair.fabric.events_processed())
}
