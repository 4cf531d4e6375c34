//! The uverbs user ABI (`include/uapi/rdma/ib_user_verbs.h`, Linux 3.14):
//! command numbers, the header layouts, the sizes of the command and
//! response structs the handlers built so far copy, and the enums a
//! scenario names (`IB_USER_VERBS_CMD_*`, `IBV_EVENT_*`, `IBV_ACCESS_*`).
//!
//! Structs cross the write() boundary only as bytes: a handler copies
//! `SIZE` bytes of its command from user memory and reads fields at their
//! offsets ([`u32_at`], [`u64_at`]); a response is built little-endian and
//! copied to the user address the command names.

/// `IB_USER_VERBS_ABI_VERSION`.
pub const IB_USER_VERBS_ABI_VERSION: u32 = 6;

// enum of commands (the write() table's index).
pub const IB_USER_VERBS_CMD_GET_CONTEXT: u32 = 0;
pub const IB_USER_VERBS_CMD_QUERY_DEVICE: u32 = 1;
pub const IB_USER_VERBS_CMD_QUERY_PORT: u32 = 2;
pub const IB_USER_VERBS_CMD_ALLOC_PD: u32 = 3;
pub const IB_USER_VERBS_CMD_DEALLOC_PD: u32 = 4;
pub const IB_USER_VERBS_CMD_CREATE_AH: u32 = 5;
pub const IB_USER_VERBS_CMD_MODIFY_AH: u32 = 6;
pub const IB_USER_VERBS_CMD_QUERY_AH: u32 = 7;
pub const IB_USER_VERBS_CMD_DESTROY_AH: u32 = 8;
pub const IB_USER_VERBS_CMD_REG_MR: u32 = 9;
pub const IB_USER_VERBS_CMD_REG_SMR: u32 = 10;
pub const IB_USER_VERBS_CMD_REREG_MR: u32 = 11;
pub const IB_USER_VERBS_CMD_QUERY_MR: u32 = 12;
pub const IB_USER_VERBS_CMD_DEREG_MR: u32 = 13;
pub const IB_USER_VERBS_CMD_ALLOC_MW: u32 = 14;
pub const IB_USER_VERBS_CMD_BIND_MW: u32 = 15;
pub const IB_USER_VERBS_CMD_DEALLOC_MW: u32 = 16;
pub const IB_USER_VERBS_CMD_CREATE_COMP_CHANNEL: u32 = 17;
pub const IB_USER_VERBS_CMD_CREATE_CQ: u32 = 18;
pub const IB_USER_VERBS_CMD_RESIZE_CQ: u32 = 19;
pub const IB_USER_VERBS_CMD_DESTROY_CQ: u32 = 20;
pub const IB_USER_VERBS_CMD_POLL_CQ: u32 = 21;
pub const IB_USER_VERBS_CMD_PEEK_CQ: u32 = 22;
pub const IB_USER_VERBS_CMD_REQ_NOTIFY_CQ: u32 = 23;
pub const IB_USER_VERBS_CMD_CREATE_QP: u32 = 24;
pub const IB_USER_VERBS_CMD_QUERY_QP: u32 = 25;
pub const IB_USER_VERBS_CMD_MODIFY_QP: u32 = 26;
pub const IB_USER_VERBS_CMD_DESTROY_QP: u32 = 27;
pub const IB_USER_VERBS_CMD_POST_SEND: u32 = 28;
pub const IB_USER_VERBS_CMD_POST_RECV: u32 = 29;
pub const IB_USER_VERBS_CMD_ATTACH_MCAST: u32 = 30;
pub const IB_USER_VERBS_CMD_DETACH_MCAST: u32 = 31;
pub const IB_USER_VERBS_CMD_CREATE_SRQ: u32 = 32;
pub const IB_USER_VERBS_CMD_MODIFY_SRQ: u32 = 33;
pub const IB_USER_VERBS_CMD_QUERY_SRQ: u32 = 34;
pub const IB_USER_VERBS_CMD_DESTROY_SRQ: u32 = 35;
pub const IB_USER_VERBS_CMD_POST_SRQ_RECV: u32 = 36;
pub const IB_USER_VERBS_CMD_OPEN_XRCD: u32 = 37;
pub const IB_USER_VERBS_CMD_CLOSE_XRCD: u32 = 38;
pub const IB_USER_VERBS_CMD_CREATE_XSRQ: u32 = 39;
pub const IB_USER_VERBS_CMD_OPEN_QP: u32 = 40;
/// `IB_USER_VERBS_CMD_THRESHOLD`: the first extended command's number.
pub const IB_USER_VERBS_CMD_THRESHOLD: u32 = 50;
pub const IB_USER_VERBS_EX_CMD_CREATE_FLOW: u32 = IB_USER_VERBS_CMD_THRESHOLD;
pub const IB_USER_VERBS_EX_CMD_DESTROY_FLOW: u32 = IB_USER_VERBS_CMD_THRESHOLD + 1;

