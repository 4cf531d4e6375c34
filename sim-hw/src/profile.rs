//! The calibration table: every cost the HCA pipeline charges, in one
//! [`Profile`], each number carrying its unit, whether it was fitted, and its
//! source.
//!
//! No stage of the model holds a latency constant of its own: the pipeline
//! (see `hca.rs`) composes these per-transaction costs with the byte counts of
//! the real transactions (WQE sizes, PCIe TLP overheads, IB header sizes), so a
//! latency is always "what the pipeline adds up to" for a given operation.
//!
//! Key types: [`Param`] (one row), [`Profile`] (the table; [`Profile::cx4_edr`]
//! is ConnectX-4 EDR 100 Gb/s on PCIe Gen3 x16, back to back).

use crate::engine::{Ps, NS};

/// One calibration number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param {
    /// The value, in `unit`.
    pub value: u64,
    /// "ps", "B", "lanes", "Hz", ...
    pub unit: &'static str,
    /// Whether the value was fitted to a measurement (true) or taken from a
    /// specification, data sheet, paper, or reference implementation (false).
    pub fitted: bool,
    /// Where the number comes from.
    pub source: &'static str,
}

const fn p(value: u64, unit: &'static str, fitted: bool, source: &'static str) -> Param {
    Param { value, unit, fitted, source }
}

/// The cost table of one HCA + host + cable setup.
#[derive(Clone, Debug)]
pub struct Profile {
    /// Name, e.g. "cx4-edr".
    pub name: &'static str,

    // ---- host interface (PCIe) ----
    /// Fixed cost of posting a send: from the verbs call to the doorbell (a
    /// posted MMIO write) arriving in the HCA. It absorbs every fixed
    /// per-message cost the latency anchors cannot separate: the user-space
    /// post path, the MMIO write itself, the HCA's internal scheduling and both
    /// PHYs, and the consumer's CQ poll loop.
    /// cx4-edr: 650 ns, fitted to Potter 2018's ib_send_lat medians.
    pub doorbell: Param,
    /// One PCIe DMA read round trip (request upstream, completion back),
    /// excluding the serialization of the returned data.
    /// cx4-edr: 270 ns, fitted to Potter 2018's ib_send_lat medians.
    pub dma_read_rtt: Param,
    /// From the last byte of a posted DMA write leaving the HCA to it being
    /// visible in host memory (one traversal of the path the read crosses twice).
    /// cx4-edr: half of `dma_read_rtt`.
    pub dma_write_latency: Param,
    /// PCIe transfer rate per lane, in transfers/s (Gen3: 8 GT/s, 128b/130b;
    /// PCI Express Base Specification 3.0).
    pub pcie_transfer_rate: Param,
    /// PCIe lanes (cx4-edr: x16, Potter 2018's test system).
    pub pcie_lanes: Param,
    /// Per-TLP overhead of a memory write with a 64-bit address: 2 B framing,
    /// 6 B data-link (sequence number + LCRC), 16 B header (Neugebauer et al.,
    /// SIGCOMM 2018, sec. 2).
    pub pcie_tlp_overhead_write: Param,
    /// Per-TLP overhead of a read completion with data: 2 + 6 + 12 B header
    /// (Neugebauer et al., SIGCOMM 2018, sec. 2).
    pub pcie_tlp_overhead_completion: Param,
    /// Max payload size of one TLP (256 B; Neugebauer et al., SIGCOMM 2018).
    pub pcie_mps: Param,

    // ---- HCA ----
    /// Per-packet occupancy of the transmit engine (and of the receive
    /// engine). cx4-edr: 4.65 ns, the bound 215 M messages/s of the
    /// ConnectX-6 VPI product brief implies.
    pub hca_packet_time: Param,
    /// Largest send whose payload travels inside the doorbell write (inline).
    /// cx4-edr: 187 B (Potter 2018: inline below 188 B).
    pub max_inline: Param,
    /// Size of a send WQE's control segment (and of each further segment):
    /// 16 B (Linux include/linux/mlx5/qp.h).
    pub wqe_segment: Param,
    /// A WQE is fetched in whole basic blocks of this size: 64 B (mlx5
    /// MLX5_SEND_WQE_BB).
    pub wqe_basic_block: Param,
    /// Size of a CQE (and of an EQE): 64 B (mlx5_cqe64).
    pub cqe_size: Param,
    /// Size of the MSI-X message write: 4 B (PCI Local Bus Specification 3.0).
    pub msix_size: Param,
    /// Unacknowledged PSNs the requester lets out before it waits: 128
    /// (rxe_param.h RXE_MAX_UNACKED_PSNS).
    pub max_unacked_psns: Param,
    /// The requester sets AckReq at least every this many packets: 64
    /// (rxe_param.h RXE_MAX_PKT_PER_ACK).
    pub max_pkt_per_ack: Param,
    /// READs and atomics per QP: how many the requester keeps outstanding
    /// (the initiator depth) and how many atomic results the responder
    /// keeps to answer duplicates. cx4-edr: 16 (mlx5 `max_qp_rd_atom` =
    /// 1 << log_max_ra_res_qp).
    pub max_rd_atomic: Param,

