//! ddclab-memu: a user-space remote-memory emulator on userfaultfd.
//!
//! This library is the LD_PRELOAD shim (libddclab_memu.so). Preloaded into an
//! unmodified program with `DDCLAB_MEMU=1`, it registers the program's private
//! anonymous memory with userfaultfd, keeps at most a budget of pages local
//! (evictor.rs), serves misses from a remote store after a modelled network
//! delay (fault.rs, netmodel.rs), and records counters (stats.rs) and a trace
//! of remote traffic (trace.rs). docs/emulator.md describes the design and
//! what is not emulated.

// Every allocation of the shim comes from its private arena (see alloc.rs).
#[global_allocator]
static ALLOC: alloc::Arena = alloc::Arena;

pub mod alloc;
pub mod blade;
pub mod blade_proto;
pub mod config;
pub mod emu;
pub mod evict;
pub mod fault;
pub mod lock;
pub mod netmodel;
pub mod pages;
pub mod preload;
pub mod region;
pub mod slots;
pub mod stats;
pub mod store;
pub mod sys;
pub mod trace;
pub mod uffd;
