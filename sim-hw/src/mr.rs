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
//! Memory windows share the key space (rxe_mw.c): ALLOC_MW makes a
//! window of type 1 or 2 in a PD; a BIND_MW work request binds it to a
//! range of a region that allows MW_BIND, with its own remote rights and a
//! new key byte; a remote reference through its rkey is checked against
//! the window (its PD, for type 2 the QP it was bound through, its rights
//! and bounds) and lands in the region. LOCAL_INV and SEND_WITH_INVALIDATE
//! free a type 2 window. A region with windows bound cannot be
//! deregistered. Zero-based windows are not modelled.
//!
//! Key types: [`MrTable`], [`Access`], [`MrError`], [`MrKeys`], [`MwType`],
//! [`MwBind`].

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
    /// Windows may be bound to the region (IB_ACCESS_MW_BIND).
    pub const MW_BIND: Access = Access(16);
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
    /// A window is bound to the region.
    Busy,
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
}

/// Memory window types (`enum ib_mw_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MwType {
    /// Bound to a range for any QP of its PD; never invalidated.
    Type1,
    /// Bound by a BIND_MW work request to the QP that posted it;
    /// invalidated by LOCAL_INV or a SEND_WITH_INVALIDATE.
    Type2,
}

/// What a BIND_MW work request asks (`struct ib_mw_bind_info` with the
/// window's key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MwBind {
    /// The window's current rkey.
    pub mw_rkey: u32,
    /// The window's rkey after the bind: only its low byte (the key) is
    /// taken, the index is the window's.
    pub new_rkey: u32,
    /// The region bound to (ignored for a zero-length type 1 unbind).
    pub mr_lkey: u32,
    pub addr: u64,
    pub len: u64,
    /// REMOTE_READ, REMOTE_WRITE, REMOTE_ATOMIC.
    pub access: Access,
}

#[derive(Clone, Debug)]
struct Binding {
    /// The region's key (it cannot be deregistered while bound).
    mr_key: u32,
    addr: u64,
    len: u64,
    access: Access,
    /// Type 2: the QP it was bound through.
    qpn: Option<u32>,
}

#[derive(Clone, Debug)]
struct Mw {
    pd: u32,
    ty: MwType,
    /// Type 1 is VALID from allocation; type 2 is FREE until bound
    /// (rxe_mw.c `rxe_alloc_mw`).
    valid: bool,
    binding: Option<Binding>,
}

#[derive(Clone, Debug)]
enum Object {
    Mr(Mr),
    Mw(Mw),
}

#[derive(Clone, Debug)]
struct Slot {
    /// The low byte of the object's current key.
    key: u8,
    object: Object,
}

/// The per-HCA table of regions and windows, one key space. Keys are
/// `index << 8 | key byte`, as mlx5 and rxe build them, so a stale key of a
/// reused slot does not match.
#[derive(Default)]
pub struct MrTable {
    slots: Vec<Option<Slot>>,
    generation: u8,
}

impl MrTable {
    fn insert(&mut self, object: Object) -> u32 {
        self.generation = self.generation.wrapping_add(1);
        let slot = Some(Slot { key: self.generation, object });
        let index = match self.slots.iter().position(Option::is_none) {
            Some(i) => {
                self.slots[i] = slot;
                i
            }
            None => {
                self.slots.push(slot);
                self.slots.len() - 1
            }
        };
        ((index as u32 + 1) << 8) | self.generation as u32
    }

    /// Registers a region and returns its keys (here lkey == rkey, as on mlx5).
    pub fn register(&mut self, pd: u32, iova: u64, len: u64, host_addr: u64, access: Access) -> MrKeys {
        let key = self.insert(Object::Mr(Mr { pd, iova, len, host_addr, access }));
        MrKeys { lkey: key, rkey: key }
    }

