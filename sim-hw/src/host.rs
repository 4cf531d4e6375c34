//! The boundary between the HCA and whatever hosts it: the only two ways the
//! hardware reaches out.
//!
//! The HCA knows no kernel. A host (the simulated kernel later; the test
//! harness now) lends it a [`Host`] on every call that runs hardware events:
//! [`HostMemory`] for DMA into and out of simulated host memory (an error for
//! a bad address, as an IOMMU fault), and [`InterruptSink`] for the MSI-X
//! interrupts of completion and asynchronous events. The host reaches the
//! HCA only through the driver interface of [`crate::hca::Hca`] (create and
//! connect QPs, register memory, post work, ring doorbells, poll and arm CQs).
//!
//! Key types: [`HostMemory`], [`InterruptSink`], [`Host`], [`Interrupt`],
//! [`AsyncEvent`], and [`FlatMemory`] (a plain byte array, for tests).

/// A DMA to an address the host does not back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaError {
    pub addr: u64,
    pub len: usize,
}

/// Simulated host memory as the HCA's DMA engine sees it.
pub trait HostMemory {
    /// Reads `buf.len()` bytes at bus address `addr`.
    fn dma_read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), DmaError>;
    /// Writes `data` at bus address `addr`.
    fn dma_write(&mut self, addr: u64, data: &[u8]) -> Result<(), DmaError>;
}

/// Asynchronous events (IBTA Vol. 1 sec. 11.6.3; `enum ibv_event_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsyncEvent {
    /// A CQ overflowed; it is in error (IBV_EVENT_CQ_ERR).
    CqError { cq: u32 },
    /// A responder saw a remote access violation (IBV_EVENT_QP_ACCESS_ERR).
    QpAccessError { qpn: u32 },
    /// A responder saw an invalid request (IBV_EVENT_QP_REQ_ERR).
    QpRequestError { qpn: u32 },
    /// A QP in SQD finished its in-flight WQEs (IBV_EVENT_SQ_DRAINED; only
    /// if asked for with `en_sqd_async_notify`).
    SqDrained { qpn: u32 },
    /// An SRQ-attached QP went to ERROR: no receive WQE of the SRQ will
    /// be consumed by it any more (IBV_EVENT_QP_LAST_WQE_REACHED).
    QpLastWqeReached { qpn: u32 },
    /// An SRQ's WQE count fell below its armed limit; the limit is
    /// disarmed (IBV_EVENT_SRQ_LIMIT_REACHED, one shot).
    SrqLimitReached { srq: u32 },
    /// The port's link went down (IBV_EVENT_PORT_ERR).
    PortError { port: u8 },
    /// The port's link came (back) up (IBV_EVENT_PORT_ACTIVE).
    PortActive { port: u8 },
}

/// An interrupt as delivered by MSI-X.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interrupt {
    /// A CQ armed with REQ_NOTIFY got a new CQE (one shot; it must be re-armed).
    Completion { cq: u32 },
    /// An asynchronous event.
    Async(AsyncEvent),
}

/// Receives the HCA's interrupts.
pub trait InterruptSink {
    /// Called at the simulated time the MSI-X write lands.
    fn interrupt(&mut self, irq: Interrupt);
}

/// Everything a host lends the HCA while its events run.
pub trait Host: HostMemory + InterruptSink {}
impl<T: HostMemory + InterruptSink + ?Sized> Host for T {}

/// Host memory as one flat byte array starting at bus address `base`.
#[derive(Clone, Debug)]
pub struct FlatMemory {
    pub base: u64,
    pub bytes: Vec<u8>,
}

impl FlatMemory {
    /// `len` zeroed bytes at `base`.
    pub fn new(base: u64, len: usize) -> Self {
        FlatMemory { base, bytes: vec![0; len] }
    }

    fn range(&self, addr: u64, len: usize) -> Result<std::ops::Range<usize>, DmaError> {
        let err = DmaError { addr, len };
        let start = addr.checked_sub(self.base).ok_or(err)? as usize;
        let end = start.checked_add(len).ok_or(err)?;
        if end > self.bytes.len() {
            return Err(err);
        }
        Ok(start..end)
    }

    /// The bytes at `[addr, addr + len)`.
    pub fn slice(&self, addr: u64, len: usize) -> &[u8] {
        &self.bytes[self.range(addr, len).expect("inside memory")]
    }

    /// Fills `[addr, addr + data.len())` (a CPU store, not a DMA).
    pub fn store(&mut self, addr: u64, data: &[u8]) {
        let r = self.range(addr, data.len()).expect("inside memory");
        self.bytes[r].copy_from_slice(data);
    }
}

impl HostMemory for FlatMemory {
    fn dma_read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), DmaError> {
        let r = self.range(addr, buf.len())?;
        buf.copy_from_slice(&self.bytes[r]);
        Ok(())
    }
    fn dma_write(&mut self, addr: u64, data: &[u8]) -> Result<(), DmaError> {
        let r = self.range(addr, data.len())?;
        self.bytes[r].copy_from_slice(data);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_memory_faults_outside_its_range() {
        let mut m = FlatMemory::new(0x1000, 16);
        m.dma_write(0x1008, &[1, 2]).unwrap();
        let mut b = [0; 2];
        m.dma_read(0x1008, &mut b).unwrap();
        assert_eq!(b, [1, 2]);
        assert_eq!(m.dma_write(0x100f, &[1, 2]), Err(DmaError { addr: 0x100f, len: 2 }));
        assert!(m.dma_read(0xfff, &mut b).is_err());
    }
}
