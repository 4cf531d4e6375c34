//! InfiniBand RC and UD packets: opcodes, the headers each carries, and
//! their sizes on the wire.
//!
//! Sizes are the IBTA Architecture Specification Vol. 1 ones (LRH 8 B, sec.
//! 7.7; BTH 12 B, sec. 9.2; DETH 8 B, sec. 9.3.2; RETH 16 B, sec. 9.3.3;
//! AtomicETH 28 B, sec. 9.3.4; AETH 4 B, sec. 9.3.5; AtomicAckETH 8 B, sec.
//! 9.3.6; ICRC 4 B, sec. 7.8.1; VCRC 2 B, sec. 7.8.2); no packet carries a
//! GRH (one subnet). Which opcode carries which which opcode carries which
//! extension header follows Linux's `drivers/infiniband/sw/rxe/rxe_opcode.c`
//! (`rxe_opcode[]`, with the lengths of `rxe_hdr.h`). The payload is padded to
//! a multiple of 4 bytes (BTH PadCnt).
//!
//! Key types: [`Opcode`], [`Packet`], [`Payload`], [`Reth`], [`Aeth`] with
//! [`AckKind`], [`AtomicEth`], [`Deth`].

use std::sync::Arc;

/// Local route header.
pub const LRH_BYTES: usize = 8;
/// Base transport header.
pub const BTH_BYTES: usize = 12;
/// RDMA extended transport header (virtual address, rkey, DMA length).
pub const RETH_BYTES: usize = 16;
/// ACK extended transport header (syndrome, MSN).
pub const AETH_BYTES: usize = 4;
/// Atomic extended transport header (virtual address, rkey, swap or add
/// data, compare data; IBTA Vol. 1 sec. 9.3.4).
pub const ATOMIC_ETH_BYTES: usize = 28;
/// Datagram extended transport header (Q_Key, source QP; IBTA Vol. 1 sec.
/// 9.3.2).
pub const DETH_BYTES: usize = 8;
/// Global route header: absent from the packets (one subnet), but a UD
/// receive buffer reserves its 40 bytes first (IBTA Vol. 1 sec. 8.3, and
/// verbs: the GRH, if any, lands in the first 40 bytes).
pub const GRH_BYTES: usize = 40;
/// Invalidate extended transport header (the rkey to invalidate; IBTA
/// Vol. 1 sec. 9.3.7).
pub const IETH_BYTES: usize = 4;
/// Immediate data extended transport header (IBTA Vol. 1 sec. 9.3.8).
pub const IMMDT_BYTES: usize = 4;
/// Atomic acknowledge extended transport header (the original value; IBTA
/// Vol. 1 sec. 9.3.6).
pub const ATOMIC_ACK_ETH_BYTES: usize = 8;
/// Invariant CRC.
pub const ICRC_BYTES: usize = 4;
/// Variant CRC.
pub const VCRC_BYTES: usize = 2;

/// PSNs are 24 bits.
pub const PSN_MASK: u32 = 0x00ff_ffff;

/// `a - b` in 24-bit PSN space, as a signed distance (rxe's `psn_compare`).
pub fn psn_diff(a: u32, b: u32) -> i32 {
    ((a.wrapping_sub(b)) << 8) as i32 >> 8
}

/// `psn + n` in 24-bit PSN space.
pub fn psn_add(psn: u32, n: u32) -> u32 {
    psn.wrapping_add(n) & PSN_MASK
}

/// Opcodes modelled (IBTA Vol. 1 table 38): RC SEND and RDMA WRITE, with
/// and without immediate, SEND with invalidate, RDMA READ, the two
/// atomics, the acknowledges, and UD SEND_ONLY.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opcode {
    SendFirst,
    SendMiddle,
    SendLast,
    SendOnly,
    WriteFirst,
    WriteMiddle,
    WriteLast,
    WriteOnly,
    ReadRequest,
    ReadResponseFirst,
    ReadResponseMiddle,
    ReadResponseLast,
    ReadResponseOnly,
    Acknowledge,
    CompareSwap,
    FetchAdd,
    AtomicAcknowledge,
    /// UD SEND_ONLY (IBTA Vol. 1 table 38, opcode 0x64): LRH + BTH + DETH.
    UdSendOnly,
    /// SEND_LAST_WITH_INVALIDATE (0x16): the last packet of a SEND, with an IETH.
    SendLastInv,
    /// SEND_ONLY_WITH_INVALIDATE (0x17).
    SendOnlyInv,
    /// SEND_LAST_WITH_IMMEDIATE (0x03): with an ImmDt.
    SendLastImm,
    /// SEND_ONLY_WITH_IMMEDIATE (0x05).
    SendOnlyImm,
    /// RDMA_WRITE_LAST_WITH_IMMEDIATE (0x09): consumes a receive WQE.
    WriteLastImm,
    /// RDMA_WRITE_ONLY_WITH_IMMEDIATE (0x0b): RETH and ImmDt.
    WriteOnlyImm,
}

