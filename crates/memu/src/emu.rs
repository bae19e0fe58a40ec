//! The emulator instance of one process: its userfaultfd, page table, store,
//! network model, counters and the two service threads.

use crate::config::{BackendKind, Config, ServiceCpu};
use crate::lock::Lock;
use crate::netmodel::NetModel;
use crate::pages::{PageTable, State};
use crate::stats::{Counter, Stats};
use crate::store::{InProc, Store};
use crate::trace::Trace;
use crate::uffd::{self, PageRegion, PAGE};
use crate::{region, sys};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};

pub struct Core {
    pub pt: PageTable,
    pub store: Store,
    pub net: NetModel,
}

pub struct Emu {
    pub uffd: i32,
    /// The userfaultfd evictions move pages with: the in-process store's own
    /// (see store.rs), or `uffd` for a blade's staging area.
    pub store_uffd: i32,
    pub store_uffd_id: Option<(u64, u64)>,
    /// (device, inode) of the userfaultfd, to tell whether `uffd` still
    /// refers to it (the program may close it: see `lose_uffd`).
    pub uffd_id: (u64, u64),
    /// Emulation has stopped for good: the program closed the userfaultfd.
    /// The service threads touch nothing of the program's any more.
    pub off: AtomicBool,
    /// The service threads have descriptor tables of their own (see
    /// `private_fd_table`) and the program's table holds none of the
    /// emulator's descriptors but `req.fd`.
    pub private_fds: AtomicBool,
    /// Service threads that have set up their descriptor table; a thread
    /// that could not sets `fd_unshare_failed`.
    threads_ready: AtomicU32,
    fd_unshare_failed: AtomicBool,
    pub reg_mode: u64,
    pub cfg: Config,
    pub core: Lock<Core>,
    /// Blade connections (blade backends only), usable without the core lock.
    pub blade: Option<crate::blade::BladeConns>,
    /// Held by the evictor for a whole batch and by fork's prepare handler, so
    /// no page is ever half-way to the store when the address space is copied.
    pub fork_lock: Lock<()>,
    pub stats: Stats,
    pub trace: Option<Trace>,
    /// Futex word the handler bumps to wake the evictor.
    pub evict_word: AtomicU32,
    /// The evictor is (about to be) asleep; only then is a futex wake needed,
    /// which keeps that syscall off the fault path.
    pub evictor_idle: AtomicBool,
    /// eventfd the evictor signals when it freed room and `room_waiters` is
    /// set (faults are waiting for room): the handler sleeps on it.
    pub room_fd: i32,
    pub room_waiters: AtomicBool,
    /// The evictor found nothing it can evict (every local page pinned or
    /// shared with a fork child): faults waiting for room overshoot at once.
    pub evict_stuck: AtomicBool,
    pub batch_seq: AtomicU64,
    pub pagemap_fd: i32,
    pub pagemap_id: Option<(u64, u64)>,
    /// Shim-private ranges never registered (arena, store).
    pub exclude: Vec<(u64, u64)>,
    pub zero_page: u64,
    pub wake_mark: u64,
    pub target_mark: u64,
    /// Print events on stderr (DDCLAB_MEMU_DEBUG=1).
    pub debug: bool,
    /// Work the interposed calls hand to the handler thread (see `request`).
    pub req: Requests,
}

/// What a program thread asks the handler thread to do (see `Emu::request`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Req {
    /// Register [a, b) (a new private anonymous mmap).
    Register(u64, u64),
    /// Rescan /proc/self/maps unless [a, b) is registered (large malloc).
    Check(u64, u64),
    /// Rescan /proc/self/maps (brk/sbrk).
    Rescan,
    /// mremap moved or resized `old` to [new, end).
    Remap { old: u64, new: u64, end: u64 },
    /// Bring every remote page home (fork's prepare handler).
    FetchAll,
}

