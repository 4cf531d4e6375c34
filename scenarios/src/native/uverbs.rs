//! The uverbs calls on the host: all skip. The simulated HCAs are ksim's
//! (`/dev/infiniband/uverbs0` and `uverbs1`); a host's device, if it has
//! one, is another HCA with other attributes, and comparing against it is
//! not a conformance check of ksim. `write_mem` takes an address of the
//! simulated process's memory.

use super::Native;

const NO_HCA: &str = "ksim-only: the InfiniBand devices are simulated HCAs";

pub const CALLS: &[(&str, Native)] = &[
    ("open", Native::Skip("ksim-only: the device nodes are simulated (the uverbs HCAs, /dev/cuse and CUSE devices)")),
    ("write_mem", Native::Skip("ksim-only: ADDR is an address of the simulated process")),
    ("uverbs_cmd", Native::Skip(NO_HCA)),
    ("ibv_open_device", Native::Skip(NO_HCA)),
    ("ibv_close_device", Native::Skip(NO_HCA)),
    ("ibv_alloc_pd", Native::Skip(NO_HCA)),
    ("ibv_dealloc_pd", Native::Skip(NO_HCA)),
    ("ibv_reg_mr", Native::Skip(NO_HCA)),
    ("ibv_dereg_mr", Native::Skip(NO_HCA)),
    ("ibv_create_comp_channel", Native::Skip(NO_HCA)),
    ("ibv_create_cq", Native::Skip(NO_HCA)),
    ("ibv_destroy_cq", Native::Skip(NO_HCA)),
    ("ibv_poll_cq", Native::Skip(NO_HCA)),
    ("ibv_req_notify_cq", Native::Skip(NO_HCA)),
    ("ibv_get_async_event", Native::Skip(NO_HCA)),
    ("ibv_create_qp", Native::Skip(NO_HCA)),
    ("ibv_modify_qp", Native::Skip(NO_HCA)),
    ("ibv_query_qp", Native::Skip(NO_HCA)),
    ("ibv_destroy_qp", Native::Skip(NO_HCA)),
    ("ibv_connect", Native::Skip(NO_HCA)),
    ("ibv_post_send", Native::Skip(NO_HCA)),
    ("ibv_post_recv", Native::Skip(NO_HCA)),
];
