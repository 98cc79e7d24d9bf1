//! A rate limit per key (a client address) over fixed windows, in memory: it slows down one
//! source that tries many accounts, which the per-account [`crate::Lockout`] does not see.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::token::Millis;

/// At most `limit` events per key in each window of `window_ms`.
#[derive(Debug)]
pub struct RateLimit {
    limit: u32,
    window_ms: Millis,
    seen: Mutex<HashMap<String, (Millis, u32)>>,
}

impl RateLimit {
    pub fn new(limit: u32, window_ms: Millis) -> RateLimit {
        RateLimit {
            limit,
            window_ms,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an event for `key`; `Err` holds when the key may try again.
    pub fn hit(&self, key: &str, now: Millis) -> Result<(), Millis> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() > 100_000 {
            let window = self.window_ms;
            seen.retain(|_, (start, _)| now - *start < window);
        }
        let entry = seen.entry(key.to_owned()).or_insert((now, 0));
        if now - entry.0 >= self.window_ms {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit {
            return Err(entry.0 + self.window_ms);
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_held_to_its_limit_until_the_window_ends() {
        let limit = RateLimit::new(3, 1000);
        for _ in 0..3 {
            assert!(limit.hit("a", 0).is_ok());
        }
        assert_eq!(limit.hit("a", 10), Err(1000));
        assert!(limit.hit("b", 10).is_ok(), "keys are apart");
        assert!(limit.hit("a", 1000).is_ok(), "a new window");
    }
}
