//! A kernel-free harness: HCAs on a fabric (two back to back, or N behind a
//! switch), each with a flat host memory and an interrupt log, and helpers
//! to connect RC QPs and post work as a verbs user would. Unit tests, the
//! calibration runs and the benches drive the model through it.
//!
//! Key types: [`HcaPair`] (alias [`Cluster`]), [`TestHost`], [`Endpoint`].

use crate::cq::Cqe;
use crate::engine::Ps;
use crate::fabric::Fabric;
use crate::host::{DmaError, FlatMemory, HostMemory, Interrupt, InterruptSink};
use crate::mr::{Access, MrKeys};
use crate::profile::Profile;
use crate::qp::{QpAttr, RecvWr, SendOp, SendWr, Sge};

/// A host: flat memory plus a log of the interrupts it received.
pub struct TestHost {
    pub mem: FlatMemory,
    pub irqs: Vec<Interrupt>,
}

impl HostMemory for TestHost {
    fn dma_read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), DmaError> {
        self.mem.dma_read(addr, buf)
    }
    fn dma_write(&mut self, addr: u64, data: &[u8]) -> Result<(), DmaError> {
        self.mem.dma_write(addr, data)
    }
}

impl InterruptSink for TestHost {
    fn interrupt(&mut self, irq: Interrupt) {
        self.irqs.push(irq);
    }
}

/// One side of a connection: its HCA index, QP, CQs and a registered buffer.
#[derive(Clone, Copy, Debug)]
pub struct Endpoint {
    pub hca: usize,
    pub qpn: u32,
    pub send_cq: u32,
    pub recv_cq: u32,
    /// The buffer: host address (== iova) and length.
    pub buf: u64,
    pub buf_len: u64,
    pub mr: MrKeys,
}

/// Host memory of each side starts here.
pub const MEM_BASE: u64 = 0x10_0000;

/// HCAs on a fabric with their hosts (two back to back unless built with
/// [`HcaPair::switched`]).
pub struct HcaPair {
    pub fabric: Fabric,
    pub hosts: Vec<TestHost>,
}

/// The same harness, for more than two HCAs.
pub type Cluster = HcaPair;

impl HcaPair {
    /// A pair with `mem` bytes of host memory on each side and link loss seed `seed`.
    pub fn new(profile: Profile, mem: usize, seed: u64) -> HcaPair {
        HcaPair::with_fabric(Fabric::pair(profile, seed), mem)
    }

    /// `n` HCAs behind one switch, `mem` bytes of host memory each.
    pub fn switched(profile: Profile, n: usize, mem: usize, seed: u64) -> HcaPair {
        HcaPair::with_fabric(Fabric::switched(profile, n, seed), mem)
    }

    /// A two-level tree: `leaves` leaf switches with `per_leaf` HCAs each,
    /// every leaf cabled to one spine; `mem` bytes of host memory each.
    pub fn tree(profile: Profile, leaves: usize, per_leaf: usize, mem: usize, seed: u64) -> HcaPair {
        HcaPair::with_fabric(Fabric::tree(profile, leaves, per_leaf, seed), mem)
    }

    fn with_fabric(fabric: Fabric, mem: usize) -> HcaPair {
        let hosts = (0..fabric.len()).map(|_| TestHost { mem: FlatMemory::new(MEM_BASE, mem), irqs: Vec::new() });
        HcaPair { hosts: hosts.collect(), fabric }
    }

    /// The time of the last event run.
    pub fn now(&self) -> Ps {
        self.fabric.now()
    }

    /// Runs one event.
    pub fn step(&mut self) -> Option<(Ps, usize)> {
        self.fabric.step(&mut self.hosts)
    }

    /// Runs events until none is left or the next is after `limit`.
    pub fn run_until(&mut self, limit: Ps) {
        self.fabric.poll(limit, &mut self.hosts);
    }

    /// Runs every event.
    pub fn run_to_idle(&mut self) {
        while self.step().is_some() {}
    }

    /// Runs events until `hca`'s CQ `cq` has an entry (busy polling) and
    /// takes it; None if the model goes idle first.
    pub fn wait_cqe(&mut self, hca: usize, cq: u32) -> Option<Cqe> {
        loop {
            if let Some(c) = self.fabric.poll_cq_one(hca, cq) {
                return Some(c);
            }
            self.step()?;
        }
    }

    /// Creates a QP with its own send and receive CQs and a `buf_len` buffer
    /// at `buf` registered with `access`, on HCAs 0 and 1, and connects them
    /// with `attr` (destination fields filled in).
    pub fn connect_rc(&mut self, attr: QpAttr, buf_len: u64, access: Access) -> (Endpoint, Endpoint) {
        let (a, b) = self.rc_endpoints(buf_len, access);
        self.connect(&a, &b, attr);
        (a, b)
    }

    /// As [`connect_rc`](Self::connect_rc), leaving both QPs in RESET.
    pub fn rc_endpoints(&mut self, buf_len: u64, access: Access) -> (Endpoint, Endpoint) {
        let mut eps = Vec::new();
        for hca in 0..2 {
            let h = self.fabric.hca_mut(hca);
            let send_cq = h.create_cq(4096);
            let recv_cq = h.create_cq(4096);
            let mr = h.reg_mr(1, MEM_BASE, buf_len, MEM_BASE, access);
            eps.push(self.endpoint(hca, send_cq, recv_cq, MEM_BASE, buf_len, mr));
        }
        (eps[0], eps[1])
    }

