//! The PCIe link between host and HCA, as two serial resources (downstream:
//! host to HCA; upstream: HCA to host) plus a round-trip latency.
//!
//! Transactions are costed from the profile: a posted MMIO write (doorbell)
//! and DMA read completions occupy the downstream direction, posted DMA
//! writes (payload, CQE, EQE, MSI-X) the upstream one, each for its bytes plus
//! one TLP overhead per max-payload-size chunk, at the link's raw rate after
//! 128b/130b. A DMA read's data starts streaming back one round trip after the
//! request, so reads pipeline: a long gather costs one round trip plus its
//! bytes at the link rate (Neugebauer et al., SIGCOMM 2018, sec. 2-3). Posted
//! writes are delivered in order, so a CQE never overtakes the data it
//! reports. Read-request TLPs' upstream occupancy and flow-control credits are
//! not modelled.
//!
//! Key types: [`Pcie`], [`ReadTiming`].

use crate::engine::Ps;
use crate::profile::Profile;

/// When the data of a DMA read arrives.
#[derive(Clone, Copy, Debug)]
pub struct ReadTiming {
    /// The first completion starts arriving.
    pub start: Ps,
    /// The last byte has arrived.
    pub end: Ps,
}

impl ReadTiming {
    /// When the first `bytes` bytes of the read have arrived.
    pub fn available(&self, p: &Profile, bytes: usize) -> Ps {
        (self.start + p.pcie_time(p.pcie_bytes(bytes, p.pcie_tlp_overhead_completion.value))).min(self.end)
    }
}

/// The two directions of the link.
#[derive(Default, Clone, Debug)]
pub struct Pcie {
    down_busy: Ps,
    up_busy: Ps,
}

impl Pcie {
    /// A posted MMIO write of `bytes` issued by the CPU at `t`: when it has
    /// arrived in the HCA (the profile's doorbell cost plus serialization).
    pub fn mmio_write(&mut self, p: &Profile, t: Ps, bytes: usize) -> Ps {
        let start = (t + p.doorbell.value).max(self.down_busy);
        let end = start + p.pcie_time(p.pcie_bytes(bytes, p.pcie_tlp_overhead_write.value));
        self.down_busy = end;
        end
    }

    /// A DMA read of `bytes` issued at `t`.
    pub fn dma_read(&mut self, p: &Profile, t: Ps, bytes: usize) -> ReadTiming {
        let start = (t + p.dma_read_rtt.value).max(self.down_busy);
        let end = start + p.pcie_time(p.pcie_bytes(bytes, p.pcie_tlp_overhead_completion.value));
        self.down_busy = end;
        ReadTiming { start, end }
    }

    /// When every posted write issued so far is visible in host memory (a
    /// read issued now returns nothing older: PCIe ordering).
    pub fn writes_visible(&self, p: &Profile) -> Ps {
        self.up_busy + p.dma_write_latency.value
    }

    /// A posted DMA write of `bytes` issued at `t`: when it is visible in host
    /// memory.
    pub fn dma_write(&mut self, p: &Profile, t: Ps, bytes: usize) -> Ps {
        let start = t.max(self.up_busy);
        let end = start + p.pcie_time(p.pcie_bytes(bytes, p.pcie_tlp_overhead_write.value));
        self.up_busy = end;
        end + p.dma_write_latency.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pipeline_and_writes_stay_ordered() {
        let p = Profile::cx4_edr();
        let mut pcie = Pcie::default();
        let a = pcie.dma_read(&p, 0, 4096);
        let b = pcie.dma_read(&p, 0, 4096);
        // The second read's data queues behind the first's, not a second round trip.
        assert_eq!(a.start, p.dma_read_rtt.value);
        assert_eq!(b.start, a.end);
        assert!(a.available(&p, 256) < a.end);
        let w1 = pcie.dma_write(&p, 0, 4096);
        let w2 = pcie.dma_write(&p, 0, 64);
        assert!(w2 > w1);
    }
}