    /// Deregisters the region named by `key`; refused while a window is
    /// bound to it (rxe_mr.c `rxe_dereg_mr`: -EINVAL, IBTA 10.6.7.2.6).
    pub fn deregister(&mut self, key: u32) -> Result<(), MrError> {
        let i = self.slot(key)?;
        if !matches!(self.slots[i].as_ref().unwrap().object, Object::Mr(_)) {
            return Err(MrError::BadKey);
        }
        if self.windows_on(key) > 0 {
            return Err(MrError::Busy);
        }
        self.slots[i] = None;
        Ok(())
    }

    /// Windows bound to the region `key`.
    fn windows_on(&self, key: u32) -> usize {
        let bound = |s: &Slot| matches!(&s.object, Object::Mw(Mw { binding: Some(b), .. }) if b.mr_key == key);
        self.slots.iter().flatten().filter(|s| bound(s)).count()
    }

    fn slot(&self, key: u32) -> Result<usize, MrError> {
        let index = (key >> 8) as usize;
        match index.checked_sub(1).and_then(|i| self.slots.get(i).map(|s| (i, s))) {
            Some((i, Some(s))) if s.key == key as u8 => Ok(i),
            _ => Err(MrError::BadKey),
        }
    }

    fn mr(&self, key: u32) -> Result<&Mr, MrError> {
        match &self.slots[self.slot(key)?].as_ref().unwrap().object {
            Object::Mr(mr) => Ok(mr),
            Object::Mw(_) => Err(MrError::BadKey),
        }
    }