    /// A UD QP on `hca` in RTS with Q_Key `qkey` and path MTU `mtu`, its
    /// own send and receive CQs, and `[MEM_BASE, + buf_len)` registered for
    /// local writes.
    pub fn ud_endpoint(&mut self, hca: usize, qkey: u32, mtu: usize, buf_len: u64) -> Endpoint {
        let h = self.fabric.hca_mut(hca);
        let (send_cq, recv_cq) = (h.create_cq(4096), h.create_cq(4096));
        let mr = h.reg_mr(1, MEM_BASE, buf_len, MEM_BASE, Access::LOCAL_WRITE);
        let qpn = h.create_ud_qp(1, send_cq, recv_cq, false);
        h.connect(qpn, QpAttr { qkey, path_mtu: mtu, ..QpAttr::default() }).expect("connect");
        Endpoint { hca, qpn, send_cq, recv_cq, buf: MEM_BASE, buf_len, mr }
    }

    /// Posts a UD SEND of `len` bytes from `ep`'s buffer through address
    /// handle `ah` to QP `remote_qpn` with Q_Key `qkey`.
    #[allow(clippy::too_many_arguments)]
    pub fn post_ud_send(
        &mut self,
        now: Ps,
        ep: &Endpoint,
        wr_id: u64,
        len: usize,
        ah: u32,
        remote_qpn: u32,
        qkey: u32,
    ) {
        self.post(now, ep, wr_id, SendOp::UdSend { ah, remote_qpn, remote_qkey: qkey }, len, true);
    }

    /// Creates a QP (PD 1) on `hca` with the given CQs, its buffer
    /// `[buf, buf + buf_len)` named by `mr`.
    pub fn endpoint(&mut self, hca: usize, send_cq: u32, recv_cq: u32, buf: u64, buf_len: u64, mr: MrKeys) -> Endpoint {
        let qpn = self.fabric.hca_mut(hca).create_qp(1, send_cq, recv_cq, false);
        Endpoint { hca, qpn, send_cq, recv_cq, buf, buf_len, mr }
    }

    /// Connects two endpoints' QPs to each other with `attr` (destination
    /// fields filled in; the LID of HCA i is i).
    pub fn connect(&mut self, a: &Endpoint, b: &Endpoint, attr: QpAttr) {
        for (me, peer) in [(a, b), (b, a)] {
            let at = QpAttr { dest_lid: self.fabric.hca(peer.hca).lid(), dest_qpn: peer.qpn, ..attr };
            self.fabric.hca_mut(me.hca).connect(me.qpn, at).expect("connect");
        }
    }

    /// Posts a SEND of `len` bytes from the start of `ep`'s buffer and rings
    /// the doorbell at `now`; inline when `len` is at most the profile's
    /// max_inline (as perftest does).
    pub fn post_send(&mut self, now: Ps, ep: &Endpoint, wr_id: u64, len: usize, signaled: bool) {
        self.post(now, ep, wr_id, SendOp::Send, len, signaled);
    }

    /// Posts an RDMA WRITE of `len` bytes from `ep`'s buffer to `remote_addr`/`rkey`.
    #[allow(clippy::too_many_arguments)]
    pub fn post_write(
        &mut self,
        now: Ps,
        ep: &Endpoint,
        wr_id: u64,
        len: usize,
        remote_addr: u64,
        rkey: u32,
        signaled: bool,
    ) {
        self.post(now, ep, wr_id, SendOp::RdmaWrite { remote_addr, rkey }, len, signaled);
    }

    /// Posts an RDMA READ of `len` bytes from `remote_addr`/`rkey` into
    /// `ep`'s buffer.
    #[allow(clippy::too_many_arguments)]
    pub fn post_read(
        &mut self,
        now: Ps,
        ep: &Endpoint,
        wr_id: u64,
        len: usize,
        remote_addr: u64,
        rkey: u32,
        signaled: bool,
    ) {
        self.post(now, ep, wr_id, SendOp::RdmaRead { remote_addr, rkey }, len, signaled);
    }

    /// Posts `op` on `len` bytes of `ep`'s buffer and rings the doorbell.
    pub fn post(&mut self, now: Ps, ep: &Endpoint, wr_id: u64, op: SendOp, len: usize, signaled: bool) {
        let read = op.has_response();
        let inline = !read && len <= self.fabric.hca(ep.hca).profile().max_inline.value as usize;
        let inline_data = inline.then(|| self.hosts[ep.hca].mem.slice(ep.buf, len).to_vec());
        let sges = if inline { vec![] } else { vec![Sge { addr: ep.buf, len: len as u32, lkey: ep.mr.lkey }] };
        let h = self.fabric.hca_mut(ep.hca);
        h.post_send(ep.qpn, SendWr { wr_id, op, sges, inline_data, signaled, solicited: false }).expect("post_send");
        h.ring_sq_doorbell(now, ep.qpn);
    }

    /// Posts a receive of `len` bytes into `ep`'s buffer at `now`.
    pub fn post_recv(&mut self, now: Ps, ep: &Endpoint, wr_id: u64, len: usize) {
        let sges = vec![Sge { addr: ep.buf, len: len as u32, lkey: ep.mr.lkey }];
        self.fabric.hca_mut(ep.hca).post_recv(now, ep.qpn, RecvWr { wr_id, sges }).expect("post_recv");
    }
}