impl Opcode {
    /// Whether this request packet starts a message (FIRST, ONLY, a READ
    /// request or an atomic).
    pub fn is_start(self) -> bool {
        matches!(
            self,
            Opcode::SendFirst
                | Opcode::SendOnly
                | Opcode::SendOnlyInv
                | Opcode::SendOnlyImm
                | Opcode::WriteFirst
                | Opcode::WriteOnly
                | Opcode::WriteOnlyImm
                | Opcode::ReadRequest
        ) || self.is_atomic()
    }
    /// Whether this request packet ends a message (LAST, ONLY, a READ
    /// request or an atomic).
    pub fn is_end(self) -> bool {
        matches!(
            self,
            Opcode::SendLast
                | Opcode::SendOnly
                | Opcode::SendLastInv
                | Opcode::SendOnlyInv
                | Opcode::SendLastImm
                | Opcode::SendOnlyImm
                | Opcode::WriteLast
                | Opcode::WriteOnly
                | Opcode::WriteLastImm
                | Opcode::WriteOnlyImm
                | Opcode::ReadRequest
        ) || self.is_atomic()
    }
    /// CMP_SWAP or FETCH_ADD (a request with an AtomicETH).
    pub fn is_atomic(self) -> bool {
        matches!(self, Opcode::CompareSwap | Opcode::FetchAdd)
    }
    /// Whether the packet travels from responder to requester (acknowledge
    /// or READ response), i.e. is for the completer.
    pub fn is_response(self) -> bool {
        matches!(
            self,
            Opcode::Acknowledge
                | Opcode::AtomicAcknowledge
                | Opcode::ReadResponseFirst
                | Opcode::ReadResponseMiddle
                | Opcode::ReadResponseLast
                | Opcode::ReadResponseOnly
        )
    }
    /// Whether this READ response ends the response (LAST or ONLY).
    pub fn is_last_response(self) -> bool {
        matches!(self, Opcode::ReadResponseLast | Opcode::ReadResponseOnly | Opcode::AtomicAcknowledge)
    }
    /// SEND family.
    pub fn is_send(self) -> bool {
        matches!(
            self,
            Opcode::SendFirst
                | Opcode::SendMiddle
                | Opcode::SendLast
                | Opcode::SendOnly
                | Opcode::SendLastInv
                | Opcode::SendOnlyInv
                | Opcode::SendLastImm
                | Opcode::SendOnlyImm
        )
    }
    /// RDMA WRITE family.
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Opcode::WriteFirst
                | Opcode::WriteMiddle
                | Opcode::WriteLast
                | Opcode::WriteOnly
                | Opcode::WriteLastImm
                | Opcode::WriteOnlyImm
        )
    }
    /// Whether the packet carries immediate data (an ImmDt).
    pub fn has_imm(self) -> bool {
        matches!(self, Opcode::SendLastImm | Opcode::SendOnlyImm | Opcode::WriteLastImm | Opcode::WriteOnlyImm)
    }
    /// Whether the opcode carries a RETH (rxe_opcode.c: RXE_RETH_MASK on
    /// RDMA_WRITE_FIRST, RDMA_WRITE_ONLY and RDMA_READ_REQUEST).
    pub fn has_reth(self) -> bool {
        matches!(self, Opcode::WriteFirst | Opcode::WriteOnly | Opcode::WriteOnlyImm | Opcode::ReadRequest)
    }
    /// Whether the opcode carries an AETH (rxe_opcode.c: the acknowledges
    /// and the READ responses FIRST, LAST and ONLY; MIDDLE has none).
    pub fn has_aeth(self) -> bool {
        matches!(
            self,
            Opcode::Acknowledge
                | Opcode::AtomicAcknowledge
                | Opcode::ReadResponseFirst
                | Opcode::ReadResponseLast
                | Opcode::ReadResponseOnly
        )
    }
}

/// RDMA extended transport header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reth {
    pub va: u64,
    pub rkey: u32,
    pub len: u32,
}