    // ---- link ----
    /// Link lanes (4x; IBTA Architecture Specification Vol. 2).
    pub link_lanes: Param,
    /// Signalling rate per lane (EDR: 25.78125 Gbaud; IBTA Vol. 2).
    pub link_baud: Param,
    /// Line code numerator/denominator: 64b/66b (IBTA Vol. 2, FDR and EDR).
    pub link_code_data_bits: Param,
    /// See `link_code_data_bits`.
    pub link_code_total_bits: Param,
    /// Propagation delay of the cable. cx4-edr: 2.5 ns, Potter 2018's
    /// 0.5 m DAC at about 5 ns/m.
    pub propagation: Param,

    // ---- switch (used only by switched topologies) ----
    /// Port-to-port latency of a cut-through switch: from a packet's head
    /// arriving to its head leaving, on an idle output port.
    /// cx4-edr: 90 ns, Mellanox's Switch-IB 2 (SB7800, EDR) product brief.
    pub switch_hop_latency: Param,
    /// Link-level flow-control credit unit: 64 B (IBTA Vol. 1 sec. 7.9.4).
    pub link_credit_bytes: Param,
    /// Receive buffer of one switch input port (one data VL), in bytes; the
    /// credits it advertises to the port's sender. cx4-edr: 64 KiB, an
    /// assumption (no public figure per port): 16 packets of MTU 4096, far
    /// above the credit round trip at 100 Gb/s (about 2.5 KB).
    pub switch_port_buffer: Param,
}

/// The published `ib_send_lat` one-way RC medians the cx4-edr profile is
/// fitted to: (message size in bytes, latency in ps).
///
/// Source: D. Potter, master's thesis, RWTH Aachen University, 2018
/// (git.dennispotter.eu/Dennis/masters-thesis, `tables/mtu_performance.tex`):
/// ConnectX-4 EDR (MT27700), PCIe Gen3 x16, 0.5 m DAC back to back, MLNX_OFED 4.4.
pub const CX4_EDR_SEND_LAT: [(usize, Ps); 4] =
    [(32, 820 * NS), (1024, 1_560 * NS), (4096, 2_260 * NS), (32768, 4_570 * NS)];

/// The fitted doorbell cost of cx4-edr (see [`Profile::cx4_edr`]).
pub const CX4_EDR_FITTED_DOORBELL: Ps = 650 * NS;
/// The fitted DMA read round trip of cx4-edr.
pub const CX4_EDR_FITTED_DMA_READ_RTT: Ps = 270 * NS;

const FIT_SOURCE: &str = "fitted (least squares on relative error) to the four ib_send_lat one-way RC medians of \
     D. Potter, RWTH Aachen master's thesis 2018, tables/mtu_performance.tex; see the `fit_cx4_edr` test";

impl Profile {
    /// ConnectX-4 EDR 100 Gb/s (MT27700), PCIe Gen3 x16, 0.5 m DAC, back to
    /// back: the setup of Potter's thesis. Only `doorbell` and
    /// `dma_read_rtt` are fitted (`dma_write_latency` is derived from the
    /// latter); every other row is a specification or published figure.
    pub fn cx4_edr() -> Profile {
        Profile::cx4_edr_with(CX4_EDR_FITTED_DOORBELL, CX4_EDR_FITTED_DMA_READ_RTT)
    }

