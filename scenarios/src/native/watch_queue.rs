//! Native notification-pipe calls (`kernel/watch_queue.c` on the host):
//! the IOC_WATCH_QUEUE_SET_SIZE and IOC_WATCH_QUEUE_SET_FILTER ioctls. On a
//! host without CONFIG_WATCH_QUEUE (pipe2 with O_NOTIFICATION_PIPE gives
//! ENOPKG, and these ioctls ENOTTY) they skip the scenario. Notification
//! sources (`watch_add`, `watch_remove`) are ksim's own: Linux's sources are
//! keyrings and mounts, so they always skip.

use super::sys::int;
use super::{NErr, Native};
use crate::value::Value;

pub const CALLS: &[(&str, Native)] = &[
    ("watch_add", Native::Skip("ksim-only: notification sources are simulated (Linux's are keyrings and mounts)")),
    ("watch_remove", Native::Skip("ksim-only: notification sources are simulated (Linux's are keyrings and mounts)")),
];

/// `include/uapi/linux/watch_queue.h`: `_IO('W', 0x60)`, `_IO('W', 0x61)`.
pub const IOC_WATCH_QUEUE_SET_SIZE: u32 = 0x5760;
pub const IOC_WATCH_QUEUE_SET_FILTER: u32 = 0x5761;

/// The ioctls of a notification pipe; `None` for other commands.
pub fn ioctl(f: i32, cmd: u32, a: &[Value], _named: &[(String, Value)]) -> Result<Option<Value>, NErr> {
    if cmd != IOC_WATCH_QUEUE_SET_SIZE && cmd != IOC_WATCH_QUEUE_SET_FILTER {
        return Ok(None);
    }
    if !super::child::host().watch_queue {
        return Err(NErr::Skip(super::host::NO_WATCH_QUEUE.into()));
    }
    let r = if cmd == IOC_WATCH_QUEUE_SET_SIZE {
        let n = int("ioctl", a, 2)?;
        // SAFETY: SET_SIZE takes its argument by value.
        unsafe { libc::ioctl(f, cmd as _, n as usize) }
    } else {
        match a.get(2) {
            None | Some(Value::Null) => {
                // SAFETY: NULL removes the filter.
                unsafe { libc::ioctl(f, cmd as _, 0usize) }
            }
            Some(v) => {
                let mut buf = filter_struct(v)?;
                // SAFETY: buf holds a whole struct watch_notification_filter.
                unsafe { libc::ioctl(f, cmd as _, buf.as_mut_ptr()) }
            }
        }
    };
    super::sys::ret_int(r as i64).map(Some)
}

/// `struct watch_notification_filter` (nr_filters, __reserved, then
/// `struct watch_notification_type_filter { type, info_filter, info_mask,
/// subtype_filter[8] }` each) from a list of filters: each either the
/// bytes of one type filter or a record with fields `type`, `info_filter`,
/// `info_mask` and `subtypes` (a list of subtype numbers) or
/// `subtype_filter` (a list of 8 bitmap words).
fn filter_struct(v: &Value) -> Result<Vec<u32>, NErr> {
    let items = match v {
        Value::List(l) => l.clone(),
        v => return Err(NErr::Skip(format!("IOC_WATCH_QUEUE_SET_FILTER with {} has no native form", v.kind()))),
    };
    let mut out = vec![items.len() as u32, 0];
    for it in items.iter() {
        match it {
            Value::Bytes(b) if b.len() == 44 => {
                out.extend(b.chunks(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])));
            }
            Value::Record(fields) => {
                let get = |k: &str| fields.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
                let num = |k: &str| match get(k) {
                    Some(Value::Int(n)) => Ok(n as u32),
                    None => Ok(0),
                    Some(v) => Err(NErr::Skip(format!("filter field {k} is {}", v.kind()))),
                };
                let mut sub = [0u32; 8];
                match (get("subtype_filter"), get("subtypes")) {
                    (Some(Value::List(w)), _) => {
                        for (i, x) in w.iter().take(8).enumerate() {
                            if let Value::Int(n) = x {
                                sub[i] = *n as u32;
                            }
                        }
                    }
                    (_, Some(Value::List(s))) => {
                        for x in s.iter() {
                            if let Value::Int(n) = x {
                                if *n < 256 {
                                    sub[(*n / 32) as usize] |= 1 << (n % 32);
                                }
                            }
                        }
                    }
                    _ => {}
                }
                out.extend([num("type")?, num("info_filter")?, num("info_mask")?]);
                out.extend(sub);
            }
            v => return Err(NErr::Skip(format!("a watch filter given as {} has no native form", v.kind()))),
        }
    }
    Ok(out)
}
