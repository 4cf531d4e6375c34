//! CUSE: character devices served by a userspace daemon (`fs/fuse/cuse.c`,
//! current Linux) over the FUSE channel of [`super::dev`].
//!
//! - `/dev/cuse` is a misc device with the fixed minor `CUSE_MINOR` 203
//!   ("cuse: add fix minor number to /dev/cuse"). Its open
//!   ([`cuse_channel_open`]) makes a connection, counts it initialised at
//!   once and queues CUSE_INIT as the first (background) request.
//! - The daemon's reply to CUSE_INIT is processed inside its write
//!   ([`cuse_process_init_reply`]): version, max_read/max_write, the
//!   device-info strings, the device number, and, under `cuse_lock`, the
//!   duplicate-name check and the registration together ("cuse: use mutex
//!   as registration lock instead of spinlocks" and the name check that
//!   followed). Any failure aborts the connection ("cuse: kill connection
//!   on initialization error") while the write still returns its count.
//! - Only then does `/dev/NAME` exist. Its file ([`CuseFile`]) sends
//!   FUSE_OPEN on open, FUSE_READ/FUSE_WRITE at offset 0 (`noop_llseek`,
//!   `fuse_direct_io(FUSE_DIO_CUSE)`), split by max_read/max_write, and a
//!   synchronous FUSE_RELEASE on close.
//! - The daemon's exit ([`cuse_channel_release`]) tears down in Linux's
//!   order: out of the connection table (new opens: ENODEV from
//!   `cuse_open`), the device and its node (ENOENT), the region and the
//!   cdev (an open that found the node first: ENXIO from `chrdev_open`),
//!   then `fuse_dev_release` aborts the connection. The connection is
//!   freed when its last reference (the channel's, or an open device
//!   file's) goes.
//!
//! Lock order: `cuse_lock` ([`CuseGlobal`]), then a connection's device
//! record (`CuseConn::dev`) or the character-device namespace's lock,
//! each a leaf. A connection's lock ([`super::dev::FuseConn::wq`]) is
//! never held while `cuse_lock` is taken (the init reply is processed
//! after the write drops it).

use super::abi::*;
use super::dev::{self, Ended, FuseConn, OutArgs};
use crate::abi::{O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC};
use crate::errno::{Errno, KResult};
use crate::kernel::Kernel;
use crate::objtrack::ObjHeader;
use crate::sched::PollTable;
use crate::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use crate::sync::{Arc, Mutex};
use crate::task::Task;
use crate::vfs::char_dev::{mkdev, CdevOps, DevT};
use crate::vfs::file::{File, FileOps};
use crate::vfs::Llseek;
use std::any::Any;

/// `CUSE_MINOR` (`include/linux/miscdevice.h`).
pub const CUSE_MINOR: u32 = 203;

/// `FUSE_DEFAULT_MAX_PAGES_PER_REQ` pages of 4096 bytes: the most one
/// direct-I/O request carries.
const MAX_PAGES_BYTES: usize = 32 * 4096;

/// `cuse_lock` and `cuse_conntbl`: the connections whose device is
/// registered. (Linux hashes them into 64 lists by device number; one
/// list in registration order finds the same entries.)
#[derive(Default)]
pub struct CuseGlobal {
    conntbl: Mutex<Vec<Arc<CuseConn>>>,
}

/// The footprint key of `cuse_lock` (one per kernel).
fn cuse_lock_key() -> u64 {
    (1 << 58) | 2
}

impl CuseGlobal {
    fn lock(&self) -> crate::sync::MutexGuard<'_, Vec<Arc<CuseConn>>> {
        crate::footprint::access(cuse_lock_key(), true);
        self.conntbl.lock()
    }
}

/// A registered CUSE device: its name (`dev_name`, '/' shown as '!') and
/// number.
#[derive(Clone)]
struct CuseDev {
    name: String,
    devt: DevT,
}