pub const IB_USER_VERBS_CMD_COMMAND_MASK: u32 = 0xff;
pub const IB_USER_VERBS_CMD_FLAGS_MASK: u32 = 0xff00_0000;
pub const IB_USER_VERBS_CMD_FLAGS_SHIFT: u32 = 24;
pub const IB_USER_VERBS_CMD_FLAG_EXTENDED: u32 = 0x80;

/// `struct ib_uverbs_cmd_hdr { u32 command; u16 in_words; u16 out_words; }`.
pub const CMD_HDR_SIZE: usize = 8;
/// `struct ib_uverbs_ex_cmd_hdr { u64 response; u16 provider_in_words;
/// u16 provider_out_words; u32 cmd_hdr_reserved; }`.
pub const EX_CMD_HDR_SIZE: usize = 16;

// Command and response sizes (bytes) of the handlers built.
/// `ib_uverbs_get_context {u64 response}`, `_resp {u32 async_fd, num_comp_vectors}`.
pub const GET_CONTEXT_SIZE: usize = 8;
pub const GET_CONTEXT_RESP_SIZE: usize = 8;
/// `ib_uverbs_query_device {u64 response}`; the response is 176 bytes.
pub const QUERY_DEVICE_SIZE: usize = 8;
pub const QUERY_DEVICE_RESP_SIZE: usize = 176;
/// `ib_uverbs_query_port {u64 response; u8 port_num; u8 reserved[7]}`;
/// the response is 40 bytes.
pub const QUERY_PORT_SIZE: usize = 16;
pub const QUERY_PORT_RESP_SIZE: usize = 40;
/// `ib_uverbs_alloc_pd {u64 response}`, `_resp {u32 pd_handle}`.
pub const ALLOC_PD_SIZE: usize = 8;
pub const ALLOC_PD_RESP_SIZE: usize = 4;
/// `ib_uverbs_dealloc_pd {u32 pd_handle}`.
pub const DEALLOC_PD_SIZE: usize = 4;
/// `ib_uverbs_reg_mr {u64 response, start, length, hca_va; u32 pd_handle,
/// access_flags}`, `_resp {u32 mr_handle, lkey, rkey}`.
pub const REG_MR_SIZE: usize = 40;
pub const REG_MR_RESP_SIZE: usize = 12;
/// `ib_uverbs_dereg_mr {u32 mr_handle}`.
pub const DEREG_MR_SIZE: usize = 4;
/// `ib_uverbs_create_comp_channel {u64 response}`, `_resp {u32 fd}`.
pub const CREATE_COMP_CHANNEL_SIZE: usize = 8;
pub const CREATE_COMP_CHANNEL_RESP_SIZE: usize = 4;
/// `ib_uverbs_create_cq {u64 response, user_handle; u32 cqe, comp_vector;
/// s32 comp_channel; u32 reserved}`, `_resp {u32 cq_handle, cqe}`.
pub const CREATE_CQ_SIZE: usize = 32;
pub const CREATE_CQ_RESP_SIZE: usize = 8;
/// `ib_uverbs_destroy_cq {u64 response; u32 cq_handle, reserved}`, `_resp
/// {u32 comp_events_reported, async_events_reported}`.
pub const DESTROY_CQ_SIZE: usize = 16;
pub const DESTROY_CQ_RESP_SIZE: usize = 8;
/// `ib_uverbs_poll_cq {u64 response; u32 cq_handle, ne}`, `_resp {u32
/// count, reserved}` followed by `count` 48-byte `ib_uverbs_wc`.
pub const POLL_CQ_SIZE: usize = 16;
pub const POLL_CQ_RESP_SIZE: usize = 8;
pub const UVERBS_WC_SIZE: usize = 48;
/// `ib_uverbs_req_notify_cq {u32 cq_handle, solicited_only}`.
pub const REQ_NOTIFY_CQ_SIZE: usize = 8;
/// `ib_uverbs_create_qp {u64 response, user_handle; u32 pd_handle,
/// send_cq_handle, recv_cq_handle, srq_handle, max_send_wr, max_recv_wr,
/// max_send_sge, max_recv_sge, max_inline_data; u8 sq_sig_all, qp_type,
/// is_srq, reserved}`, `_resp {u32 qp_handle, qpn, max_send_wr,
/// max_recv_wr, max_send_sge, max_recv_sge, max_inline_data, reserved}`.
pub const CREATE_QP_SIZE: usize = 56;
pub const CREATE_QP_RESP_SIZE: usize = 32;
/// `ib_uverbs_query_qp {u64 response; u32 qp_handle, attr_mask}`; the
/// response (`ib_uverbs_query_qp_resp`: two 32-byte `ib_uverbs_qp_dest`,
/// ten u32, two u16, fifteen u8, reserved[5]) is 128 bytes.
pub const QUERY_QP_SIZE: usize = 16;
pub const QUERY_QP_RESP_SIZE: usize = 128;
/// `ib_uverbs_modify_qp`: `dest`, `alt_dest` (32 bytes each), `u32
/// qp_handle, attr_mask, qkey, rq_psn, sq_psn, dest_qp_num,
/// qp_access_flags; u16 pkey_index, alt_pkey_index; u8 qp_state,
/// cur_qp_state, path_mtu, path_mig_state, en_sqd_async_notify,
/// max_rd_atomic, max_dest_rd_atomic, min_rnr_timer, port_num, timeout,
/// retry_cnt, rnr_retry, alt_port_num, alt_timeout, reserved[2]`. No
/// response.
pub const MODIFY_QP_SIZE: usize = 112;
/// `ib_uverbs_destroy_qp {u64 response; u32 qp_handle, reserved}`,
/// `_resp {u32 events_reported}`.
pub const DESTROY_QP_SIZE: usize = 16;
pub const DESTROY_QP_RESP_SIZE: usize = 4;
/// `ib_uverbs_post_send {u64 response; u32 qp_handle, wr_count,
/// sge_count, wqe_size}` then `wr_count` WRs of `wqe_size` bytes, then
/// `sge_count` SGEs; `_resp {u32 bad_wr}`. POST_RECV's header is the same.
pub const POST_SEND_SIZE: usize = 24;
pub const POST_RECV_SIZE: usize = 24;
pub const POST_RESP_SIZE: usize = 4;
/// `ib_uverbs_send_wr {u64 wr_id; u32 num_sge, opcode, send_flags;
/// u32 imm_data/invalidate_rkey; union { rdma {u64 remote_addr; u32 rkey,
/// reserved}; atomic {u64 remote_addr, compare_add, swap; u32 rkey,
/// reserved}; ud {u32 ah, remote_qpn, remote_qkey, reserved} }}`.
pub const UVERBS_SEND_WR_SIZE: usize = 56;
/// `ib_uverbs_recv_wr {u64 wr_id; u32 num_sge, reserved}`.
pub const UVERBS_RECV_WR_SIZE: usize = 16;
/// `ib_uverbs_sge {u64 addr; u32 length, lkey}`.
pub const UVERBS_SGE_SIZE: usize = 16;