/// One request at a time: a requester holds `lock` for the round trip.
pub struct Requests {
    lock: Lock<Option<Req>>,
    /// Set when a request is waiting; the handler takes it.
    pending: AtomicBool,
    /// Futex word: bumped by the handler when a request is served.
    done: AtomicU32,
    /// eventfd that wakes the handler from its poll.
    pub fd: i32,
    /// Thread id of the handler thread (0 until it runs).
    pub handler_tid: std::sync::atomic::AtomicI32,
    /// The program closed its copy of `fd`: requests are not signalled, the
    /// handler polls for them.
    pub fd_lost: AtomicBool,
}

static EMU: AtomicPtr<Emu> = AtomicPtr::new(std::ptr::null_mut());
pub static ACTIVE: AtomicBool = AtomicBool::new(false);

pub fn get() -> Option<&'static Emu> {
    let p = EMU.load(Ordering::Acquire);
    if p.is_null() || !ACTIVE.load(Ordering::Acquire) {
        None
    } else {
        Some(unsafe { &*p })
    }
}

fn die(msg: &str) -> ! {
    sys::write_all(2, format!("ddclab-memu: {msg}\n").as_bytes());
    unsafe { libc::_exit(125) }
}

/// Watermarks: the evictor wakes above `wake` and evicts down to `target`,
/// leaving headroom so faults rarely have to wait for room.
///
/// The headroom is sized in pages, not as a share of the budget: it has to
/// absorb a burst of faults (each brings in a readahead cluster) while the
/// evictor wakes, and two batches do that (a budget/32 gap stalled about as much).
/// At most an eighth of the budget, so that small budgets keep most of it.
/// A share-sized gap made the resident set hover 3-6% under the budget, so
/// "75% local" ran with ~71%: 10-26% more remote faults than a full budget.
pub fn watermarks(budget: u64, batch: u64) -> (u64, u64) {
    if budget == u64::MAX {
        return (u64::MAX, u64::MAX);
    }
    let gap = (2 * batch).max(budget / 256).min(budget / 8).max(1);
    (budget.saturating_sub(gap), budget.saturating_sub(2 * gap))
}