/// `struct cuse_conn`: a FUSE connection and the device it serves.
pub struct CuseConn {
    pub hdr: ObjHeader,
    kernel: Arc<Kernel>,
    pub fc: FuseConn,
    /// `fuse_conn_get`/`fuse_conn_put`: the channel's and each open device
    /// file's reference; the last put frees the connection.
    count: AtomicU32,
    /// `cc->dev` and `cc->cdev`, set by a successful init.
    dev: Mutex<Option<CuseDev>>,
    unrestricted_ioctl: AtomicBool,
}

impl CuseConn {
    fn get(&self) {
        crate::footprint::access(self.hdr.id(), true);
        self.count.fetch_add(1, Ordering::AcqRel);
    }

    /// `fuse_conn_put`: the last reference frees the connection
    /// (`cuse_fc_release`).
    fn put(&self) {
        crate::footprint::access(self.hdr.id(), true);
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 && self.kernel.objs.check(&self.hdr, "cuse_fc_release") {
            self.kernel.objs.release(&self.hdr);
        }
    }
}

/// The misc device `/dev/cuse` (`cuse_init`: `misc_register(&cuse_miscdev)`).
pub(crate) fn cuse_init(kernel: &Kernel) {
    // The minor is fixed and free at boot: this cannot fail.
    let _ = kernel.chrdevs.misc_register(CUSE_MINOR, "cuse", Arc::new(CuseChannelCdev));
}

struct CuseChannelCdev;

impl CdevOps for CuseChannelCdev {
    fn open(&self, kernel: &Arc<Kernel>, _dev: DevT, _flags: u32) -> KResult<Box<dyn FileOps>> {
        Ok(Box::new(cuse_channel_open(kernel)))
    }
}

/// `cuse_channel_open`: a connection (initialised at once, so that no
/// caller waits for a FUSE INIT) and CUSE_INIT queued first
/// (`cuse_send_init`): `cuse_init_in {7, FUSE_KERNEL_MINOR_VERSION, 0,
/// CUSE_UNRESTRICTED_IOCTL}`, the reply a 72-byte `cuse_init_out` and up
/// to a page of device-info strings (`argvar`).
pub fn cuse_channel_open(kernel: &Arc<Kernel>) -> CuseChannel {
    let hdr = kernel.objs.register("cuse_conn");
    let fc = FuseConn::new(hdr.id());
    let cc = Arc::new(CuseConn {
        hdr,
        kernel: kernel.clone(),
        fc,
        count: AtomicU32::new(1),
        dev: Mutex::new(None),
        unrestricted_ioctl: AtomicBool::new(false),
    });
    let init_in =
        Le::default().u32(FUSE_KERNEL_VERSION).u32(FUSE_KERNEL_MINOR_VERSION).u32(0).u32(CUSE_UNRESTRICTED_IOCTL).0;
    dev::fuse_queue_background(
        &cc.fc,
        CUSE_INIT,
        &init_in,
        OutArgs::var(CUSE_INIT_OUT_LEN + CUSE_INIT_INFO_MAX, CUSE_INIT_OUT_LEN),
    );
    CuseChannel { cc }
}

/// `cuse_parse_devinfo`: the value of DEVNAME in the `KEY=VALUE\0`
/// strings. Not NUL-terminated, an empty key, or a missing or empty
/// DEVNAME: EINVAL. Keys and values are stripped of white space
/// (`strstrip`); unknown keys are ignored (with a warning in Linux).
fn cuse_parse_devinfo(info: &[u8]) -> KResult<String> {
    let mut name: Option<&[u8]> = None;
    let mut p = 0;
    loop {
        // cuse_parse_one
        while p < info.len() && info[p] == 0 {
            p += 1;
        }
        if p == info.len() {
            break;
        }
        if info[info.len() - 1] != 0 {
            return Err(Errno::EINVAL);
        }
        let len = info[p..].iter().position(|&b| b == 0).unwrap_or(info.len() - p);
        let s = &info[p..p + len];
        p += len;
        let (key, val) = match s.iter().position(|&b| b == b'=') {
            Some(i) => (&s[..i], &s[i + 1..]),
            None => (s, &s[s.len()..]),
        };
        let key = key.trim_ascii();
        if key.is_empty() {
            return Err(Errno::EINVAL);
        }
        if key == b"DEVNAME" {
            name = Some(val.trim_ascii());
        }
    }
    match name {
        Some(n) if !n.is_empty() => Ok(String::from_utf8_lossy(n).into_owned()),
        _ => Err(Errno::EINVAL),
    }
}