// enum ib_qp_type (the ones the HCA model has).
pub const IBV_QPT_RC: u32 = 2;
pub const IBV_QPT_UC: u32 = 3;
pub const IBV_QPT_UD: u32 = 4;

// enum ib_qp_state.
pub const IBV_QPS_RESET: u32 = 0;
pub const IBV_QPS_INIT: u32 = 1;
pub const IBV_QPS_RTR: u32 = 2;
pub const IBV_QPS_RTS: u32 = 3;
pub const IBV_QPS_SQD: u32 = 4;
pub const IBV_QPS_SQE: u32 = 5;
pub const IBV_QPS_ERR: u32 = 6;

// enum ib_qp_attr_mask.
pub const IBV_QP_STATE: u32 = 1;
pub const IBV_QP_CUR_STATE: u32 = 1 << 1;
pub const IBV_QP_EN_SQD_ASYNC_NOTIFY: u32 = 1 << 2;
pub const IBV_QP_ACCESS_FLAGS: u32 = 1 << 3;
pub const IBV_QP_PKEY_INDEX: u32 = 1 << 4;
pub const IBV_QP_PORT: u32 = 1 << 5;
pub const IBV_QP_QKEY: u32 = 1 << 6;
pub const IBV_QP_AV: u32 = 1 << 7;
pub const IBV_QP_PATH_MTU: u32 = 1 << 8;
pub const IBV_QP_TIMEOUT: u32 = 1 << 9;
pub const IBV_QP_RETRY_CNT: u32 = 1 << 10;
pub const IBV_QP_RNR_RETRY: u32 = 1 << 11;
pub const IBV_QP_RQ_PSN: u32 = 1 << 12;
pub const IBV_QP_MAX_QP_RD_ATOMIC: u32 = 1 << 13;
pub const IBV_QP_ALT_PATH: u32 = 1 << 14;
pub const IBV_QP_MIN_RNR_TIMER: u32 = 1 << 15;
pub const IBV_QP_SQ_PSN: u32 = 1 << 16;
pub const IBV_QP_MAX_DEST_RD_ATOMIC: u32 = 1 << 17;
pub const IBV_QP_PATH_MIG_STATE: u32 = 1 << 18;
pub const IBV_QP_CAP: u32 = 1 << 19;
pub const IBV_QP_DEST_QPN: u32 = 1 << 20;