/// Set up the emulator for this process and start its threads.
pub fn start(cfg: Config) {
    let mut features = uffd::FEATURE_EVENT_REMAP
        | uffd::FEATURE_EVENT_REMOVE
        | uffd::FEATURE_EVENT_UNMAP
        | uffd::FEATURE_THREAD_ID
        | uffd::FEATURE_MOVE;
    if cfg.dirty_tracking {
        features |= uffd::FEATURE_WP_ASYNC | uffd::FEATURE_WP_UNPOPULATED;
    }
    let (fd, got) = match uffd::open(features) {
        Ok((fd, got)) => (sys::high_fd(fd), got),
        Err(e) => die(&format!("userfaultfd unavailable (errno {e}); the emulator needs root or vm.unprivileged_userfaultfd=1")),
    };
    if got & uffd::FEATURE_MOVE == 0 {
        die("this kernel lacks UFFDIO_MOVE (needs Linux >= 6.8)");
    }
    let dirty = cfg.dirty_tracking && got & uffd::FEATURE_WP_ASYNC != 0;
    let reg_mode = uffd::REGISTER_MODE_MISSING | if dirty { uffd::REGISTER_MODE_WP } else { 0 };
    let store = match cfg.backend {
        BackendKind::InProc => match InProc::new() {
            Ok(s) => Store::InProc(s),
            Err(e) => die(&format!("cannot create the in-process store (errno {e})")),
        },
        _ => match crate::blade::BladeStore::new(fd, reg_mode) {
            Ok(b) => Store::Blade(b),
            Err(e) => die(&e),
        },
    };
    let blade = match cfg.backend {
        BackendKind::InProc => None,
        _ => match crate::blade::BladeConns::connect(&cfg) {
            Ok(c) => Some(c),
            Err(e) => die(&format!("cannot reach the memory blade {}: {e}", cfg.backend_addr)),
        },
    };
    let store_uffd = match &store {
        Store::InProc(s) => s.uffd,
        Store::Blade(_) => fd,
    };
    let mut exclude = vec![crate::alloc::range()];
    exclude.extend(store.exclude_range());
    let stats = Stats::open(cfg.stats_dir.as_deref());
    let budget = cfg.local_pages;
    stats.set(Counter::Budget, if budget == u64::MAX { 0 } else { budget });
    stats.set(Counter::StartNs, sys::now_ns());
    let trace = cfg.trace_dir.as_deref().and_then(|d| Trace::open(d, cfg.trace_capacity));
    let pagemap_fd = sys::high_fd(unsafe { libc::open(c"/proc/self/pagemap".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) });
    let uffd_id = sys::file_id(fd).unwrap_or_else(|| die("cannot stat the userfaultfd"));
    let zero: Box<[u8]> = vec![0u8; PAGE as usize].into_boxed_slice();
    let zero_page = Box::leak(zero).as_ptr() as u64;
    let (wake_mark, target_mark) = watermarks(budget, cfg.evict_batch as u64);
    let net = NetModel::new(cfg.model.clone());
    let emu = Box::new(Emu {
        uffd: fd,
        store_uffd,
        store_uffd_id: sys::file_id(store_uffd),
        uffd_id,
        off: AtomicBool::new(false),
        private_fds: AtomicBool::new(false),
        threads_ready: AtomicU32::new(0),
        fd_unshare_failed: AtomicBool::new(false),
        reg_mode,
        core: Lock::new(Core { pt: PageTable::default(), store, net }),
        blade,
        fork_lock: Lock::new(()),
        stats,
        trace,
        evict_word: AtomicU32::new(0),
        evictor_idle: AtomicBool::new(true),
        room_fd: sys::high_fd(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) }),
        room_waiters: AtomicBool::new(false),
        evict_stuck: AtomicBool::new(false),
        batch_seq: AtomicU64::new(0),
        pagemap_fd,
        pagemap_id: sys::file_id(pagemap_fd),
        exclude,
        zero_page,
        wake_mark,
        target_mark,
        debug: std::env::var_os("DDCLAB_MEMU_DEBUG").is_some(),
        req: Requests {
            lock: Lock::new(None),
            pending: AtomicBool::new(false),
            done: AtomicU32::new(0),
            fd: sys::high_fd(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) }),
            handler_tid: std::sync::atomic::AtomicI32::new(0),
            fd_lost: AtomicBool::new(false),
        },
        cfg,
    });
    let emu: &'static Emu = Box::leak(emu);
    EMU.store(emu as *const Emu as *mut Emu, Ordering::Release);
    // Threads first (their stacks come from the private arena), then register:
    // nothing the service threads touch may ever be registered.
    spawn(crate::fault::handler_main);
    spawn(crate::evict::evictor_main);
    {
        let mut core = emu.core.lock();
        emu.rescan(&mut core);
    }
    // Once both service threads hold their own copies, the program's table
    // keeps only the request eventfd: the program can then close any
    // descriptor it likes without touching the emulator.
    while emu.threads_ready.load(Ordering::Acquire) < 2 {
        unsafe { libc::sched_yield() };
    }
    if !emu.fd_unshare_failed.load(Ordering::Acquire) {
        for fd in emu.own_fds() {
            if fd != emu.req.fd {
                unsafe { libc::close(fd) };
            }
        }
        emu.private_fds.store(true, Ordering::Release);
    }
    ACTIVE.store(true, Ordering::Release);
}

