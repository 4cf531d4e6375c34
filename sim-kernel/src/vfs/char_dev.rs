//! The character-device namespace: what `fs/char_dev.c` (the cdev map by
//! `dev_t`, `register_chrdev_region`/`alloc_chrdev_region`, `cdev_add`,
//! `cdev_del`, `chrdev_open`), `drivers/char/misc.c` (misc devices on
//! major 10 with a fixed minor: `/dev/cuse` is `CUSE_MINOR` 203) and
//! devtmpfs (`drivers/base/devtmpfs.c`: a node per device, by path, that
//! appears when the device is added and disappears when it is removed)
//! give open(2).
//!
//! A path leads to a node, a node to a `dev_t`, the `dev_t` to a cdev
//! (`kobj_lookup`), whose `open` makes the file. So the two ways a device
//! vanishes show as Linux shows them: its node gone first (`device_del`:
//! later opens ENOENT), then its cdev (`cdev_del`: an open that found the
//! node before it went gets ENXIO from `chrdev_open`).
//!
//! Lock order: one mutex (`chrdevs_lock` and `cdev_lock` together, with
//! devtmpfs' tree) and it is a leaf: nothing is taken under it, and a
//! cdev's `open` runs after it is dropped (Linux's `chrdev_open` takes
//! `cdev_lock` only to find the cdev and take a reference).

use super::file::FileOps;
use crate::errno::{Errno, KResult};
use crate::kernel::Kernel;
use crate::sync::{Arc, Mutex};
use std::collections::BTreeMap;

/// `dev_t` as the kernel packs it: `MKDEV(ma, mi)` = `ma << 20 | mi`
/// (`include/linux/kdev_t.h`).
pub type DevT = u32;

pub const MINORBITS: u32 = 20;

pub const fn mkdev(major: u32, minor: u32) -> DevT {
    (major << MINORBITS) | minor
}

pub const fn major(dev: DevT) -> u32 {
    dev >> MINORBITS
}

pub const fn minor(dev: DevT) -> u32 {
    dev & ((1 << MINORBITS) - 1)
}

/// `MISC_MAJOR` (`include/uapi/linux/major.h`).
pub const MISC_MAJOR: u32 = 10;

/// The dynamic majors `alloc_chrdev_region` hands out, highest first
/// (`CHRDEV_MAJOR_DYN_END` 234 to `CHRDEV_MAJOR_MAX - 1` = 511 and then
/// 254 down: ksim uses 254 down to 234, `fs/char_dev.c`
/// `find_dynamic_major`).
const DYN_MAJOR_HI: u32 = 254;
const DYN_MAJOR_LO: u32 = 234;

/// What a registered cdev does on open (`cdev->ops->open`).
pub trait CdevOps: Send + Sync {
    /// `f_op->open` for an open of `dev`: the new file's operations.
    fn open(&self, kernel: &Arc<Kernel>, dev: DevT, flags: u32) -> KResult<Box<dyn FileOps>>;
}

#[derive(Default)]
struct Inner {
    /// `chrdevs[]`: registered regions, by first `dev_t`, with their size.
    regions: BTreeMap<DevT, u32>,
    /// `cdev_map`: the cdev serving each `dev_t`.
    cdevs: BTreeMap<DevT, Arc<dyn CdevOps>>,
    /// devtmpfs: path to (`dev_t`, inode number).
    nodes: BTreeMap<String, (DevT, u64)>,
    /// The next node's inode number, counted apart from `get_next_ino` so
    /// that registering devices changes no other file's number.
    next_ino: u64,
}

/// The first device node's inode number (not shown to scenarios).
const NODE_INO_BASE: u64 = 1 << 40;

/// The kernel's character devices and their nodes.
#[derive(Default)]
pub struct CharDevs {
    inner: Mutex<Inner>,
}

/// The footprint key of the namespace (one per kernel).
fn key() -> u64 {
    (1 << 58) | 1
}

impl CharDevs {
    pub fn new() -> Self {
        CharDevs::default()
    }

