//! Object accounting: every kernel object registers on creation with its
//! type and creation site, and is *poisoned*, not forgotten, on release.
//! Analogous to what kmemleak (`mm/kmemleak.c`: objects never freed) and
//! KASAN (`mm/kasan/`: accesses to freed objects) report in Linux.
//!
//! The memory of a released object stays valid (it is reference counted by
//! Rust), so a use-after-free that a re-introduced historical bug causes is
//! *detected and reported*, never undefined behaviour. Reports are collected
//! and fail the execution, as a KASAN splat with `kasan_multi_shot` would:
//! the kernel carries on so that the whole execution can be shown.
//!
//! Memory: a header is 8 bytes, a record 9 (creation and release sites,
//! and the type as an index into a small table of type names), so that
//! accounting stays a small part of an object's cost.
//!
//! Lock order: `records` before `reports`; neither is held while calling
//! out.

use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::Mutex;

/// An object's id in the table: 1-based, in creation order (deterministic
/// for a given schedule). 0 means "no object".
pub type ObjId = u64;

/// A call site: an opaque number the scenario interpreter maps back to
/// `file:line (actor)`; 0 is "unknown".
pub type Site = u32;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjRecord {
    pub ty: &'static str,
    pub created: Site,
    pub released: Option<Site>,
}

/// What the kernel found wrong with itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    /// An access to a released object.
    UseAfterFree { obj: ObjId, ty: &'static str, op: &'static str, created: Site, released: Site, site: Site },
    /// A second release of the same object.
    DoubleFree { obj: ObjId, ty: &'static str, created: Site, released: Site, site: Site },
    /// A broken kernel invariant (what a `WARN_ON` would print).
    Invariant { msg: String, site: Site },
}

/// Embedded in every accounted object: its id and whether it was released.
#[derive(Debug)]
pub struct ObjHeader {
    /// Ids fit in 32 bits: an execution creates fewer than 2^32 objects
    /// (`register` asserts it).
    id: u32,
    released: AtomicBool,
}

impl ObjHeader {
    #[inline]
    pub fn id(&self) -> ObjId {
        self.id as ObjId
    }

    #[inline]
    pub fn is_released(&self) -> bool {
        self.released.load(Ordering::Acquire)
    }
}

/// The compact records: per object, its sites and its type.
#[derive(Default)]
struct Records {
    /// `(created, released)` sites by id - 1.
    sites: Vec<(Site, Site)>,
    /// Per object: the index of its type in `types`, with [`RELEASED`] set
    /// once released.
    tys: Vec<u8>,
    /// Type names, in order of first use.
    types: Vec<&'static str>,
}

/// Bit of `Records::tys` saying the object was released.
const RELEASED: u8 = 0x80;

impl Records {
    fn get(&self, id: ObjId) -> Option<ObjRecord> {
        let i = (id as usize).wrapping_sub(1);
        let (created, released) = *self.sites.get(i)?;
        let t = self.tys[i];
        Some(ObjRecord {
            ty: self.types[(t & !RELEASED) as usize],
            created,
            released: (t & RELEASED != 0).then_some(released),
        })
    }

    fn type_index(&mut self, ty: &'static str) -> u8 {
        if let Some(i) = self.types.iter().position(|t| std::ptr::eq(*t, ty) || *t == ty) {
            return i as u8;
        }
        assert!(self.types.len() < RELEASED as usize, "more than 127 kernel object types");
        self.types.push(ty);
        (self.types.len() - 1) as u8
    }
}

/// The table of every object an execution created.
#[derive(Default)]
pub struct ObjTable {
    records: Mutex<Records>,
    reports: Mutex<Vec<Report>>,
}

impl ObjTable {
    pub fn new() -> Self {
        ObjTable::default()
    }

    /// Register a new object of type `ty`, created at the current actor's
    /// call site.
    pub fn register(&self, ty: &'static str) -> ObjHeader {
        let site = crate::sched::current_site();
        let mut r = self.records.lock_quiet();
        let t = r.type_index(ty);
        r.sites.push((site, 0));
        r.tys.push(t);
        let id = u32::try_from(r.sites.len()).expect("fewer than 2^32 objects in one execution");
        drop(r);
        #[cfg(not(loom))]
        crate::sched::exec::name_object(id as u64);
        ObjHeader { id, released: AtomicBool::new(false) }
    }

