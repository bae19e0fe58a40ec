//! Client side of the memory-blade backends (filled in below).

use crate::config::Config;

pub struct BladeClient {
    staging: (u64, u64),
}

impl BladeClient {
    pub fn connect(_cfg: &Config, _uffd: i32, _mode: u64) -> Result<BladeClient, String> {
        Err("blade backends are not available in this build".into())
    }
    pub fn staging_range(&self) -> (u64, u64) {
        self.staging
    }
    pub fn alloc(&mut self) -> Option<u64> {
        None
    }
    pub fn free_slot(&mut self, _slot: u64) {}
    pub fn fetch(&mut self, _uffd: i32, _slot: u64, _addr: u64, _mode: u64) -> Result<(), i32> {
        Err(libc::ENOSYS)
    }
    pub fn evict(&mut self, _uffd: i32, _addr: u64, _slot: u64, _dirty: bool) -> Result<(), i32> {
        Err(libc::ENOSYS)
    }
}
