// SPDX-License-Identifier: MPL-2.0
//! Brute-force protection for sign-in: failed attempts per email in a window.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed sign-ins allowed per email within [`LoginLimiter::window`].
pub const MAX_FAILURES: usize = 10;

/// Counts failed sign-ins per email; in memory, so per server process.
#[derive(Debug)]
pub struct LoginLimiter {
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self::new(Duration::from_secs(15 * 60))
    }
}

impl LoginLimiter {
    pub fn new(window: Duration) -> Self {
        LoginLimiter { window, failures: Mutex::new(HashMap::new()) }
    }

    /// Seconds to wait before `email` may try again, if it is locked out.
    pub fn retry_after(&self, email: &str) -> Option<u64> {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let list = failures.get_mut(email)?;
        while list.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
            list.pop_front();
        }
        if list.is_empty() {
            failures.remove(email);
            return None;
        }
        (list.len() >= MAX_FAILURES).then(|| {
            let oldest = *list.front().expect("not empty");
            (self.window.saturating_sub(now.duration_since(oldest))).as_secs().max(1)
        })
    }

    pub fn failed(&self, email: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let list = failures.entry(email.to_string()).or_default();
        list.push_back(Instant::now());
        // Bounded memory per email.
        while list.len() > MAX_FAILURES {
            list.pop_front();
        }
    }

    pub fn succeeded(&self, email: &str) {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(email);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_and_unlocks_after_the_window() {
        let limiter = LoginLimiter::new(Duration::from_millis(200));
        for _ in 0..MAX_FAILURES - 1 {
            limiter.failed("a@b.org");
        }
        assert_eq!(limiter.retry_after("a@b.org"), None);
        limiter.failed("a@b.org");
        assert!(limiter.retry_after("a@b.org").is_some());
        assert_eq!(limiter.retry_after("c@d.org"), None, "other emails unaffected");
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(limiter.retry_after("a@b.org"), None);
    }

    #[test]
    fn success_clears_the_count() {
        let limiter = LoginLimiter::default();
        for _ in 0..MAX_FAILURES - 1 {
            limiter.failed("a@b.org");
        }
        limiter.succeeded("a@b.org");
        limiter.failed("a@b.org");
        assert_eq!(limiter.retry_after("a@b.org"), None);
    }
}