// enum ib_mtu.
pub const IBV_MTU_256: u32 = 1;
pub const IBV_MTU_4096: u32 = 5;

// enum ib_wr_opcode (libibverbs' IBV_WR_* share the first values).
pub const IBV_WR_RDMA_WRITE: u32 = 0;
pub const IBV_WR_RDMA_WRITE_WITH_IMM: u32 = 1;
pub const IBV_WR_SEND: u32 = 2;
pub const IBV_WR_SEND_WITH_IMM: u32 = 3;
pub const IBV_WR_RDMA_READ: u32 = 4;
pub const IBV_WR_ATOMIC_CMP_AND_SWP: u32 = 5;
pub const IBV_WR_ATOMIC_FETCH_AND_ADD: u32 = 6;

// enum ib_send_flags.
pub const IBV_SEND_FENCE: u32 = 1;
pub const IBV_SEND_SIGNALED: u32 = 1 << 1;
pub const IBV_SEND_SOLICITED: u32 = 1 << 2;
pub const IBV_SEND_INLINE: u32 = 1 << 3;

/// `ib_uverbs_destroy_flow {u32 comp_mask, flow_handle}` (extended).
pub const EX_DESTROY_FLOW_SIZE: usize = 8;

/// `struct ib_uverbs_async_event_desc {u64 element; u32 event_type; u32
/// reserved}`: what one read of the async event file returns.
pub const ASYNC_EVENT_DESC_SIZE: usize = 16;
/// `struct ib_uverbs_comp_event_desc {u64 cq_handle}`.
pub const COMP_EVENT_DESC_SIZE: usize = 8;