    /// [`cx4_edr`](Self::cx4_edr) with the two fitted costs replaced (used by
    /// the fit itself).
    pub fn cx4_edr_with(doorbell: Ps, dma_read_rtt: Ps) -> Profile {
        Profile {
            name: "cx4-edr",
            doorbell: p(doorbell, "ps", true, FIT_SOURCE),
            dma_read_rtt: p(dma_read_rtt, "ps", true, FIT_SOURCE),
            dma_write_latency: p(
                dma_read_rtt / 2,
                "ps",
                true,
                "derived: half the fitted DMA read round trip (a posted write crosses the path once)",
            ),
            pcie_transfer_rate: p(
                8_000_000_000,
                "T/s",
                false,
                "PCI Express Base Specification 3.0: Gen3 is 8 GT/s per lane with 128b/130b encoding",
            ),
            pcie_lanes: p(16, "lanes", false, "Potter 2018, tables/benchmark_testsystem.tex: PCIe Gen3 x16"),
            pcie_tlp_overhead_write: p(
                24,
                "B",
                false,
                "Neugebauer et al., 'Understanding PCIe performance for end host networking', SIGCOMM 2018, \
                 sec. 2: 2 B framing + 6 B DLL + 16 B 4DW header per MWr",
            ),
            pcie_tlp_overhead_completion: p(
                20,
                "B",
                false,
                "Neugebauer et al., SIGCOMM 2018, sec. 2: 2 B framing + 6 B DLL + 12 B 3DW header per CplD",
            ),
            pcie_mps: p(256, "B", false, "Neugebauer et al., SIGCOMM 2018: 256 B MPS, the common server setting"),
            hca_packet_time: p(
                4_650,
                "ps",
                false,
                "derived bound: ConnectX-6 VPI product brief, 215 million messages/s => >= 4.65 ns per message \
                 (no CX-4 figure pinned)",
            ),
            max_inline: p(
                187,
                "B",
                false,
                "Potter 2018: ib_send_lat inlines messages below 188 B on this setup, so 187 B is the largest",
            ),
            wqe_segment: p(
                16,
                "B",
                false,
                "Linux include/linux/mlx5/qp.h: mlx5_wqe_ctrl_seg, mlx5_wqe_raddr_seg, mlx5_wqe_data_seg are 16 B",
            ),
            wqe_basic_block: p(64, "B", false, "Linux drivers/infiniband/hw/mlx5: MLX5_SEND_WQE_BB = 64"),
            cqe_size: p(64, "B", false, "Linux include/linux/mlx5/device.h: struct mlx5_cqe64"),
            msix_size: p(4, "B", false, "PCI Local Bus Specification 3.0 sec. 6.8: an MSI-X message is a DWORD write"),
            max_unacked_psns: p(
                128,
                "PSNs",
                false,
                "Linux drivers/infiniband/sw/rxe/rxe_param.h: RXE_MAX_UNACKED_PSNS",
            ),
            max_pkt_per_ack: p(
                64,
                "packets",
                false,
                "Linux drivers/infiniband/sw/rxe/rxe_param.h: RXE_MAX_PKT_PER_ACK",
            ),
            max_rd_atomic: p(
                16,
                "requests",
                false,
                "Linux drivers/infiniband/hw/mlx5/main.c: max_qp_rd_atom = 1 << log_max_ra_res_qp, 16 on ConnectX-4 \
                 (the initiator depth and the responder's saved atomic results)",
            ),
            link_lanes: p(4, "lanes", false, "IBTA Architecture Specification Vol. 2 (physical): EDR 4x"),
            link_baud: p(
                25_781_250_000,
                "Bd",
                false,
                "IBTA Architecture Specification Vol. 2: EDR 25.78125 Gbaud per lane",
            ),
            link_code_data_bits: p(
                64,
                "bits",
                false,
                "IBTA Architecture Specification Vol. 2: 64b/66b for FDR and EDR",
            ),
            link_code_total_bits: p(66, "bits", false, "IBTA Architecture Specification Vol. 2: 64b/66b"),
            propagation: p(
                2_500,
                "ps",
                false,
                "Potter 2018, tables/benchmark_testsystem.tex: 0.5 m DAC; at ~5 ns/m in twinax copper",
            ),
            switch_hop_latency: p(
                90_000,
                "ps",
                false,
                "Mellanox SB7800 (Switch-IB 2, EDR) product brief: 90 ns port-to-port latency",
            ),
            link_credit_bytes: p(
                64,
                "B",
                false,
                "IBTA Architecture Specification Vol. 1 sec. 7.9.4: one flow-control credit is 64 bytes",
            ),
            switch_port_buffer: p(
                65_536,
                "B",
                false,
                "assumption (no published per-port figure): 16 MTU-4096 packets, well above the credit round \
                 trip at 100 Gb/s",
            ),
        }
    }