/// `cuse_process_init_reply`, run inside the daemon's write when the
/// CUSE_INIT reply ends the request. Any failure aborts the connection
/// (the write's count is unchanged).
fn cuse_process_init_reply(cc: &Arc<CuseConn>, ended: Ended) {
    if cuse_init_reply(cc, ended).is_err() {
        dev::fuse_abort_conn(&cc.fc);
    }
}

fn cuse_init_reply(cc: &Arc<CuseConn>, ended: Ended) -> KResult<()> {
    let body = ended.result?;
    let k = &cc.kernel;
    // The body is the 72-byte `cuse_init_out` (always whole: the write
    // checked it) and the strings.
    let (major, minor, flags) = (get_u32(&body, 0), get_u32(&body, 4), get_u32(&body, 12));
    let (max_read, max_write) = (get_u32(&body, 16), get_u32(&body, 20));
    let (dev_major, dev_minor) = (get_u32(&body, 24), get_u32(&body, 28));
    if major != FUSE_KERNEL_VERSION || minor < 11 {
        return Err(Errno::EINVAL);
    }
    {
        let mut g = cc.fc.lock();
        g.max_read = max_read.max(4096);
        g.max_write = max_write.max(4096);
    }
    cc.unrestricted_ioctl.store(flags & CUSE_UNRESTRICTED_IOCTL != 0, Ordering::Relaxed);
    let name = cuse_parse_devinfo(body.get(CUSE_INIT_OUT_LEN..).unwrap_or(&[]))?;
    // Determine and reserve the device number.
    let devt = if dev_major == 0 {
        k.chrdevs.alloc_chrdev_region(dev_minor, 1)?
    } else {
        let devt = mkdev(dev_major & 0xfff, dev_minor & 0xf_ffff);
        k.chrdevs.register_chrdev_region(devt, 1)?;
        devt
    };
    // dev_set_name: kobject names have no '/' (shown as '!'); devtmpfs
    // turns it back into a directory.
    let dev_name = name.replace('/', "!");
    crate::sched::yield_point("cuse:init_devt");
    let mut tbl = k.cuse.lock();
    // "make sure the device-name is unique", under the same lock as the
    // registration.
    let dup = tbl.iter().any(|pos| pos.dev.lock().as_ref().is_some_and(|d| d.name == dev_name));
    if dup {
        drop(tbl);
        k.chrdevs.unregister_chrdev_region(devt);
        return Err(Errno::EEXIST);
    }
    // The check and the registration are one section of `cuse_lock`: a
    // racing daemon waits here.
    crate::sched::yield_point("cuse:name_checked");
    // Still inside `cuse_lock`: this step's unlock is what a waiter for
    // the lock depends on.
    crate::footprint::access(cuse_lock_key(), true);
    // device_add (devtmpfs creates the node), cdev_add, list_add.
    k.chrdevs.create_node(&node_path(&dev_name), devt);
    k.chrdevs.cdev_add(devt, Arc::new(CuseFrontendCdev));
    *cc.dev.lock() = Some(CuseDev { name: dev_name, devt });
    // list_add: the table holds the connection as `cc->list` does (the
    // channel's reference keeps it; the channel's release unlinks it).
    tbl.push(cc.clone());
    Ok(())
}

