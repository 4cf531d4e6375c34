//! Memory regions: the HCA's translation and protection table.
//!
//! A registered region maps an I/O virtual range `[iova, iova + len)` onto
//! host memory at `host_addr`, in a protection domain, with access rights.
//! Every local (lkey) and remote (rkey) reference is checked here before any
//! DMA: the key must name a live region of the same protection domain, the
//! range must lie inside it, and the region must grant the access. This is the
//! check of rxe's `lookup_mr` / `mr_check_range` (drivers/infiniband/sw/rxe/
//! rxe_mr.c) and of the responder's CHK_RKEY state (rxe_resp.c `check_rkey`).
//!
//! Key types: [`MrTable`], [`Access`], [`MrError`], [`MrKeys`].

/// Access rights of a region (IBTA Vol. 1 sec. 10.6.3.1, `IB_ACCESS_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Access(pub u8);

impl Access {
    /// Local read is always granted; this flag allows the HCA to write locally
    /// (receive buffers).
    pub const LOCAL_WRITE: Access = Access(1);
    pub const REMOTE_WRITE: Access = Access(2);
    pub const REMOTE_READ: Access = Access(4);
    pub const REMOTE_ATOMIC: Access = Access(8);
    /// No rights beyond local read.
    pub const NONE: Access = Access(0);

    /// Union of rights.
    pub const fn union(self, other: Access) -> Access {
        Access(self.0 | other.0)
    }
    /// Whether every right of `need` is granted.
    pub fn allows(self, need: Access) -> bool {
        self.0 & need.0 == need.0
    }
}

impl std::ops::BitOr for Access {
    type Output = Access;
    fn bitor(self, rhs: Access) -> Access {
        self.union(rhs)
    }
}

/// Why a reference failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MrError {
    /// No such key, or the region was deregistered.
    BadKey,
    /// The region belongs to another protection domain.
    WrongPd,
    /// The range leaves the region.
    OutOfBounds,
    /// The region does not grant the access.
    AccessDenied,
}

/// The keys of a registered region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MrKeys {
    pub lkey: u32,
    pub rkey: u32,
}

#[derive(Clone, Debug)]
struct Mr {
    pd: u32,
    iova: u64,
    len: u64,
    host_addr: u64,
    access: Access,
    key: u8,
}

/// The per-HCA region table. Keys are `index << 8 | key byte`, as mlx5 and
/// rxe build them, so a stale key of a reused slot does not match.
#[derive(Default)]
pub struct MrTable {
    slots: Vec<Option<Mr>>,
    generation: u8,
}

impl MrTable {
    /// Registers a region and returns its keys (here lkey == rkey, as on mlx5).
    pub fn register(&mut self, pd: u32, iova: u64, len: u64, host_addr: u64, access: Access) -> MrKeys {
        self.generation = self.generation.wrapping_add(1);
        let mr = Mr { pd, iova, len, host_addr, access, key: self.generation };
        let index = match self.slots.iter().position(Option::is_none) {
            Some(i) => {
                self.slots[i] = Some(mr);
                i
            }
            None => {
                self.slots.push(Some(mr));
                self.slots.len() - 1
            }
        };
        let key = ((index as u32 + 1) << 8) | self.generation as u32;
        MrKeys { lkey: key, rkey: key }
    }

    /// Deregisters the region named by `key`.
    pub fn deregister(&mut self, key: u32) -> Result<(), MrError> {
        let i = self.slot(key)?;
        self.slots[i] = None;
        Ok(())
    }

    fn slot(&self, key: u32) -> Result<usize, MrError> {
        let index = (key >> 8) as usize;
        match index.checked_sub(1).and_then(|i| self.slots.get(i).map(|s| (i, s))) {
            Some((i, Some(mr))) if mr.key == key as u8 => Ok(i),
            _ => Err(MrError::BadKey),
        }
    }

    /// Checks `[iova, iova + len)` through `key` for `need` in `pd` and
    /// returns the host address of `iova`.
    pub fn translate(&self, key: u32, pd: u32, iova: u64, len: u64, need: Access) -> Result<u64, MrError> {
        let mr = self.slots[self.slot(key)?].as_ref().expect("slot is live");
        if mr.pd != pd {
            return Err(MrError::WrongPd);
        }
        let end = iova.checked_add(len).ok_or(MrError::OutOfBounds)?;
        if iova < mr.iova || end > mr.iova + mr.len {
            return Err(MrError::OutOfBounds);
        }
        if !mr.access.allows(need) {
            return Err(MrError::AccessDenied);
        }
        Ok(mr.host_addr + (iova - mr.iova))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation_checks_key_pd_bounds_and_access() {
        let mut t = MrTable::default();
        let k = t.register(1, 0x1000, 0x100, 0x9000, Access::LOCAL_WRITE | Access::REMOTE_WRITE);
        assert_eq!(t.translate(k.lkey, 1, 0x1010, 0x10, Access::NONE), Ok(0x9010));
        assert_eq!(t.translate(k.rkey, 1, 0x10f0, 0x10, Access::REMOTE_WRITE), Ok(0x90f0));
        assert_eq!(t.translate(k.rkey, 1, 0x10f0, 0x11, Access::REMOTE_WRITE), Err(MrError::OutOfBounds));
        assert_eq!(t.translate(k.rkey, 1, 0xff0, 0x10, Access::NONE), Err(MrError::OutOfBounds));
        assert_eq!(t.translate(k.rkey, 2, 0x1000, 1, Access::NONE), Err(MrError::WrongPd));
        assert_eq!(t.translate(k.rkey, 1, 0x1000, 1, Access::REMOTE_READ), Err(MrError::AccessDenied));
        assert_eq!(t.translate(k.rkey ^ 1, 1, 0x1000, 1, Access::NONE), Err(MrError::BadKey));
        t.deregister(k.lkey).unwrap();
        assert_eq!(t.translate(k.lkey, 1, 0x1000, 1, Access::NONE), Err(MrError::BadKey));
        // A new region in the same slot gets a different key.
        let k2 = t.register(1, 0x1000, 0x100, 0x9000, Access::NONE);
        assert_ne!(k2.lkey, k.lkey);
        assert_eq!(t.translate(k.lkey, 1, 0x1000, 1, Access::NONE), Err(MrError::BadKey));
    }
}