    /// Mark the object released (poisoned). A second release is reported.
    pub fn release(&self, h: &ObjHeader) {
        crate::footprint::access(h.id(), true);
        let site = crate::sched::current_site();
        if h.released.swap(true, Ordering::AcqRel) {
            let rec = self.record(h.id());
            self.report(Report::DoubleFree {
                obj: h.id(),
                ty: rec.ty,
                created: rec.created,
                released: rec.released.unwrap_or(0),
                site,
            });
            return;
        }
        let mut r = self.records.lock_quiet();
        let i = (h.id as usize).wrapping_sub(1);
        if let Some(s) = r.sites.get_mut(i) {
            s.1 = site;
            r.tys[i] |= RELEASED;
        }
    }

    /// Check an access: true if the object is live; otherwise reports a
    /// use-after-free naming `op` and returns false.
    #[inline(always)]
    pub fn check(&self, h: &ObjHeader, op: &'static str) -> bool {
        crate::footprint::access(h.id(), false);
        if !h.is_released() {
            return true;
        }
        self.report_use_after_free(h, op)
    }

    /// Check a write to the object (a plain store in the C code, as
    /// `file->f_mode |= FMODE_NOWAIT`): as [`ObjTable::check`], but the
    /// access is a write, in the footprint and, under loom, on the object's
    /// `released` flag (a read-modify-write that changes nothing). loom's
    /// DPOR keeps one last access per atomic: a load here would be hidden
    /// from the freeing thread's `swap` by that thread's own `check` just
    /// before it, and the window between this write and the free would
    /// never be reversed; a write conflicts with that `check` itself.
    #[inline(always)]
    pub fn check_write(&self, h: &ObjHeader, op: &'static str) -> bool {
        crate::footprint::access(h.id(), true);
        #[cfg(loom)]
        let released = h.released.fetch_or(false, Ordering::AcqRel);
        #[cfg(not(loom))]
        let released = h.is_released();
        if !released {
            return true;
        }
        self.report_use_after_free(h, op)
    }

    /// [`ObjTable::check`] without the footprint read, for a caller that
    /// records a write to the same key right after (the step's footprint
    /// is the same: a write covers a read of its key).
    #[inline(always)]
    pub(crate) fn check_then_write(&self, h: &ObjHeader, op: &'static str) -> bool {
        if !h.is_released() {
            return true;
        }
        self.report_use_after_free(h, op)
    }

    #[cold]
    #[inline(never)]
    fn report_use_after_free(&self, h: &ObjHeader, op: &'static str) -> bool {
        let rec = self.record(h.id());
        self.report(Report::UseAfterFree {
            obj: h.id(),
            ty: rec.ty,
            op,
            created: rec.created,
            released: rec.released.unwrap_or(0),
            site: crate::sched::current_site(),
        });
        false
    }

    pub fn record(&self, id: ObjId) -> ObjRecord {
        self.records.lock_quiet().get(id).unwrap_or(ObjRecord { ty: "?", created: 0, released: None })
    }

    pub fn report(&self, r: Report) {
        self.reports.lock_quiet().push(r);
    }

    /// A `WARN_ON`: record a broken invariant at the current site.
    pub fn warn(&self, msg: impl Into<String>) {
        self.report(Report::Invariant { msg: msg.into(), site: crate::sched::current_site() });
    }

    pub fn reports(&self) -> Vec<Report> {
        self.reports.lock_quiet().clone()
    }

    /// Objects never released, in creation order.
    pub fn live(&self) -> Vec<(ObjId, ObjRecord)> {
        let r = self.records.lock_quiet();
        (0..r.tys.len())
            .filter(|&i| r.tys[i] & RELEASED == 0)
            .filter_map(|i| r.get(i as ObjId + 1).map(|rec| (i as ObjId + 1, rec)))
            .collect()
    }

    /// Forget every object and report (for a kernel used again).
    pub(crate) fn clear(&mut self) {
        let r = self.records.get_mut();
        r.sites.clear();
        r.tys.clear();
        r.types.clear();
        self.reports.get_mut().clear();
    }

    pub fn count(&self) -> usize {
        self.records.lock_quiet().sites.len()
    }
}