    /// Every row, named, in table order (for the book and for printing).
    pub fn rows(&self) -> Vec<(&'static str, Param)> {
        vec![
            ("doorbell", self.doorbell),
            ("dma_read_rtt", self.dma_read_rtt),
            ("dma_write_latency", self.dma_write_latency),
            ("pcie_transfer_rate", self.pcie_transfer_rate),
            ("pcie_lanes", self.pcie_lanes),
            ("pcie_tlp_overhead_write", self.pcie_tlp_overhead_write),
            ("pcie_tlp_overhead_completion", self.pcie_tlp_overhead_completion),
            ("pcie_mps", self.pcie_mps),
            ("hca_packet_time", self.hca_packet_time),
            ("max_inline", self.max_inline),
            ("wqe_segment", self.wqe_segment),
            ("wqe_basic_block", self.wqe_basic_block),
            ("cqe_size", self.cqe_size),
            ("msix_size", self.msix_size),
            ("max_unacked_psns", self.max_unacked_psns),
            ("max_pkt_per_ack", self.max_pkt_per_ack),
            ("max_rd_atomic", self.max_rd_atomic),
            ("link_lanes", self.link_lanes),
            ("link_baud", self.link_baud),
            ("link_code_data_bits", self.link_code_data_bits),
            ("link_code_total_bits", self.link_code_total_bits),
            ("propagation", self.propagation),
            ("switch_hop_latency", self.switch_hop_latency),
            ("link_credit_bytes", self.link_credit_bytes),
            ("switch_port_buffer", self.switch_port_buffer),
        ]
    }

    /// Link data rate in bits/s after line coding (EDR: exactly 100 Gb/s).
    pub fn link_bits_per_sec(&self) -> u128 {
        self.link_lanes.value as u128 * self.link_baud.value as u128 * self.link_code_data_bits.value as u128
            / self.link_code_total_bits.value as u128
    }

    /// Time to serialize `bytes` onto the link, rounded up to a picosecond.
    pub fn link_time(&self, bytes: usize) -> Ps {
        let num = bytes as u128 * 8 * 1_000_000_000_000 * self.link_code_total_bits.value as u128;
        let den = self.link_lanes.value as u128 * self.link_baud.value as u128 * self.link_code_data_bits.value as u128;
        num.div_ceil(den) as Ps
    }

    /// Time for `bytes` of raw PCIe traffic (after 128b/130b) on one direction.
    pub fn pcie_time(&self, bytes: usize) -> Ps {
        let num = bytes as u128 * 8 * 1_000_000_000_000 * 130;
        let den = self.pcie_lanes.value as u128 * self.pcie_transfer_rate.value as u128 * 128;
        num.div_ceil(den) as Ps
    }

    /// Raw PCIe bytes of `payload` bytes carried in TLPs of at most MPS bytes,
    /// each adding `overhead` bytes.
    pub fn pcie_bytes(&self, payload: usize, overhead: u64) -> usize {
        let tlps = payload.div_ceil(self.pcie_mps.value as usize).max(1);
        payload + tlps * overhead as usize
    }

    /// Size of a send WQE with `sges` scatter/gather entries and, for RDMA
    /// operations, a remote-address segment, rounded up to basic blocks.
    pub fn wqe_bytes(&self, sges: usize, remote: bool) -> usize {
        let seg = self.wqe_segment.value as usize;
        let bb = self.wqe_basic_block.value as usize;
        (seg * (1 + remote as usize + sges)).div_ceil(bb).max(1) * bb
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edr_is_100_gbps_after_line_coding() {
        let p = Profile::cx4_edr();
        assert_eq!(p.link_bits_per_sec(), 100_000_000_000);
        assert_eq!(p.link_time(1), 80);
        assert_eq!(p.link_time(4096), 327_680);
    }

    #[test]
    fn pcie_gen3_x16_is_about_126_gbps_raw() {
        let p = Profile::cx4_edr();
        // 15.754 GB/s => 63.48 ps/B
        assert_eq!(p.pcie_time(1_000_000), 63_476_563);
        assert_eq!(p.pcie_bytes(4096, 24), 4096 + 16 * 24);
        assert_eq!(p.wqe_bytes(1, false), 64);
        assert_eq!(p.wqe_bytes(4, true), 128);
    }

    #[test]
    fn every_row_names_a_source() {
        for (name, row) in Profile::cx4_edr().rows() {
            assert!(!row.source.is_empty(), "{name}");
        }
    }
}