/// The node of device `dev_name` (`device_get_devnode`: '!' is '/').
fn node_path(dev_name: &str) -> String {
    format!("/dev/{}", dev_name.replace('!', "/"))
}

/// `cuse_channel_fops`: the daemon's `/dev/cuse` file.
pub struct CuseChannel {
    cc: Arc<CuseConn>,
}

impl FileOps for CuseChannel {
    fn name(&self) -> &'static str {
        "cuse"
    }
    fn path(&self, _file: &File) -> String {
        "/dev/cuse".into()
    }
    fn read(&self, file: &File, len: usize) -> KResult<Vec<u8>> {
        dev::fuse_dev_read(&self.cc.fc, len, file.nonblock())
    }
    fn write(&self, _file: &File, data: &[u8], _caller: &Task) -> KResult<usize> {
        let cc = &self.cc;
        dev::fuse_dev_write(&cc.fc, data, |e| {
            if e.opcode == CUSE_INIT {
                cuse_process_init_reply(cc, e);
            }
        })
    }
    fn poll(&self, _file: &File, pt: Option<&mut PollTable>) -> u32 {
        dev::fuse_dev_poll(&self.cc.fc, pt)
    }
    fn release(&self, _file: &File) {
        cuse_channel_release(&self.cc);
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `cuse_channel_release`: the daemon's last reference to `/dev/cuse`.
fn cuse_channel_release(cc: &Arc<CuseConn>) {
    let k = &cc.kernel;
    // "remove from the conntbl, no more access from this point on".
    k.cuse.lock().retain(|c| !Arc::ptr_eq(c, cc));
    crate::sched::yield_point("cuse:channel_release");
    let dev = cc.dev.lock().clone();
    if let Some(d) = dev {
        // device_unregister: the node goes.
        k.chrdevs.delete_node(&node_path(&d.name));
        crate::sched::yield_point("cuse:device_unregister");
        k.chrdevs.unregister_chrdev_region(d.devt);
        k.chrdevs.cdev_del(d.devt);
    }
    // fuse_dev_release: the last device of the connection aborts it.
    dev::fuse_abort_conn(&cc.fc);
    cc.put();
}

/// `cuse_frontend_fops`' cdev: the open of `/dev/NAME`.
struct CuseFrontendCdev;

impl CdevOps for CuseFrontendCdev {
    fn open(&self, kernel: &Arc<Kernel>, dev: DevT, flags: u32) -> KResult<Box<dyn FileOps>> {
        cuse_open(kernel, dev, flags).map(|f| Box::new(f) as Box<dyn FileOps>)
    }
}

/// `cuse_open`: the connection of `devt` from the table, with a reference
/// (none: ENODEV), then `fuse_do_open` (FUSE_OPEN; its failure puts the
/// reference back).
fn cuse_open(kernel: &Arc<Kernel>, devt: DevT, flags: u32) -> KResult<CuseFile> {
    let cc = {
        let tbl = kernel.cuse.lock();
        let cc = tbl.iter().find(|c| c.dev.lock().as_ref().is_some_and(|d| d.devt == devt)).cloned();
        if let Some(c) = &cc {
            c.get();
        }
        cc
    };
    let cc = cc.ok_or(Errno::ENODEV)?;
    // fuse_do_open allocates the fuse_file first (and may sleep): the
    // connection can be aborted before FUSE_OPEN is sent (ENOTCONN).
    crate::sched::yield_point("cuse:open_conn_got");
    match fuse_do_open(&cc, flags) {
        Ok((fh, release)) => Ok(CuseFile { cc, fh, release }),
        Err(e) => {
            cc.put();
            Err(e)
        }
    }
}

/// `fuse_do_open` with nodeid 0: FUSE_OPEN with `fuse_open_in {flags,
/// open_flags 0}` (O_CREAT, O_EXCL, O_NOCTTY and, without
/// `atomic_o_trunc`, O_TRUNC cleared), unless the daemon once answered
/// ENOSYS (`fc->no_open`: the open succeeds with no FUSE_OPEN and no
/// FUSE_RELEASE). The file handle and whether a release is owed.
fn fuse_do_open(cc: &CuseConn, flags: u32) -> KResult<(u64, bool)> {
    if cc.fc.lock().no_open {
        return Ok((0, false));
    }
    let flags = flags & !(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC);
    let args = Le::default().u32(flags).u32(0).0;
    match dev::fuse_simple_request(&cc.fc, FUSE_OPEN, 0, &args, OutArgs::fixed(OPEN_OUT_LEN)) {
        Ok(out) => Ok((get_u64(&out, 0), true)),
        Err(Errno::ENOSYS) => {
            cc.fc.lock().no_open = true;
            Ok((0, false))
        }
        Err(e) => Err(e),
    }
}

/// `cuse_frontend_fops`: an open `/dev/NAME`.
pub struct CuseFile {
    cc: Arc<CuseConn>,
    fh: u64,
    /// FUSE_OPEN succeeded: close sends FUSE_RELEASE.
    release: bool,
}

impl CuseFile {
    /// `fuse_direct_io(FUSE_DIO_CUSE)` for a read of `len` bytes: chunks
    /// of at most max_read (and a request's pages) at offsets from 0; a
    /// short reply ends the call; an error ends it unless bytes were
    /// already read.
    fn direct_read(&self, file: &File, len: usize) -> KResult<Vec<u8>> {
        let max = (self.cc.fc.lock().max_read as usize).clamp(1, MAX_PAGES_BYTES);
        let mut out = Vec::new();
        let mut pos = 0u64;
        while out.len() < len {
            let n = (len - out.len()).min(max);
            // fuse_read_in: fh, offset, size, read_flags, lock_owner,
            // flags, padding.
            let args = Le::default().u64(self.fh).u64(pos).u32(n as u32).u32(0).u64(0).u32(file.flags()).u32(0).0;
            match dev::fuse_simple_request(&self.cc.fc, FUSE_READ, 0, &args, OutArgs::var(n, 0)) {
                Ok(data) => {
                    let got = data.len();
                    out.extend_from_slice(&data);
                    pos += got as u64;
                    if got != n {
                        break;
                    }
                }
                Err(e) if out.is_empty() => return Err(e),
                Err(_) => break,
            }
        }
        Ok(out)
    }

    /// As [`CuseFile::direct_read`] for a write: chunks of at most
    /// max_write; a reply claiming more than was sent is EIO
    /// (`fuse_send_write`).
    fn direct_write(&self, file: &File, data: &[u8]) -> KResult<usize> {
        let max = (self.cc.fc.lock().max_write as usize).clamp(1, MAX_PAGES_BYTES);
        let mut done = 0usize;
        while done < data.len() {
            let n = (data.len() - done).min(max);
            let args = Le::default()
                .u64(self.fh)
                .u64(done as u64)
                .u32(n as u32)
                .u32(0)
                .u64(0)
                .u32(file.flags())
                .u32(0)
                .bytes(&data[done..done + n])
                .0;
            let r = dev::fuse_simple_request(&self.cc.fc, FUSE_WRITE, 0, &args, OutArgs::fixed(WRITE_OUT_LEN))
                .and_then(|o| {
                    let size = get_u32(&o, 0) as usize;
                    if size > n {
                        Err(Errno::EIO)
                    } else {
                        Ok(size)
                    }
                });
            match r {
                Ok(got) => {
                    done += got;
                    if got != n {
                        break;
                    }
                }
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(done)
    }
}

impl FileOps for CuseFile {
    fn name(&self) -> &'static str {
        "cuse_dev"
    }
    fn path(&self, _file: &File) -> String {
        match self.cc.dev.lock().as_ref() {
            Some(d) => node_path(&d.name),
            None => "/dev/cuse_dev".into(),
        }
    }
    fn llseek(&self) -> Llseek {
        Llseek::Noop
    }
    fn read(&self, file: &File, len: usize) -> KResult<Vec<u8>> {
        self.direct_read(file, len)
    }
    fn write(&self, file: &File, data: &[u8], _caller: &Task) -> KResult<usize> {
        self.direct_write(file, data)
    }
    /// `cuse_release`: `fuse_sync_release` (FUSE_RELEASE, forced and
    /// synchronous; its result is ignored), then `fuse_conn_put`.
    fn release(&self, file: &File) {
        if self.release {
            let args = Le::default().u64(self.fh).u32(file.flags()).u32(0).u64(0).0;
            let _ = dev::fuse_simple_request(&self.cc.fc, FUSE_RELEASE, 0, &args, OutArgs::fixed(0));
        }
        self.cc.put();
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The registered connection whose device is named `name` (the class
/// device `/sys/class/cuse/NAME`), with a reference.
fn class_dev(k: &Kernel, path: &str, attr: &str) -> Option<Arc<CuseConn>> {
    let name = path.strip_prefix("/sys/class/cuse/")?.strip_suffix(attr)?.strip_suffix('/')?;
    let tbl = k.cuse.lock();
    tbl.iter().find(|c| c.dev.lock().as_ref().is_some_and(|d| d.name == name)).cloned()
}

/// A read of a CUSE class attribute: `/sys/class/cuse/NAME/waiting` is
/// `fc->num_waiting` as `N\n` (`cuse_class_waiting_show`). Any other path:
/// ENOENT.
pub fn class_attr_read(k: &Kernel, path: &str) -> KResult<Vec<u8>> {
    let cc = class_dev(k, path, "waiting").ok_or(Errno::ENOENT)?;
    Ok(format!("{}\n", dev::num_waiting(&cc.fc)).into_bytes())
}

/// A write of a CUSE class attribute: any write to
/// `/sys/class/cuse/NAME/abort` aborts the connection
/// (`cuse_class_abort_store`) and returns the count. Any other path:
/// ENOENT.
pub fn class_attr_write(k: &Kernel, path: &str, data: &[u8]) -> KResult<usize> {
    let cc = class_dev(k, path, "abort").ok_or(Errno::ENOENT)?;
    dev::fuse_abort_conn(&cc.fc);
    Ok(data.len())
}

/// The connection behind the `/dev/cuse` file `file`, if it is one.
pub fn channel_of(file: &File) -> Option<&Arc<CuseConn>> {
    file.ops_as::<CuseChannel>().map(|c| &c.cc)
}

#[cfg(test)]
mod tests {
    use super::cuse_parse_devinfo;
    use crate::errno::Errno;

    #[test]
    fn devinfo_keys_and_values_are_stripped_and_unknown_keys_ignored() {
        assert_eq!(cuse_parse_devinfo(b"  DEVNAME = foo \0").as_deref(), Ok("foo"));
        assert_eq!(cuse_parse_devinfo(b"\0\0MODE\0DEVNAME=a\0\0").as_deref(), Ok("a"));
        // The last DEVNAME wins, as the loop overwrites it.
        assert_eq!(cuse_parse_devinfo(b"DEVNAME=a\0DEVNAME=b\0").as_deref(), Ok("b"));
    }

    #[test]
    fn devinfo_failures() {
        assert_eq!(cuse_parse_devinfo(b""), Err(Errno::EINVAL));
        assert_eq!(cuse_parse_devinfo(b"\0\0"), Err(Errno::EINVAL));
        assert_eq!(cuse_parse_devinfo(b"DEVNAME=a"), Err(Errno::EINVAL));
        assert_eq!(cuse_parse_devinfo(b"=a\0DEVNAME=b\0"), Err(Errno::EINVAL));
        assert_eq!(cuse_parse_devinfo(b"DEVNAME\0"), Err(Errno::EINVAL));
    }
}