    /// Checks `[iova, iova + len)` through the region `key` for `need` in
    /// `pd` and returns the host address of `iova`. A window's key is not a
    /// region's: local references go through regions only.
    pub fn translate(&self, key: u32, pd: u32, iova: u64, len: u64, need: Access) -> Result<u64, MrError> {
        let mr = self.mr(key)?;
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

    /// A remote reference (the responder's CHK_RKEY) by QP `qpn` of `pd`:
    /// through a region as [`translate`](Self::translate), or through a
    /// window (rxe_mw.c `rxe_lookup_mw`): its key current, its PD the QP's,
    /// a type 2 window bound through this QP, bound at all, granting
    /// `need`, and the range inside the window (rxe checks only the
    /// region's bounds; IBTA 10.6.7.2 bounds the access by the window's).
    pub fn translate_remote(
        &self,
        rkey: u32,
        pd: u32,
        qpn: u32,
        iova: u64,
        len: u64,
        need: Access,
    ) -> Result<u64, MrError> {
        let i = self.slot(rkey)?;
        let mw = match &self.slots[i].as_ref().unwrap().object {
            Object::Mr(_) => return self.translate(rkey, pd, iova, len, need),
            Object::Mw(mw) => mw,
        };
        if mw.pd != pd {
            return Err(MrError::WrongPd);
        }
        let b = match &mw.binding {
            Some(b) if mw.valid && b.len > 0 && (mw.ty == MwType::Type1 || b.qpn == Some(qpn)) => b,
            _ => return Err(MrError::BadKey),
        };
        if !b.access.allows(need) {
            return Err(MrError::AccessDenied);
        }
        let end = iova.checked_add(len).ok_or(MrError::OutOfBounds)?;
        if iova < b.addr || end > b.addr + b.len {
            return Err(MrError::OutOfBounds);
        }
        let mr = self.mr(b.mr_key)?;
        Ok(mr.host_addr + (iova - mr.iova))
    }

    /// ALLOC_MW in `pd`: returns the window's rkey.
    pub fn alloc_mw(&mut self, pd: u32, ty: MwType) -> u32 {
        self.insert(Object::Mw(Mw { pd, ty, valid: ty == MwType::Type1, binding: None }))
    }

    /// DEALLOC_MW of the window whose index `rkey` names (its key byte may
    /// have changed with binds). Its binding goes with it.
    pub fn dealloc_mw(&mut self, rkey: u32) -> Result<(), MrError> {
        let i = ((rkey >> 8) as usize).checked_sub(1).ok_or(MrError::BadKey)?;
        match self.slots.get(i) {
            Some(Some(Slot { object: Object::Mw(_), .. })) => {
                self.slots[i] = None;
                Ok(())
            }
            _ => Err(MrError::BadKey),
        }
    }

    /// The window's current rkey, from any key naming its index.
    pub fn mw_rkey(&self, rkey: u32) -> Option<u32> {
        let i = ((rkey >> 8) as usize).checked_sub(1)?;
        match self.slots.get(i)? {
            Some(s @ Slot { object: Object::Mw(_), .. }) => Some(((i as u32 + 1) << 8) | s.key as u32),
            _ => None,
        }
    }

    /// BIND_MW executed by QP `qpn` of `qp_pd` (rxe_mw.c `rxe_bind_mw` and
    /// `rxe_check_bind_mw`; every failure is the WQE's MW_BIND_ERR).
    pub fn bind_mw(&mut self, qpn: u32, qp_pd: u32, bind: &MwBind) -> Result<(), MrError> {
        let i = self.slot(bind.mw_rkey)?;
        let Object::Mw(mw) = &self.slots[i].as_ref().unwrap().object else { return Err(MrError::BadKey) };
        let mr = if bind.len > 0 { Some(self.mr(bind.mr_lkey)?) } else { None };
        match mw.ty {
            // Type 1: VALID (always, until deallocated).
            MwType::Type1 if !mw.valid => return Err(MrError::BadKey),
            // Type 2: FREE (o10-37.2.30), the QP's PD (C10-72), a region
            // and a length (o10-37.2.40).
            MwType::Type2 if mw.valid || mw.pd != qp_pd => return Err(MrError::WrongPd),
            MwType::Type2 if mr.is_none() => return Err(MrError::OutOfBounds),
            _ => {}
        }
        if let Some(mr) = mr {
            // C10-73: the region allows binding; C10-74: a writable window
            // needs a locally writable region; C10-75: inside the region.
            let writes = Access(Access::REMOTE_WRITE.0 | Access::REMOTE_ATOMIC.0);
            if !mr.access.allows(Access::MW_BIND)
                || (bind.access.0 & writes.0 != 0 && !mr.access.allows(Access::LOCAL_WRITE))
            {
                return Err(MrError::AccessDenied);
            }
            let end = bind.addr.checked_add(bind.len).ok_or(MrError::OutOfBounds)?;
            if bind.addr < mr.iova || end > mr.iova + mr.len {
                return Err(MrError::OutOfBounds);
            }
        }
        let ty = mw.ty;
        let slot = self.slots[i].as_mut().unwrap();
        slot.key = bind.new_rkey as u8;
        let Object::Mw(mw) = &mut slot.object else { unreachable!() };
        mw.valid = true;
        mw.binding = (bind.len > 0).then_some(Binding {
            mr_key: bind.mr_lkey,
            addr: bind.addr,
            len: bind.len,
            access: bind.access,
            qpn: (ty == MwType::Type2).then_some(qpn),
        });
        Ok(())
    }

    /// LOCAL_INV or a SEND_WITH_INVALIDATE of `rkey` (rxe_mw.c
    /// `rxe_invalidate_mw`): the key current, the window of type 2 and not
    /// deallocated; it becomes FREE, unbound. A region's key fails: only
    /// fast-registration regions can be invalidated (rxe_mr.c
    /// `rxe_invalidate_mr`), and these are user regions.
    pub fn invalidate(&mut self, rkey: u32) -> Result<(), MrError> {
        let i = self.slot(rkey)?;
        match &mut self.slots[i].as_mut().unwrap().object {
            Object::Mw(mw) if mw.ty == MwType::Type2 => {
                mw.valid = false;
                mw.binding = None;
                Ok(())
            }
            _ => Err(MrError::AccessDenied),
        }
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
