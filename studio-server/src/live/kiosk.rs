// SPDX-License-Identifier: MPL-2.0
//! The staff PIN that leaves a kiosk, checked by the server: the page never
//! holds it, so a visitor at the screen cannot read it out of the browser.
//! Wrong guesses slow down: after a few, each next try waits twice as long.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Wrong PINs allowed before tries are spaced out.
const FREE_TRIES: u32 = 3;
/// Longest wait between two tries.
const MAX_WAIT: Duration = Duration::from_secs(300);

/// Why leaving was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LeaveError {
    #[error("no staff PIN was set for this kiosk; its owner sets one (`kiosk_pin`)")]
    NoPin,
    #[error("wrong PIN")]
    Wrong,
    #[error("too many wrong PINs; try again in {} s", .0.as_secs().max(1))]
    Throttled(Duration),
}

/// A kiosk's PIN (kept as a digest) and its wrong tries.
#[derive(Debug, Default)]
pub struct KioskLock {
    state: Mutex<LockState>,
}

#[derive(Debug, Default)]
struct LockState {
    digest: Option<[u8; 32]>,
    failures: u32,
    next_try: Option<Instant>,
}

/// A staff PIN is 4 to 12 digits.
pub fn valid_pin(pin: &str) -> bool {
    (4..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit())
}

impl KioskLock {
    /// Sets (or with `None` clears) the PIN; the count of wrong tries starts again.
    pub fn set(&self, pin: Option<&str>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        *state = LockState { digest: pin.map(digest), ..LockState::default() };
    }

    pub fn is_set(&self) -> bool {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).digest.is_some()
    }

    /// Checks `attempt` in constant time; the whole check holds the lock, so parallel
    /// guesses are counted one by one.
    pub fn check(&self, attempt: &str) -> Result<(), LeaveError> {
        self.check_at(attempt, Instant::now())
    }

    fn check_at(&self, attempt: &str, now: Instant) -> Result<(), LeaveError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let expected = state.digest.ok_or(LeaveError::NoPin)?;
        if let Some(next) = state.next_try.filter(|next| *next > now) {
            return Err(LeaveError::Throttled(next - now));
        }
        if bool::from(digest(attempt).ct_eq(&expected)) {
            state.failures = 0;
            state.next_try = None;
            return Ok(());
        }
        state.failures += 1;
        if state.failures >= FREE_TRIES {
            let doublings = (state.failures - FREE_TRIES).min(16);
            let wait = Duration::from_secs(1u64 << doublings).min(MAX_WAIT);
            state.next_try = Some(now + wait);
        }
        Err(LeaveError::Wrong)
    }
}

fn digest(pin: &str) -> [u8; 32] {
    Sha256::digest(pin.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pin_is_checked_and_wrong_tries_are_spaced_out() {
        let lock = KioskLock::default();
        let t0 = Instant::now();
        assert_eq!(lock.check_at("2468", t0), Err(LeaveError::NoPin));
        lock.set(Some("2468"));
        assert_eq!(lock.check_at("2468", t0), Ok(()));
        for _ in 0..FREE_TRIES {
            assert_eq!(lock.check_at("1111", t0), Err(LeaveError::Wrong));
        }
        // Even the right PIN waits its turn once tries are spaced out.
        assert!(matches!(lock.check_at("2468", t0), Err(LeaveError::Throttled(_))));
        let later = t0 + Duration::from_secs(1);
        assert_eq!(lock.check_at("1111", later), Err(LeaveError::Wrong));
        assert_eq!(
            lock.check_at("2468", later + Duration::from_secs(1)),
            Err(LeaveError::Throttled(Duration::from_secs(1)))
        );
        assert_eq!(lock.check_at("2468", later + Duration::from_secs(2)), Ok(()));
        assert_eq!(lock.check_at("1111", later + Duration::from_secs(2)), Err(LeaveError::Wrong), "success resets");
    }

    #[test]
    fn pins_are_four_to_twelve_digits() {
        assert!(valid_pin("2468") && valid_pin("123456789012"));
        assert!(!valid_pin("123") && !valid_pin("12a4") && !valid_pin("1234567890123"));
    }
}
