//! The registry of re-introducible historical bugs (the book's architecture
//! chapter, "The historical-bug registry"; `config bug=NAME`, `--bug NAME`). Each entry names the bug, says in one
//! line what goes wrong, cites the Linux commit that fixed it, and names the
//! code path that changes. Kernel code asks [`BugSet::has`]; nothing else
//! branches on bugs.
//!
//! One kind of entry is not a Linux bug: a *tutorial toggle*
//! ([`BugInfo::tutorial`]), the deliberate mistake in the worked example of
//! the book's chapter "Modelling your own kernel code"
//! ([`crate::tutorial`]). It uses the same mechanism (`config bug=NAME`,
//! `--bug NAME`) so that the chapter shows exactly what a real bug toggle
//! is; `ksim bugs` says which entries are tutorial toggles.

/// A re-introducible bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Bug {
    EventfdSemaphoreUnderflow,
    EventfdInstallBeforeInit,
    EventfdCtxFreedWithFile,
    WatchQueuePostVsClear,
    WatchQueueFilterOob,
    UffdApiInitRace,
    UverbsGetContextUnregisteredRelease,
    TutorialMailboxLostWakeup,
}

pub struct BugInfo {
    pub bug: Bug,
    /// The name used in `config bug=NAME`.
    pub name: &'static str,
    /// One line: what goes wrong.
    pub summary: &'static str,
    /// The Linux commit that fixed it (hash prefix and subject); for a
    /// tutorial toggle, what the right version does instead.
    pub fix: &'static str,
    /// The simulator code path the toggle changes.
    pub path: &'static str,
    /// A deliberate mistake of the book's tutorial object, not a bug Linux
    /// had: `fix` then names no commit.
    pub tutorial: bool,
}

/// Every bug, in `ksim bugs` order.
pub const BUGS: &[BugInfo] = &[
    BugInfo {
        bug: Bug::EventfdSemaphoreUnderflow,
        name: "eventfd_semaphore_underflow",
        summary: "eventfd_ctx_remove_wait_queue on an EFD_SEMAPHORE eventfd with count 0 decrements it to ULLONG_MAX",
        fix: "758b49204781 \"eventfd: prevent underflow for eventfd semaphores\" (6.6)",
        path: "sim_kernel::eventfd::EventfdCtx::do_read",
        tutorial: false,
    },
    BugInfo {
        bug: Bug::EventfdInstallBeforeInit,
        name: "eventfd_install_before_init",
        summary: "eventfd() installs the fd before finishing the file (f_mode |= FMODE_NOWAIT): a racing close frees it first",
        fix: "(2009) \"anonfd: split interface into file creation and install\"; eventfd sets FMODE_NOWAIT before fd_install",
        path: "sim_kernel::eventfd::do_eventfd",
        tutorial: false,
    },
    BugInfo {
        bug: Bug::EventfdCtxFreedWithFile,
        name: "eventfd_ctx_freed_with_file",
        summary: "the eventfd context is freed with its file, ignoring in-kernel eventfd_ctx references",
        fix: "(2009) \"eventfd: revised interface and cleanups\" (ctx refcounted apart from the file)",
        path: "sim_kernel::eventfd::EventfdFile::release",
        tutorial: false,
    },
    BugInfo {
        bug: Bug::WatchQueuePostVsClear,
        name: "watch_queue_post_vs_clear",
        summary: "a notification post looks up the queue's pipe without wqueue->lock: the last close frees the pipe under it",
        fix: "353f7988dd84 \"watchqueue: make sure to serialize 'wqueue->defunct' properly\" (5.19)",
        path: "sim_kernel::watch_queue::post_to_queue, watch_queue_clear",
        tutorial: false,
    },
    BugInfo {
        bug: Bug::WatchQueueFilterOob,
        name: "watch_queue_filter_oob",
        summary: "IOC_WATCH_QUEUE_SET_FILTER counts filter types below 64 but copies types below 512: a heap overflow (CVE-2022-0995)",
        fix: "c993ee0f9f81 \"watch_queue: Fix filter limit check\" (5.17)",
        path: "sim_kernel::watch_queue::build_filter",
        tutorial: false,
    },
    BugInfo {
        bug: Bug::UffdApiInitRace,
        name: "uffd_api_init_race",
        summary: "two racing UFFDIO_API calls both succeed: the state is checked before the answer is written and set after",
        fix: "22e5fe2a2a27 \"userfaultfd: prevent concurrent API initialization\" (5.15; cmpxchg on ctx->features)",
        path: "sim_kernel::userfaultfd::UserfaultfdFile::api",
        tutorial: false,
    },
    BugInfo {
        bug: Bug::UverbsGetContextUnregisteredRelease,
        name: "uverbs_get_context_unregistered_release",
        summary: "GET_CONTEXT whose response copy faults releases its async event file as a set-up one: it unregisters a handler never registered and puts a uverbs-file reference never taken, freeing the file under its open fd",
        fix: "later kernels release an async file only as far as it was set up; 3.13's err_file path in ib_uverbs_get_context put the file, whose ib_uverbs_event_close did the whole async teardown (the fixing commit is not identified)",
        path: "sim_kernel::uverbs::uverbs_main::EventFops::release",
        tutorial: false,
    },
    // ANCHOR: tutorial
    BugInfo {
        bug: Bug::TutorialMailboxLostWakeup,
        name: "tutorial_mailbox_lost_wakeup",
        summary: "the tutorial mailbox's read drops its lock between finding the mailbox empty and queueing itself: a post in between wakes nobody and the reader sleeps for ever",
        fix: "check the condition and queue the sleeper in one section of the wait queue's lock (wait_event_interruptible_locked, include/linux/wait.h)",
        path: "sim_kernel::tutorial::mailbox::MailboxFile::read_into",
        tutorial: true,
    },
    // ANCHOR_END: tutorial
];

/// The set of bugs enabled for one execution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BugSet(u64);

impl BugSet {
    pub const NONE: BugSet = BugSet(0);

    #[inline]
    pub fn has(self, b: Bug) -> bool {
        self.0 & (1 << b as u8) != 0
    }

    pub fn with(self, b: Bug) -> BugSet {
        BugSet(self.0 | (1 << b as u8))
    }

    /// Enable a bug by its registry name; false if there is none.
    pub fn enable(&mut self, name: &str) -> bool {
        match lookup(name) {
            Some(info) => {
                *self = self.with(info.bug);
                true
            }
            None => false,
        }
    }
}

pub fn lookup(name: &str) -> Option<&'static BugInfo> {
    BUGS.iter().find(|b| b.name == name)
}