    fn lock(&self, write: bool) -> crate::sync::MutexGuard<'_, Inner> {
        crate::footprint::access(key(), write);
        self.inner.lock()
    }

    /// `register_chrdev_region(dev, count)`: EBUSY if any of the range is
    /// taken.
    pub fn register_chrdev_region(&self, dev: DevT, count: u32) -> KResult<()> {
        let mut g = self.lock(true);
        let end = dev.checked_add(count).ok_or(Errno::EINVAL)?;
        let overlaps = g.regions.range(..end).any(|(&s, &n)| s + n > dev);
        if overlaps {
            return Err(Errno::EBUSY);
        }
        g.regions.insert(dev, count);
        Ok(())
    }

    /// `alloc_chrdev_region(&dev, baseminor, count)`: the highest free
    /// dynamic major. EBUSY when none is left.
    pub fn alloc_chrdev_region(&self, baseminor: u32, count: u32) -> KResult<DevT> {
        let mut g = self.lock(true);
        for ma in (DYN_MAJOR_LO..=DYN_MAJOR_HI).rev() {
            if !g.regions.keys().any(|&d| major(d) == ma) {
                let dev = mkdev(ma, baseminor);
                g.regions.insert(dev, count);
                return Ok(dev);
            }
        }
        Err(Errno::EBUSY)
    }

    /// `unregister_chrdev_region(dev, count)`.
    pub fn unregister_chrdev_region(&self, dev: DevT) {
        self.lock(true).regions.remove(&dev);
    }

    /// `cdev_add(cdev, dev, 1)`.
    pub fn cdev_add(&self, dev: DevT, ops: Arc<dyn CdevOps>) {
        self.lock(true).cdevs.insert(dev, ops);
    }

    /// `cdev_del`: later `chrdev_open`s of `dev` fail with ENXIO.
    pub fn cdev_del(&self, dev: DevT) {
        self.lock(true).cdevs.remove(&dev);
    }

    /// devtmpfs `handle_create`: the node `path` for `dev`. A node already
    /// there is kept (EEXIST, which devtmpfs ignores).
    pub fn create_node(&self, path: &str, dev: DevT) {
        let mut g = self.lock(true);
        if !g.nodes.contains_key(path) {
            let ino = NODE_INO_BASE + g.next_ino;
            g.next_ino += 1;
            g.nodes.insert(path.to_string(), (dev, ino));
        }
    }

    /// devtmpfs `handle_remove`: the node goes (later opens: ENOENT).
    pub fn delete_node(&self, path: &str) {
        self.lock(true).nodes.remove(path);
    }

    /// `misc_register` with a fixed minor: the region, the cdev and the
    /// node `/dev/NAME`. EBUSY if the minor is taken.
    pub fn misc_register(&self, minor: u32, name: &str, ops: Arc<dyn CdevOps>) -> KResult<()> {
        let dev = mkdev(MISC_MAJOR, minor);
        self.register_chrdev_region(dev, 1)?;
        self.cdev_add(dev, ops);
        self.create_node(&format!("/dev/{name}"), dev);
        Ok(())
    }

    /// Path lookup (`fs/namei.c`): the node's `dev_t` and inode number.
    pub fn lookup(&self, path: &str) -> Option<(DevT, u64)> {
        self.lock(false).nodes.get(path).copied()
    }

    /// `chrdev_open`: the cdev of `dev` (`kobj_lookup`; none: ENXIO), then
    /// its open, outside the lock.
    pub fn chrdev_open(&self, kernel: &Arc<Kernel>, dev: DevT, flags: u32) -> KResult<Box<dyn FileOps>> {
        let ops = self.lock(false).cdevs.get(&dev).cloned().ok_or(Errno::ENXIO)?;
        ops.open(kernel, dev, flags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_overlap_and_dynamic_majors_count_down() {
        let c = CharDevs::new();
        c.register_chrdev_region(mkdev(231, 192), 2).unwrap();
        assert_eq!(c.register_chrdev_region(mkdev(231, 193), 1), Err(Errno::EBUSY));
        assert_eq!(c.register_chrdev_region(mkdev(231, 191), 2), Err(Errno::EBUSY));
        c.register_chrdev_region(mkdev(231, 194), 1).unwrap();
        assert_eq!(c.alloc_chrdev_region(5, 1).map(|d| (major(d), minor(d))), Ok((254, 5)));
        assert_eq!(c.alloc_chrdev_region(0, 1).map(major), Ok(253));
        c.unregister_chrdev_region(mkdev(254, 5));
        assert_eq!(c.alloc_chrdev_region(0, 1).map(major), Ok(254));
    }

    #[test]
    fn a_node_without_its_cdev_is_enxio() {
        let k = crate::kernel::Kernel::new(Default::default());
        let (dev, _) = k.chrdevs.lookup("/dev/cuse").expect("/dev/cuse is registered at boot");
        assert_eq!((major(dev), minor(dev)), (MISC_MAJOR, 203));
        k.chrdevs.cdev_del(dev);
        assert!(matches!(k.chrdevs.chrdev_open(&k, dev, 0), Err(Errno::ENXIO)));
        k.chrdevs.delete_node("/dev/cuse");
        assert!(k.chrdevs.lookup("/dev/cuse").is_none());
    }
}