/// Give the calling service thread a descriptor table of its own holding
/// only the emulator's descriptors; false if the kernel refuses (e.g. a
/// seccomp filter that forbids unshare).
///
/// Why: programs close descriptors they did not open -- the JDK's
/// jspawnhelper closes every descriptor above 2 before it execs the child
/// of every process a JVM starts, daemons and Python's subprocess (in a
/// forked child) do the same. Closing the last descriptor of a userfaultfd
/// releases it: the kernel unregisters every range, and pages parked in the
/// store come back as zeros. With a private table the service threads keep
/// the userfaultfd (and the eventfds, /proc/self/pagemap, the blade
/// connections) open whatever the program closes, and a number the program
/// reuses is never the emulator's. (Holding it in poll() is not enough: poll
/// drops its reference when it returns, which is when the release happens.)
fn private_fd_table(emu: &Emu) -> bool {
    if emu.cfg.shared_fds || unsafe { libc::unshare(libc::CLONE_FILES) } != 0 {
        return false;
    }
    // The copy also holds the program's descriptors of this moment; drop
    // them, or a pipe the program closes would never see its end.
    let mut keep = emu.own_fds();
    keep.sort_unstable();
    let mut from: u32 = 3;
    for k in keep.into_iter().filter(|&k| k >= 3).map(|k| k as u32) {
        if k > from {
            unsafe { libc::syscall(libc::SYS_close_range, from, k - 1, 0u32) };
        }
        from = from.max(k + 1);
    }
    unsafe { libc::syscall(libc::SYS_close_range, from, u32::MAX, 0u32) };
    true
}

extern "C" fn thread_entry(f: *mut libc::c_void) -> *mut libc::c_void {
    // Process-directed signals must go to the program's threads: its handlers
    // may touch emulated memory, which this thread would then wait on forever.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let f: fn(&'static Emu) = std::mem::transmute(f);
        let emu = &*EMU.load(Ordering::Acquire);
        if !private_fd_table(emu) {
            emu.fd_unshare_failed.store(true, Ordering::Release);
        }
        emu.threads_ready.fetch_add(1, Ordering::AcqRel);
        pin_service_thread(&emu.cfg);
        f(emu);
    }
    std::ptr::null_mut()
}

/// Pin the calling service thread (see `ServiceCpu`). A CPU the kernel
/// refuses (offline, outside the cpuset) leaves the thread unpinned: the
/// setting is a placement hint, and the program must run whatever the machine.
fn pin_service_thread(cfg: &Config) {
    unsafe {
        let cpu = match cfg.service_cpu {
            ServiceCpu::None => return,
            // Named explicitly, it may lie outside the program's own CPUs
            // (`--program-cpus rest` confines the program to the others).
            ServiceCpu::Cpu(n) => n, // below CPU_SETSIZE: checked by the config
            // A spinning handler never yields its CPU: pinned next to it, the
            // evictor would wait whole time slices (20 ms p99 fault cost).
            ServiceCpu::Auto if cfg.spin => return,
            ServiceCpu::Auto => {
                let mut allowed: libc::cpu_set_t = std::mem::zeroed();
                if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut allowed) != 0
                    || libc::CPU_COUNT(&allowed) < 2
                {
                    return;
                }
                match (0..libc::CPU_SETSIZE as usize).rev().find(|&c| libc::CPU_ISSET(c, &allowed)) {
                    Some(c) => c,
                    None => return,
                }
            }
        };
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut one);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one);
    }
}

