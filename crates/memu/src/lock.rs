//! A small spin-then-yield lock with explicit unlock.
//!
//! std's Mutex cannot be held across fork() from a pthread_atfork prepare
//! handler and released in the parent and child handlers; this one can. Hold
//! times are microseconds (one fault or one batch's bookkeeping), so spinning
//! with sched_yield is adequate and never touches the program's memory.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

pub struct Lock<T> {
    held: AtomicBool,
    data: UnsafeCell<T>,
}
unsafe impl<T: Send> Send for Lock<T> {}
unsafe impl<T: Send> Sync for Lock<T> {}

pub struct Guard<'a, T> {
    lock: &'a Lock<T>,
}

impl<T> Lock<T> {
    pub const fn new(v: T) -> Self {
        Lock { held: AtomicBool::new(false), data: UnsafeCell::new(v) }
    }
    pub fn raw_lock(&self) {
        let mut spins = 0u32;
        while self.held.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            spins += 1;
            if spins < 200 {
                std::hint::spin_loop();
            } else {
                unsafe { libc::sched_yield() };
            }
        }
    }
    /// Take the lock if it is free; true if taken (release with `raw_unlock`).
    pub fn try_raw_lock(&self) -> bool {
        self.held.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }
    /// # Safety
    /// Only after `raw_lock` by this logical owner (fork handlers).
    pub unsafe fn raw_unlock(&self) {
        self.held.store(false, Ordering::Release);
    }
    pub fn lock(&self) -> Guard<'_, T> {
        self.raw_lock();
        Guard { lock: self }
    }
    /// # Safety
    /// Caller holds the lock through `raw_lock`.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn get_mut_unchecked(&self) -> &mut T {
        &mut *self.data.get()
    }
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        unsafe { &*self.lock.data.get() }
    }
}
impl<T> DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        unsafe { &mut *self.lock.data.get() }
    }
}
impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        self.lock.held.store(false, Ordering::Release);
    }
}