// enum ib_event_type (include/rdma/ib_verbs.h), IBV_EVENT_* in libibverbs.
pub const IBV_EVENT_CQ_ERR: u32 = 0;
pub const IBV_EVENT_QP_FATAL: u32 = 1;
pub const IBV_EVENT_QP_REQ_ERR: u32 = 2;
pub const IBV_EVENT_QP_ACCESS_ERR: u32 = 3;
pub const IBV_EVENT_COMM_EST: u32 = 4;
pub const IBV_EVENT_SQ_DRAINED: u32 = 5;
pub const IBV_EVENT_PATH_MIG: u32 = 6;
pub const IBV_EVENT_PATH_MIG_ERR: u32 = 7;
pub const IBV_EVENT_DEVICE_FATAL: u32 = 8;
pub const IBV_EVENT_PORT_ACTIVE: u32 = 9;
pub const IBV_EVENT_PORT_ERR: u32 = 10;
pub const IBV_EVENT_LID_CHANGE: u32 = 11;
pub const IBV_EVENT_PKEY_CHANGE: u32 = 12;
pub const IBV_EVENT_SM_CHANGE: u32 = 13;
pub const IBV_EVENT_SRQ_ERR: u32 = 14;
pub const IBV_EVENT_SRQ_LIMIT_REACHED: u32 = 15;
pub const IBV_EVENT_QP_LAST_WQE_REACHED: u32 = 16;
pub const IBV_EVENT_CLIENT_REREGISTER: u32 = 17;
pub const IBV_EVENT_GID_CHANGE: u32 = 18;

// enum ib_access_flags.
pub const IBV_ACCESS_LOCAL_WRITE: u32 = 1;
pub const IBV_ACCESS_REMOTE_WRITE: u32 = 1 << 1;
pub const IBV_ACCESS_REMOTE_READ: u32 = 1 << 2;
pub const IBV_ACCESS_REMOTE_ATOMIC: u32 = 1 << 3;
pub const IBV_ACCESS_MW_BIND: u32 = 1 << 4;

/// The little-endian u32 at `off` of a copied struct (its size was checked
/// when it was copied).
pub fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

/// The little-endian u16 at `off`.
pub fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(b[off..off + 2].try_into().expect("2 bytes"))
}

/// The little-endian u64 at `off`.
pub fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}