fn spawn(f: fn(&'static Emu)) {
    const STACK: usize = 1 << 20;
    unsafe {
        let layout = std::alloc::Layout::from_size_align_unchecked(STACK, 4096);
        let stack = std::alloc::alloc(layout);
        if stack.is_null() {
            die("cannot allocate a service-thread stack");
        }
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        libc::pthread_attr_init(&mut attr);
        libc::pthread_attr_setstack(&mut attr, stack as *mut libc::c_void, STACK);
        let mut tid: libc::pthread_t = 0;
        let rc = libc::pthread_create(&mut tid, &attr, thread_entry, f as *mut libc::c_void);
        libc::pthread_attr_destroy(&mut attr);
        if rc != 0 {
            die(&format!("cannot start a service thread (error {rc})"));
        }
    }
}

impl Emu {
    /// Have the handler thread do `r` and wait until it is done.
    ///
    /// The interposed calls (mmap, mremap, large malloc, brk, fork) run on a
    /// program thread, whose stack may be emulated memory: glibc thread stacks
    /// are recognised and left local, but not every stack is (the JVM gives
    /// its threads glibc stacks without a glibc guard and commits its own
    /// guard zones with mmap/mprotect later, so a rescan can register a Java
    /// thread's stack as a plain anonymous mapping). Work done with the Core
    /// lock held on such a stack can fault on the stack itself, and that
    /// fault needs the handler, which needs the lock: deadlock (seen with
    /// every JVM start that created threads). So a program thread never holds
    /// the Core lock: it hands the work to the handler thread, whose stack
    /// lives in the shim's arena, and sleeps on a futex meanwhile (any fault
    /// on its own stack while it waits is served as usual). The handler never
    /// waits for the evictor or a program thread, so it always gets round to
    /// the request.
    pub fn request(&self, r: Req) {
        let me = unsafe { libc::gettid() };
        if self.req.handler_tid.load(Ordering::Acquire) == me {
            self.serve(r);
            return;
        }
        let mut slot = self.req.lock.lock();
        *slot = Some(r);
        let seen = self.req.done.load(Ordering::SeqCst);
        self.req.pending.store(true, Ordering::SeqCst);
        if self.program_req_fd_ok() {
            let one = 1u64;
            unsafe { libc::write(self.req.fd, &one as *const u64 as *const libc::c_void, 8) };
        } else {
            // The handler looks for requests at least every millisecond now.
            self.req.fd_lost.store(true, Ordering::SeqCst);
        }
        while self.req.done.load(Ordering::SeqCst) == seen {
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    self.req.done.as_ptr(),
                    libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                    seen,
                    std::ptr::null::<libc::timespec>(),
                );
            }
        }
        drop(slot);
    }

    /// Does `req.fd` in the program's descriptor table still refer to the
    /// handler's eventfd? The program may have closed it (and reused the
    /// number: writing 8 bytes there would corrupt one of its files).
    /// kcmp compares the two tables' entries; where it is unavailable the
    /// number is trusted (it is near the top of the table: see `high_fd`).
    fn program_req_fd_ok(&self) -> bool {
        if self.req.fd_lost.load(Ordering::Relaxed) {
            return false;
        }
        let handler = self.req.handler_tid.load(Ordering::Acquire);
        if !self.private_fds.load(Ordering::Acquire) || handler == 0 {
            return true;
        }
        const KCMP_FILE: i32 = 0;
        let me = unsafe { libc::gettid() };
        let r = unsafe { libc::syscall(libc::SYS_kcmp, me, handler, KCMP_FILE, self.req.fd, self.req.fd) };
        r == 0 || (r < 0 && sys::errno() != libc::EBADF)
    }

    /// Handler side of `request`: serve a waiting request, if any.
    pub fn serve_requests(&self) {
        if !self.req.pending.swap(false, Ordering::SeqCst) {
            return;
        }
        // The requester holds `req.lock` and wrote the slot before setting
        // `pending`; it does not touch the slot until `done` moves.
        let r = unsafe { *self.req.lock.get_mut_unchecked() };
        if let Some(r) = r {
            self.serve(r);
        }
        self.req.done.fetch_add(1, Ordering::SeqCst);
        unsafe {
            libc::syscall(libc::SYS_futex, self.req.done.as_ptr(), libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, i32::MAX);
        }
    }

    fn serve(&self, r: Req) {
        self.stats.add(Counter::Requests, 1);
        if self.off.load(Ordering::Acquire) {
            // A hook that passed the ACTIVE check just before emulation
            // stopped: nothing to register any more, but it must be answered.
            return;
        }
        let mut core = self.core.lock();
        match r {
            Req::Register(s, e) => self.register(&mut core, s, e),
            Req::Check(s, e) => {
                if !core.pt.is_registered(s) || !core.pt.is_registered(e.saturating_sub(1)) {
                    self.rescan(&mut core);
                }
            }
            Req::Rescan => self.rescan(&mut core),
            Req::Remap { old, new, end } => {
                if core.pt.is_registered(old) || core.pt.is_registered(new) {
                    // The kernel carried the registration over to the grown
                    // or moved mapping; record its new extent.
                    core.pt.add_region(new, end);
                }
            }
            Req::FetchAll => self.fetch_all(&mut core),
        }
    }

    /// Does `uffd` still refer to the emulator's userfaultfd? False once the
    /// program closed it (EBADF) or the number was reused for another file.
    pub fn uffd_intact(&self) -> bool {
        sys::file_id(self.uffd) == Some(self.uffd_id)
    }

    /// The program closed the userfaultfd (handler side; never returns).
    ///
    /// Closing the last reference releases the userfaultfd in the kernel:
    /// every range it registered is unregistered, threads waiting on a fault
    /// are woken, and from then on the memory behaves like any anonymous
    /// memory -- a missing page reads as zeros. That is harmless for pages
    /// the program never wrote (first touches) and for local pages, but the
    /// contents of a remote page live only in the store: the program would
    /// silently compute with zeros in their place. So: with no page remote,
    /// stop emulating and let the program run on natively (counted as
    /// `uffd_closed`); with pages remote, stop the program with a one-line
    /// message. Nothing becomes remote after the close (only the evictor's
    /// UFFDIO_MOVE makes a page remote, and it fails on a closed
    /// descriptor), so the count taken here is the count at the close.
    ///
    /// This is how programs that close every descriptor above 2 keep working
    /// (the JDK's jspawnhelper did, before the exec of every process a JVM
    /// starts: the handler used to exit 125 on the failed read).
    pub fn lose_uffd(&self) -> ! {
        self.off.store(true, Ordering::SeqCst);
        ACTIVE.store(false, Ordering::SeqCst);
        // Recorded first: a program that closes every descriptor usually
        // execs right after, and the exec may end this thread at any point.
        self.stats.set(Counter::UffdClosed, 1);
        self.wake_evictor();
        // Wait out an eviction batch in flight (it holds fork_lock), still
        // answering hooks: fork's prepare handler holds fork_lock while it
        // waits for its request.
        while !self.fork_lock.try_raw_lock() {
            self.serve_requests();
            sys::sleep_ns(1_000_000);
        }
        let remote = {
            let core = self.core.lock();
            core.pt.pages.values().filter(|p| matches!(p.state, State::Remote | State::Fetching | State::Evicting)).count()
        };
        unsafe { self.fork_lock.raw_unlock() };
        if remote > 0 {
            die(&format!(
                "the program closed the emulator's userfaultfd (descriptor {}) while {remote} of its pages were remote; \
                 their contents would be lost, so the program is stopped",
                self.uffd
            ));
        }
        if self.debug {
            sys::write_all(2, b"ddclab-memu: the program closed the userfaultfd; emulation stopped\n");
        }
        // Hooks that passed the ACTIVE check before it was cleared still wait
        // for an answer.
        loop {
            self.serve_requests();
            sys::sleep_ns(10_000_000);
        }
    }

    /// Every descriptor the emulator keeps open.
    pub fn own_fds(&self) -> Vec<i32> {
        let mut v = vec![self.uffd, self.room_fd, self.req.fd];
        if self.store_uffd != self.uffd {
            v.push(self.store_uffd);
        }
        if self.pagemap_fd >= 0 {
            v.push(self.pagemap_fd);
        }
        if let Some(b) = &self.blade {
            v.extend(b.fds());
        }
        v
    }

    pub fn budget(&self) -> u64 {
        self.cfg.local_pages
    }

    pub fn is_own(&self, addr: u64) -> bool {
        self.exclude.iter().any(|&(s, e)| addr >= s && addr < e)
    }

    /// Tell a waiting handler that the evictor made room.
    pub fn signal_room(&self) {
        if self.room_waiters.swap(false, Ordering::SeqCst) {
            let one = 1u64;
            unsafe { libc::write(self.room_fd, &one as *const u64 as *const libc::c_void, 8) };
        }
    }

    pub fn wake_evictor(&self) {
        self.evict_word.fetch_add(1, Ordering::SeqCst);
        if !self.evictor_idle.swap(false, Ordering::SeqCst) {
            return;
        }
        unsafe {
            libc::syscall(libc::SYS_futex, self.evict_word.as_ptr(), libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, 1);
        }
    }

    /// Register [start, end) and account for pages already present in it.
    pub fn register(&self, core: &mut Core, start: u64, end: u64) {
        if end <= start || uffd::register(self.uffd, start, end - start, self.reg_mode).is_err() {
            return;
        }
        core.pt.add_region(start, end);
        self.stats.add(Counter::Registered, (end - start) / PAGE);
        // Pages touched before registration are local and evictable like any other.
        if self.pagemap_fd >= 0 {
            let mut buf = [PageRegion::default(); 256];
            let mut at = start;
            while at < end {
                let Ok((n, walk_end)) =
                    uffd::pagemap_scan(self.pagemap_fd, at, end, 0, uffd::PAGE_IS_PRESENT, uffd::PAGE_IS_PRESENT, &mut buf)
                else {
                    break;
                };
                for r in &buf[..n] {
                    for vpn in r.start / PAGE..r.end / PAGE {
                        if !core.pt.pages.contains_key(&vpn) {
                            core.pt.insert_resident(vpn, false, true);
                            self.stats.add(Counter::LatePages, 1);
                        }
                    }
                }
                if walk_end <= at || walk_end >= end || n < buf.len() {
                    break;
                }
                at = walk_end;
            }
            self.note_resident(core);
        }
    }

    /// Register every candidate mapping not registered yet.
    pub fn rescan(&self, core: &mut Core) {
        let Some(text) = sys::read_file("/proc/self/maps") else { return };
        let maps = region::parse_maps(&String::from_utf8_lossy(&text));
        let mut exclude = self.exclude.clone();
        exclude.extend(core.pt.registered_ranges());
        for (s, e) in region::candidates(&maps, &exclude) {
            self.register(core, s, e);
        }
        self.stats.add(Counter::Rescans, 1);
    }

    /// Is the page at `addr` present? Read from /proc/self/pagemap (bit 63);
    /// None if that cannot be read.
    pub fn present(&self, addr: u64) -> Option<bool> {
        if self.pagemap_fd < 0 {
            return None;
        }
        let mut e = 0u64;
        let off = (addr / PAGE * 8) as libc::off_t;
        let n = unsafe { libc::pread(self.pagemap_fd, &mut e as *mut u64 as *mut libc::c_void, 8, off) };
        (n == 8).then_some(e >> 63 == 1)
    }

    /// Move one page from `src` to `dst` with UFFDIO_MOVE, waking threads
    /// waiting on `dst` if `wake`.
    ///
    /// The kernel's answer is checked when it is EEXIST: Linux 6.18's batched
    /// MOVE (`move_pages`) keeps the error of an internal retry (EAGAIN) across
    /// the next, successful iteration, goes round again, finds its own page at
    /// the destination and reports EEXIST with nothing moved -- although the
    /// page did move (and no waiter was woken). Taking that answer at face
    /// value desynchronised the page table from the address space: the victim
    /// was kept as local while it sat in a store slot, the slot went back to
    /// the free list full, and every later eviction into it failed. So an
    /// EEXIST whose destination is present and whose source is not counts as
    /// a move.
    ///
    /// A destination holding a uffd-wp marker (see `clear_marker`) is cleared
    /// and the move tried once more.
    pub fn move_page(&self, dst: u64, src: u64, wake: bool) -> Result<(), i32> {
        self.move_page_with(self.uffd, dst, src, wake)
    }

    /// `move_page` through `fd`, the userfaultfd `dst` is registered with.
    pub fn move_page_with(&self, fd: i32, dst: u64, src: u64, wake: bool) -> Result<(), i32> {
        let mut cleared = false;
        loop {
            let mode = if wake { 0 } else { uffd::MOVE_MODE_DONTWAKE };
            return match uffd::mv(fd, dst, src, PAGE, mode) {
                Ok(_) => Ok(()),
                Err((libc::EEXIST, _)) => match (self.present(dst), self.present(src)) {
                    (Some(true), Some(false)) => {
                        self.stats.add(Counter::MoveMisreports, 1);
                        if wake {
                            let _ = uffd::wake(fd, dst, PAGE);
                        }
                        Ok(())
                    }
                    (Some(false), _) if !cleared && fd == self.uffd => {
                        self.clear_marker(dst);
                        cleared = true;
                        continue;
                    }
                    _ => Err(libc::EEXIST),
                },
                Err((e, _)) => Err(e),
            };
        }
    }

    /// Remove a uffd-wp marker from the (non-present) page at `addr`.
    ///
    /// With asynchronous write protection of unpopulated memory
    /// (WP_UNPOPULATED), the evictor's PAGEMAP_SCAN with PM_SCAN_WP_MATCHING
    /// write-protects *empty* page-table entries in the scanned range too, by
    /// writing uffd-wp markers into them -- which happens when a victim was
    /// discarded by the program (MADV_DONTNEED, munmap) after it was chosen.
    /// A marker still reads as a missing page (faults arrive as MISSING), but
    /// UFFDIO_ZEROPAGE and UFFDIO_MOVE refuse to replace it (EEXIST), so the
    /// fault could never be served. Un-protecting the entry removes the
    /// marker. (UFFDIO_COPY does replace markers.)
    pub fn clear_marker(&self, addr: u64) {
        if self.reg_mode & uffd::REGISTER_MODE_WP != 0 {
            let _ = uffd::writeprotect(self.uffd, addr, PAGE, uffd::WP_MODE_DONTWAKE);
            self.stats.add(Counter::MarkersCleared, 1);
        }
    }

    pub fn note_resident(&self, core: &Core) {
        self.stats.set(Counter::Resident, core.pt.resident);
        self.stats.max(Counter::PeakResident, core.pt.resident);
        if core.pt.resident > self.wake_mark {
            self.wake_evictor();
        }
    }

    /// Bring every remote page home (before fork: the child's copy of the
    /// address space is not registered, so it must hold all the data).
    pub fn fetch_all(&self, core: &mut Core) {
        let vpns: Vec<u64> = core
            .pt
            .pages
            .iter()
            .filter(|(_, p)| matches!(p.state, State::Remote | State::Fetching))
            .map(|(&v, _)| v)
            .collect();
        for vpn in vpns {
            let slot = core.pt.pages[&vpn].slot;
            let mut r = crate::fault::install(self, core, vpn, slot, false);
            // EAGAIN: an unmap/remove event is being delivered; the handler
            // reads it without this lock, so it clears shortly.
            let mut tries = 0;
            while r == Err(libc::EAGAIN) && tries < 100_000 {
                unsafe { libc::sched_yield() };
                r = crate::fault::install(self, core, vpn, slot, false);
                tries += 1;
            }
            if let Ok(clean) = r {
                let p = core.pt.pages.get_mut(&vpn).unwrap();
                p.state = State::Resident;
                p.dirty |= !clean;
                core.pt.resident += 1;
                core.pt.clock.push_back(vpn);
                self.stats.add(Counter::ForkPrefetch, 1);
            }
        }
        self.note_resident(core);
    }
}

#[cfg(test)]
mod tests {
    use super::watermarks;

    #[test]
    fn headroom_is_two_batches_until_the_budget_is_large() {
        assert_eq!(watermarks(6720, 32), (6656, 6592));
        assert_eq!(watermarks(100_000, 32), (100_000 - 390, 100_000 - 780));
        assert_eq!(watermarks(256, 32), (224, 192)); // at most an eighth: small budgets keep most of their room
        assert_eq!(watermarks(100, 32), (88, 76));
        assert_eq!(watermarks(1, 32), (0, 0));
        assert_eq!(watermarks(u64::MAX, 32), (u64::MAX, u64::MAX));
    }
}