/// What an acknowledge says (the AETH syndrome, IBTA Vol. 1 sec. 9.7.5.2 and
/// rxe_hdr.h `AETH_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckKind {
    /// Positive ACK of every PSN up to and including the packet's PSN.
    Ack,
    /// Receiver not ready; retry after the RNR NAK timer with this 5-bit code.
    RnrNak(u8),
    /// PSN sequence error: the responder expects the packet's PSN.
    NakPsnSeq,
    /// Invalid request (bad opcode sequence, length error).
    NakInvalidRequest,
    /// Remote access error (rkey, bounds, access rights).
    NakRemoteAccess,
    /// Remote operational error.
    NakRemoteOp,
}

/// Datagram extended transport header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deth {
    pub qkey: u32,
    pub src_qp: u32,
}

/// The AtomicETH, AtomicAckETH or DETH a packet carries, if any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Ext {
    #[default]
    None,
    /// AtomicETH (CMP_SWAP, FETCH_ADD).
    Atomic(Box<AtomicEth>),
    /// AtomicAckETH: the original value (ATOMIC_ACKNOWLEDGE).
    AtomicAck(u64),
    /// DETH (UD).
    Deth(Deth),
    /// IETH: the rkey a SEND_WITH_INVALIDATE invalidates.
    Ieth(u32),
    /// ImmDt: the immediate data of a SEND or RDMA WRITE with immediate.
    Imm(u32),
}

/// Atomic extended transport header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AtomicEth {
    pub va: u64,
    pub rkey: u32,
    /// The swap value (CMP_SWAP) or the addend (FETCH_ADD).
    pub swap_add: u64,
    /// The compare value (CMP_SWAP; unused by FETCH_ADD).
    pub compare: u64,
}

/// ACK extended transport header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Aeth {
    pub kind: AckKind,
    /// Message sequence number (24 bits).
    pub msn: u32,
}

/// Payload bytes: a window on a shared buffer, so segmenting a message,
/// carrying its packets and writing them into host memory copies the bytes
/// once (into the memory), not once per stage.
#[derive(Clone, Default)]
pub struct Payload {
    buf: Arc<Vec<u8>>,
    start: usize,
    len: usize,
}

impl Payload {
    /// The bytes `[start, start + len)` of `buf`.
    pub fn window(buf: &Arc<Vec<u8>>, start: usize, len: usize) -> Payload {
        assert!(start + len <= buf.len(), "payload window outside its buffer");
        Payload { buf: Arc::clone(buf), start, len }
    }
    /// A sub-window.
    pub fn slice(&self, start: usize, len: usize) -> Payload {
        assert!(start + len <= self.len, "payload slice outside its window");
        Payload { buf: Arc::clone(&self.buf), start: self.start + start, len }
    }
}

impl From<Vec<u8>> for Payload {
    fn from(v: Vec<u8>) -> Payload {
        let len = v.len();
        Payload { buf: Arc::new(v), start: 0, len }
    }
}

impl std::ops::Deref for Payload {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        **self == **other
    }
}
impl Eq for Payload {}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Payload({} bytes)", self.len)
    }
}

/// One packet on the wire. Only the fields the model uses are kept; the size
/// on the wire is computed from the real header set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// Destination port (LRH DLID; here the HCA index in the fabric).
    pub dlid: u16,
    /// Source port (LRH SLID).
    pub slid: u16,
    /// BTH destination QP.
    pub dest_qp: u32,
    pub opcode: Opcode,
    /// BTH PSN.
    pub psn: u32,
    /// BTH AckReq bit.
    pub ack_req: bool,
    /// BTH SE bit (solicited event).
    pub se: bool,
    pub reth: Option<Reth>,
    pub aeth: Option<Aeth>,
    /// The header only some opcodes carry (boxed when rare and large, so
    /// that every packet stays small to move).
    pub ext: Ext,
    pub payload: Payload,
}

impl Packet {
    /// The AtomicETH, if the packet carries one.
    pub fn atomic(&self) -> Option<AtomicEth> {
        match &self.ext {
            Ext::Atomic(e) => Some(**e),
            _ => None,
        }
    }
    /// The AtomicAckETH's original value, if the packet carries one.
    pub fn atomic_ack(&self) -> Option<u64> {
        match self.ext {
            Ext::AtomicAck(v) => Some(v),
            _ => None,
        }
    }
    /// The immediate data, if the packet carries any.
    pub fn imm(&self) -> Option<u32> {
        match self.ext {
            Ext::Imm(v) => Some(v),
            _ => None,
        }
    }
    /// The IETH's rkey, if the packet carries one.
    pub fn ieth(&self) -> Option<u32> {
        match self.ext {
            Ext::Ieth(k) => Some(k),
            _ => None,
        }
    }
    /// The DETH, if the packet carries one.
    pub fn deth(&self) -> Option<Deth> {
        match self.ext {
            Ext::Deth(d) => Some(d),
            _ => None,
        }
    }

