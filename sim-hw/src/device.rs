//! What the device reports about itself (QUERY_DEVICE, QUERY_PORT): the
//! limits the rest of the model enforces, in one place, with ConnectX-4
//! EDR's values as `ibv_devinfo -v` shows them for the part.
//!
//! Key items: [`DeviceAttr`], [`PortAttr`], [`Hca::query_device`],
//! [`Hca::query_port`].

use crate::hca::Hca;
use crate::modify_qp::{PKEY_TABLE_LEN, PORT_MTU};
use crate::qp::{MAX_QP_WR, MAX_SGE};
use crate::srq::{MAX_SRQ_SGE, MAX_SRQ_WR};

/// Largest CQ, in CQEs (mlx5: `1 << log_max_cq_sz`, 2^22 on ConnectX-4;
/// the granted size is one less than a power of two).
pub const MAX_CQE: u32 = (1 << 22) - 1;

/// The part of `struct ib_device_attr` the model has a value for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceAttr {
    pub max_qp_wr: u32,
    pub max_sge: u32,
    pub max_cqe: u32,
    pub max_srq_wr: u32,
    pub max_srq_sge: u32,
    /// READs and atomics a QP may have outstanding, as initiator and as
    /// responder (the profile's `max_rd_atomic`).
    pub max_qp_rd_atom: u32,
    pub max_qp_init_rd_atom: u32,
    pub max_pkeys: u16,
    pub phys_port_cnt: u8,
}

/// Port states (`enum ib_port_state`, the two the model has).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortState {
    Down,
    Active,
}

/// The part of `struct ib_port_attr` the model has a value for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortAttr {
    pub state: PortState,
    /// Bytes (4096).
    pub max_mtu: usize,
    pub active_mtu: usize,
    pub lid: u16,
    pub pkey_tbl_len: u16,
    /// 4x.
    pub active_width: u8,
}

impl Hca {
    /// QUERY_DEVICE.
    pub fn query_device(&self) -> DeviceAttr {
        let rd = self.p.max_rd_atomic.value as u32;
        DeviceAttr {
            max_qp_wr: MAX_QP_WR,
            max_sge: MAX_SGE,
            max_cqe: MAX_CQE,
            max_srq_wr: MAX_SRQ_WR,
            max_srq_sge: MAX_SRQ_SGE,
            max_qp_rd_atom: rd,
            max_qp_init_rd_atom: rd,
            max_pkeys: PKEY_TABLE_LEN,
            phys_port_cnt: 1,
        }
    }

    /// QUERY_PORT of port `port`; None for a port other than 1.
    pub fn query_port(&self, port: u8) -> Option<PortAttr> {
        (port == 1).then_some(PortAttr {
            state: if self.port_up { PortState::Active } else { PortState::Down },
            max_mtu: PORT_MTU,
            active_mtu: PORT_MTU,
            lid: self.lid,
            pkey_tbl_len: PKEY_TABLE_LEN,
            active_width: self.p.link_lanes.value as u8,
        })
    }
}
