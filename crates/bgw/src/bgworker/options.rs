//! A registration's options beyond the spec's struct (restart policies, start timeouts): their safe form
//! ([`RunOptions`]) and the plain-data form a slot carries beside the spec's `BackgroundWorker`
//! ([`SlotRegistration`]).
//!
//! Every field's zero means "as the spec does": a registration that asks for none of these behaves exactly as
//! PostgreSQL's (a fixed restart interval, no start timeout, never giving up). The postmaster reads the
//! plain-data form from shared memory like the rest of a slot: any bit pattern is a value, and
//! [`RunOptions::sanitized_from`] bounds every number.
//!
//! Runs in: every process (registrants build it, the postmaster adopts it, views show it).

use super::types::BackgroundWorker;
use std::time::Duration;

/// Exponential backoff between restarts: the first restart after `initial`, each next one `factor` times
/// longer, at most `max`, each spread by up to `jitter` either way. Factor and jitter in thousandths (a factor of
/// 2 is 2000, a jitter of 10% is 100), so that a registration compares exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub factor_milli: u32,
    pub jitter_milli: u32,
}

/// The give-up rule: more than `restarts` restarts within `window` and the worker is not restarted again (state
/// `failed`) until reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GiveUp {
    pub restarts: u32,
    pub window: Duration,
}

/// A registration's options beyond the spec's struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunOptions {
    pub backoff: Option<Backoff>,
    pub give_up: Option<GiveUp>,
}

/// The longest duration an option takes (the host's timers count in u32 milliseconds).
pub const MAX_OPTION_MS: u64 = i32::MAX as u64;

/// The plain-data options in a slot (all integers: valid for every bit pattern). Zero: not asked for.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawRunOptions {
    pub backoff_initial_ms: u32,
    pub backoff_max_ms: u32,
    /// The factor in thousandths (2000: twice as long each time).
    pub backoff_factor_milli: u32,
    /// The jitter in thousandths (100: up to 10% either way).
    pub backoff_jitter_milli: u32,
    pub give_up_restarts: u32,
    pub give_up_window_ms: u32,
    /// Reserved for options to come (zero).
    pub reserved: [u32; 6],
}

/// What a slot holds: the spec's struct and the host's own options.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SlotRegistration {
    pub worker: BackgroundWorker,
    pub options: RawRunOptions,
}

// SAFETY: a BackgroundWorker (integers and byte arrays) and integers: every bit pattern is a valid value.
unsafe impl super::slots::SlotPayload for SlotRegistration {
    fn is_parallel(&self) -> bool {
        self.worker.bgw_flags & super::types::BGWORKER_CLASS_PARALLEL != 0
    }
}

fn ms(d: Duration) -> u32 {
    d.as_millis().min(MAX_OPTION_MS as u128) as u32
}

impl RunOptions {
    /// The plain-data form.
    pub fn to_raw(&self) -> RawRunOptions {
        let mut raw = RawRunOptions::default();
        if let Some(b) = self.backoff {
            raw.backoff_initial_ms = ms(b.initial).max(1);
            raw.backoff_max_ms = ms(b.max).max(raw.backoff_initial_ms);
            raw.backoff_factor_milli = b.factor_milli.clamp(1000, 1_000_000);
            raw.backoff_jitter_milli = b.jitter_milli.min(1000);
        }
        if let Some(g) = self.give_up {
            raw.give_up_restarts = g.restarts;
            raw.give_up_window_ms = ms(g.window).max(1);
        }
        raw
    }

    /// The options a slot's bytes say, bounded: anything is accepted, nothing absurd comes out.
    pub fn sanitized_from(raw: &RawRunOptions) -> RunOptions {
        let backoff = (raw.backoff_initial_ms != 0).then(|| {
            let initial = raw.backoff_initial_ms.min(MAX_OPTION_MS as u32);
            Backoff {
                initial: Duration::from_millis(initial as u64),
                max: Duration::from_millis(raw.backoff_max_ms.clamp(initial, MAX_OPTION_MS as u32) as u64),
                factor_milli: raw.backoff_factor_milli.clamp(1000, 1_000_000),
                jitter_milli: raw.backoff_jitter_milli.min(1000),
            }
        });
        let give_up = (raw.give_up_window_ms != 0).then(|| GiveUp {
            restarts: raw.give_up_restarts,
            window: Duration::from_millis(raw.give_up_window_ms.min(MAX_OPTION_MS as u32) as u64),
        });
        RunOptions { backoff, give_up }
    }

    /// Checks what a registrant asked for, with the spec's style of messages.
    pub fn check(&self, name: &str) -> Result<(), super::types::RegistrationError> {
        let invalid = |what: &str| super::types::RegistrationError {
            sqlstate: "22023",
            message: format!("background worker \"{name}\": {what}"),
            detail: None,
            hint: None,
        };
        if let Some(b) = self.backoff {
            let max = Duration::from_millis(MAX_OPTION_MS);
            if b.initial.is_zero() || b.initial > max || b.max > max {
                return Err(invalid("invalid backoff interval"));
            }
            if b.max < b.initial {
                return Err(invalid("the backoff maximum is shorter than its initial interval"));
            }
            if !(1000..=1_000_000).contains(&b.factor_milli) {
                return Err(invalid("the backoff factor must be between 1 and 1000"));
            }
            if b.jitter_milli > 1000 {
                return Err(invalid("the backoff jitter must be between 0 and 1"));
            }
        }
        if let Some(g) = self.give_up {
            if g.window.is_zero() || g.window > Duration::from_millis(MAX_OPTION_MS) {
                return Err(invalid("invalid give-up window"));
            }
        }
        Ok(())
    }

    /// The delay before restart number `n` (1 for the first after a failure) under the backoff, before jitter;
    /// None without a backoff (the spec's fixed interval applies).
    pub fn backoff_delay(&self, n: u32) -> Option<Duration> {
        let b = self.backoff?;
        let factor = b.factor_milli as f64 / 1000.0;
        let grown = b.initial.as_secs_f64() * factor.powi(n.saturating_sub(1).min(1000) as i32);
        Some(Duration::from_secs_f64(grown.min(b.max.as_secs_f64())))
    }
}