    /// Bytes on the wire: LRH + BTH + extension headers + padded payload +
    /// ICRC + VCRC.
    pub fn wire_bytes(&self) -> usize {
        LRH_BYTES
            + BTH_BYTES
            + if self.opcode.has_reth() { RETH_BYTES } else { 0 }
            + if self.opcode.has_aeth() { AETH_BYTES } else { 0 }
            + if self.opcode.is_atomic() { ATOMIC_ETH_BYTES } else { 0 }
            + if self.opcode == Opcode::AtomicAcknowledge { ATOMIC_ACK_ETH_BYTES } else { 0 }
            + if self.opcode == Opcode::UdSendOnly { DETH_BYTES } else { 0 }
            + if matches!(self.opcode, Opcode::SendLastInv | Opcode::SendOnlyInv) { IETH_BYTES } else { 0 }
            + if self.opcode.has_imm() { IMMDT_BYTES } else { 0 }
            + self.payload.len().next_multiple_of(4)
            + ICRC_BYTES
            + VCRC_BYTES
    }
}

/// Header bytes of each packet of a message of opcode family `write` split
/// into `packets` packets (used by bandwidth predictions).
pub fn message_header_bytes(write: bool, packets: usize) -> usize {
    let base = LRH_BYTES + BTH_BYTES + ICRC_BYTES + VCRC_BYTES;
    packets * base + if write { RETH_BYTES } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(opcode: Opcode, len: usize) -> Packet {
        Packet {
            dlid: 0,
            slid: 1,
            dest_qp: 1,
            opcode,
            psn: 0,
            ack_req: false,
            se: false,
            reth: None,
            aeth: None,
            ext: Ext::None,
            payload: vec![0; len].into(),
        }
    }

    #[test]
    fn header_sizes_follow_the_opcode() {
        assert_eq!(pkt(Opcode::SendOnly, 32).wire_bytes(), 8 + 12 + 32 + 4 + 2);
        assert_eq!(pkt(Opcode::WriteFirst, 4096).wire_bytes(), 8 + 12 + 16 + 4096 + 4 + 2);
        assert_eq!(pkt(Opcode::WriteMiddle, 4096).wire_bytes(), 8 + 12 + 4096 + 4 + 2);
        assert_eq!(pkt(Opcode::Acknowledge, 0).wire_bytes(), 8 + 12 + 4 + 4 + 2);
        assert_eq!(pkt(Opcode::ReadRequest, 0).wire_bytes(), 8 + 12 + 16 + 4 + 2);
        assert_eq!(pkt(Opcode::ReadResponseFirst, 256).wire_bytes(), 8 + 12 + 4 + 256 + 4 + 2);
        assert_eq!(pkt(Opcode::ReadResponseMiddle, 256).wire_bytes(), 8 + 12 + 256 + 4 + 2);
        assert_eq!(pkt(Opcode::CompareSwap, 0).wire_bytes(), 8 + 12 + 28 + 4 + 2);
        assert_eq!(pkt(Opcode::FetchAdd, 0).wire_bytes(), 8 + 12 + 28 + 4 + 2);
        assert_eq!(pkt(Opcode::AtomicAcknowledge, 0).wire_bytes(), 8 + 12 + 4 + 8 + 4 + 2);
        assert_eq!(pkt(Opcode::UdSendOnly, 100).wire_bytes(), 8 + 12 + 8 + 100 + 4 + 2);
        assert_eq!(pkt(Opcode::SendOnlyInv, 100).wire_bytes(), 8 + 12 + 4 + 100 + 4 + 2);
        assert_eq!(pkt(Opcode::SendOnlyImm, 100).wire_bytes(), 8 + 12 + 4 + 100 + 4 + 2);
        assert_eq!(pkt(Opcode::WriteOnlyImm, 100).wire_bytes(), 8 + 12 + 16 + 4 + 100 + 4 + 2);
        assert_eq!(pkt(Opcode::WriteLastImm, 100).wire_bytes(), 8 + 12 + 4 + 100 + 4 + 2);
        // PadCnt rounds the payload up to 4 bytes.
        assert_eq!(pkt(Opcode::SendOnly, 1).wire_bytes(), 8 + 12 + 4 + 4 + 2);
    }

    #[test]
    fn psn_arithmetic_wraps_at_24_bits() {
        assert_eq!(psn_add(PSN_MASK, 1), 0);
        assert_eq!(psn_diff(0, PSN_MASK), 1);
        assert_eq!(psn_diff(PSN_MASK, 0), -1);
        assert_eq!(psn_diff(5, 3), 2);
    }
}