/// The names a scenario can use (`sim_kernel::abi::constant`).
pub const CONSTANTS: &[(&str, u64)] = &[
    ("IB_USER_VERBS_ABI_VERSION", IB_USER_VERBS_ABI_VERSION as u64),
    ("IB_USER_VERBS_CMD_GET_CONTEXT", IB_USER_VERBS_CMD_GET_CONTEXT as u64),
    ("IB_USER_VERBS_CMD_QUERY_DEVICE", IB_USER_VERBS_CMD_QUERY_DEVICE as u64),
    ("IB_USER_VERBS_CMD_QUERY_PORT", IB_USER_VERBS_CMD_QUERY_PORT as u64),
    ("IB_USER_VERBS_CMD_ALLOC_PD", IB_USER_VERBS_CMD_ALLOC_PD as u64),
    ("IB_USER_VERBS_CMD_DEALLOC_PD", IB_USER_VERBS_CMD_DEALLOC_PD as u64),
    ("IB_USER_VERBS_CMD_CREATE_AH", IB_USER_VERBS_CMD_CREATE_AH as u64),
    ("IB_USER_VERBS_CMD_MODIFY_AH", IB_USER_VERBS_CMD_MODIFY_AH as u64),
    ("IB_USER_VERBS_CMD_QUERY_AH", IB_USER_VERBS_CMD_QUERY_AH as u64),
    ("IB_USER_VERBS_CMD_DESTROY_AH", IB_USER_VERBS_CMD_DESTROY_AH as u64),
    ("IB_USER_VERBS_CMD_REG_MR", IB_USER_VERBS_CMD_REG_MR as u64),
    ("IB_USER_VERBS_CMD_REG_SMR", IB_USER_VERBS_CMD_REG_SMR as u64),
    ("IB_USER_VERBS_CMD_REREG_MR", IB_USER_VERBS_CMD_REREG_MR as u64),
    ("IB_USER_VERBS_CMD_QUERY_MR", IB_USER_VERBS_CMD_QUERY_MR as u64),
    ("IB_USER_VERBS_CMD_DEREG_MR", IB_USER_VERBS_CMD_DEREG_MR as u64),
    ("IB_USER_VERBS_CMD_ALLOC_MW", IB_USER_VERBS_CMD_ALLOC_MW as u64),
    ("IB_USER_VERBS_CMD_BIND_MW", IB_USER_VERBS_CMD_BIND_MW as u64),
    ("IB_USER_VERBS_CMD_DEALLOC_MW", IB_USER_VERBS_CMD_DEALLOC_MW as u64),
    ("IB_USER_VERBS_CMD_CREATE_COMP_CHANNEL", IB_USER_VERBS_CMD_CREATE_COMP_CHANNEL as u64),
    ("IB_USER_VERBS_CMD_CREATE_CQ", IB_USER_VERBS_CMD_CREATE_CQ as u64),
    ("IB_USER_VERBS_CMD_RESIZE_CQ", IB_USER_VERBS_CMD_RESIZE_CQ as u64),
    ("IB_USER_VERBS_CMD_DESTROY_CQ", IB_USER_VERBS_CMD_DESTROY_CQ as u64),
    ("IB_USER_VERBS_CMD_POLL_CQ", IB_USER_VERBS_CMD_POLL_CQ as u64),
    ("IB_USER_VERBS_CMD_PEEK_CQ", IB_USER_VERBS_CMD_PEEK_CQ as u64),
    ("IB_USER_VERBS_CMD_REQ_NOTIFY_CQ", IB_USER_VERBS_CMD_REQ_NOTIFY_CQ as u64),
    ("IB_USER_VERBS_CMD_CREATE_QP", IB_USER_VERBS_CMD_CREATE_QP as u64),
    ("IB_USER_VERBS_CMD_QUERY_QP", IB_USER_VERBS_CMD_QUERY_QP as u64),
    ("IB_USER_VERBS_CMD_MODIFY_QP", IB_USER_VERBS_CMD_MODIFY_QP as u64),
    ("IB_USER_VERBS_CMD_DESTROY_QP", IB_USER_VERBS_CMD_DESTROY_QP as u64),
    ("IB_USER_VERBS_CMD_POST_SEND", IB_USER_VERBS_CMD_POST_SEND as u64),
    ("IB_USER_VERBS_CMD_POST_RECV", IB_USER_VERBS_CMD_POST_RECV as u64),
    ("IB_USER_VERBS_CMD_ATTACH_MCAST", IB_USER_VERBS_CMD_ATTACH_MCAST as u64),
    ("IB_USER_VERBS_CMD_DETACH_MCAST", IB_USER_VERBS_CMD_DETACH_MCAST as u64),
    ("IB_USER_VERBS_CMD_CREATE_SRQ", IB_USER_VERBS_CMD_CREATE_SRQ as u64),
    ("IB_USER_VERBS_CMD_MODIFY_SRQ", IB_USER_VERBS_CMD_MODIFY_SRQ as u64),
    ("IB_USER_VERBS_CMD_QUERY_SRQ", IB_USER_VERBS_CMD_QUERY_SRQ as u64),
    ("IB_USER_VERBS_CMD_DESTROY_SRQ", IB_USER_VERBS_CMD_DESTROY_SRQ as u64),
    ("IB_USER_VERBS_CMD_POST_SRQ_RECV", IB_USER_VERBS_CMD_POST_SRQ_RECV as u64),
    ("IB_USER_VERBS_CMD_OPEN_XRCD", IB_USER_VERBS_CMD_OPEN_XRCD as u64),
    ("IB_USER_VERBS_CMD_CLOSE_XRCD", IB_USER_VERBS_CMD_CLOSE_XRCD as u64),
    ("IB_USER_VERBS_CMD_CREATE_XSRQ", IB_USER_VERBS_CMD_CREATE_XSRQ as u64),
    ("IB_USER_VERBS_CMD_OPEN_QP", IB_USER_VERBS_CMD_OPEN_QP as u64),
    ("IB_USER_VERBS_CMD_THRESHOLD", IB_USER_VERBS_CMD_THRESHOLD as u64),
    ("IB_USER_VERBS_EX_CMD_CREATE_FLOW", IB_USER_VERBS_EX_CMD_CREATE_FLOW as u64),
    ("IB_USER_VERBS_EX_CMD_DESTROY_FLOW", IB_USER_VERBS_EX_CMD_DESTROY_FLOW as u64),
    ("IB_USER_VERBS_CMD_FLAG_EXTENDED", IB_USER_VERBS_CMD_FLAG_EXTENDED as u64),
    ("IBV_EVENT_CQ_ERR", IBV_EVENT_CQ_ERR as u64),
    ("IBV_EVENT_QP_FATAL", IBV_EVENT_QP_FATAL as u64),
    ("IBV_EVENT_QP_REQ_ERR", IBV_EVENT_QP_REQ_ERR as u64),
    ("IBV_EVENT_QP_ACCESS_ERR", IBV_EVENT_QP_ACCESS_ERR as u64),
    ("IBV_EVENT_COMM_EST", IBV_EVENT_COMM_EST as u64),
    ("IBV_EVENT_SQ_DRAINED", IBV_EVENT_SQ_DRAINED as u64),
    ("IBV_EVENT_PATH_MIG", IBV_EVENT_PATH_MIG as u64),
    ("IBV_EVENT_PATH_MIG_ERR", IBV_EVENT_PATH_MIG_ERR as u64),
    ("IBV_EVENT_DEVICE_FATAL", IBV_EVENT_DEVICE_FATAL as u64),
    ("IBV_EVENT_PORT_ACTIVE", IBV_EVENT_PORT_ACTIVE as u64),
    ("IBV_EVENT_PORT_ERR", IBV_EVENT_PORT_ERR as u64),
    ("IBV_EVENT_LID_CHANGE", IBV_EVENT_LID_CHANGE as u64),
    ("IBV_EVENT_PKEY_CHANGE", IBV_EVENT_PKEY_CHANGE as u64),
    ("IBV_EVENT_SM_CHANGE", IBV_EVENT_SM_CHANGE as u64),
    ("IBV_EVENT_SRQ_ERR", IBV_EVENT_SRQ_ERR as u64),
    ("IBV_EVENT_SRQ_LIMIT_REACHED", IBV_EVENT_SRQ_LIMIT_REACHED as u64),
    ("IBV_EVENT_QP_LAST_WQE_REACHED", IBV_EVENT_QP_LAST_WQE_REACHED as u64),
    ("IBV_EVENT_CLIENT_REREGISTER", IBV_EVENT_CLIENT_REREGISTER as u64),
    ("IBV_EVENT_GID_CHANGE", IBV_EVENT_GID_CHANGE as u64),
    ("IBV_ACCESS_LOCAL_WRITE", IBV_ACCESS_LOCAL_WRITE as u64),
    ("IBV_ACCESS_REMOTE_WRITE", IBV_ACCESS_REMOTE_WRITE as u64),
    ("IBV_ACCESS_REMOTE_READ", IBV_ACCESS_REMOTE_READ as u64),
    ("IBV_ACCESS_REMOTE_ATOMIC", IBV_ACCESS_REMOTE_ATOMIC as u64),
    ("IBV_ACCESS_MW_BIND", IBV_ACCESS_MW_BIND as u64),
    ("IBV_QPT_RC", IBV_QPT_RC as u64),
    ("IBV_QPT_UC", IBV_QPT_UC as u64),
    ("IBV_QPT_UD", IBV_QPT_UD as u64),
    ("IBV_QPS_RESET", IBV_QPS_RESET as u64),
    ("IBV_QPS_INIT", IBV_QPS_INIT as u64),
    ("IBV_QPS_RTR", IBV_QPS_RTR as u64),
    ("IBV_QPS_RTS", IBV_QPS_RTS as u64),
    ("IBV_QPS_SQD", IBV_QPS_SQD as u64),
    ("IBV_QPS_SQE", IBV_QPS_SQE as u64),
    ("IBV_QPS_ERR", IBV_QPS_ERR as u64),
    ("IBV_QP_STATE", IBV_QP_STATE as u64),
    ("IBV_QP_CUR_STATE", IBV_QP_CUR_STATE as u64),
    ("IBV_QP_EN_SQD_ASYNC_NOTIFY", IBV_QP_EN_SQD_ASYNC_NOTIFY as u64),
    ("IBV_QP_ACCESS_FLAGS", IBV_QP_ACCESS_FLAGS as u64),
    ("IBV_QP_PKEY_INDEX", IBV_QP_PKEY_INDEX as u64),
    ("IBV_QP_PORT", IBV_QP_PORT as u64),
    ("IBV_QP_QKEY", IBV_QP_QKEY as u64),
    ("IBV_QP_AV", IBV_QP_AV as u64),
    ("IBV_QP_PATH_MTU", IBV_QP_PATH_MTU as u64),
    ("IBV_QP_TIMEOUT", IBV_QP_TIMEOUT as u64),
    ("IBV_QP_RETRY_CNT", IBV_QP_RETRY_CNT as u64),
    ("IBV_QP_RNR_RETRY", IBV_QP_RNR_RETRY as u64),
    ("IBV_QP_RQ_PSN", IBV_QP_RQ_PSN as u64),
    ("IBV_QP_MAX_QP_RD_ATOMIC", IBV_QP_MAX_QP_RD_ATOMIC as u64),
    ("IBV_QP_ALT_PATH", IBV_QP_ALT_PATH as u64),
    ("IBV_QP_MIN_RNR_TIMER", IBV_QP_MIN_RNR_TIMER as u64),
    ("IBV_QP_SQ_PSN", IBV_QP_SQ_PSN as u64),
    ("IBV_QP_MAX_DEST_RD_ATOMIC", IBV_QP_MAX_DEST_RD_ATOMIC as u64),
    ("IBV_QP_PATH_MIG_STATE", IBV_QP_PATH_MIG_STATE as u64),
    ("IBV_QP_CAP", IBV_QP_CAP as u64),
    ("IBV_QP_DEST_QPN", IBV_QP_DEST_QPN as u64),
    ("IBV_MTU_256", IBV_MTU_256 as u64),
    ("IBV_MTU_4096", IBV_MTU_4096 as u64),
    ("IBV_WR_RDMA_WRITE", IBV_WR_RDMA_WRITE as u64),
    ("IBV_WR_RDMA_WRITE_WITH_IMM", IBV_WR_RDMA_WRITE_WITH_IMM as u64),
    ("IBV_WR_SEND", IBV_WR_SEND as u64),
    ("IBV_WR_SEND_WITH_IMM", IBV_WR_SEND_WITH_IMM as u64),
    ("IBV_WR_RDMA_READ", IBV_WR_RDMA_READ as u64),
    ("IBV_WR_ATOMIC_CMP_AND_SWP", IBV_WR_ATOMIC_CMP_AND_SWP as u64),
    ("IBV_WR_ATOMIC_FETCH_AND_ADD", IBV_WR_ATOMIC_FETCH_AND_ADD as u64),
    ("IBV_SEND_FENCE", IBV_SEND_FENCE as u64),
    ("IBV_SEND_SIGNALED", IBV_SEND_SIGNALED as u64),
    ("IBV_SEND_SOLICITED", IBV_SEND_SOLICITED as u64),
    ("IBV_SEND_INLINE", IBV_SEND_INLINE as u64),
];
