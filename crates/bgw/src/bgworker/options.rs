//! A registration's options beyond the spec's struct (restart policies, start timeouts, binding): their safe
//! form ([`RunOptions`]) and the plain-data form a slot carries beside the spec's `BackgroundWorker`
//! ([`RawRunOptions`], in `super::types::SlotRegistration`).
//!
//! Every field's zero means "as the spec does": a registration that asks for none of these behaves exactly as
//! PostgreSQL's (a fixed restart interval, no start timeout, never giving up). The postmaster reads the
//! plain-data form from shared memory like the rest of a slot: any bit pattern is a value, and
//! [`RunOptions::sanitized_from`] bounds every number.
//!
//! Runs in: every process (registrants build it, the postmaster adopts it, views show it).

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
    /// Not ready this long after its start: a failed start (terminated, counted by the restart policy).
    pub start_timeout: Option<Duration>,
    /// Bound to its registrant (systemd's `BindsTo`, an OTP link): the pid of the process that registered it,
    /// whose exit terminates it; 0: not bound.
    pub bound_pid: i32,
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
    pub start_timeout_ms: u32,
    /// The registrant's pid when the worker is bound to it (0: not bound).
    pub bound_pid: i32,
    /// Reserved for options to come (zero).
    pub reserved: [u32; 4],
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
        if let Some(t) = self.start_timeout {
            raw.start_timeout_ms = ms(t).max(1);
        }
        raw.bound_pid = self.bound_pid.max(0);
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
        let start_timeout = (raw.start_timeout_ms != 0)
            .then(|| Duration::from_millis(raw.start_timeout_ms.min(MAX_OPTION_MS as u32) as u64));
        RunOptions { backoff, give_up, start_timeout, bound_pid: raw.bound_pid.max(0) }
    }

    /// Checks what a registrant asked for: what is wrong, in the words of the spec's messages (the caller
    /// prefixes the worker's name).
    pub fn check(&self) -> Result<(), String> {
        let invalid = |what: &str| what.to_owned();
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
        if self.start_timeout.is_some_and(|t| t.is_zero() || t > Duration::from_millis(MAX_OPTION_MS)) {
            return Err(invalid("invalid start timeout"));
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

/// `backoff = { initial = 1, max = 60, factor = 2, jitter = 0.1 }` (seconds; factor default 2, jitter default
/// 0), as `workers.toml` and the SQL registration options (`"backoff": {...}`) write it.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackoffDecl {
    pub initial: f64,
    pub max: f64,
    #[serde(default = "default_factor")]
    pub factor: f64,
    #[serde(default)]
    pub jitter: f64,
}

fn default_factor() -> f64 {
    2.0
}

/// `give_up = { restarts = 5, within = 60 }` (seconds).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GiveUpDecl {
    pub restarts: u32,
    pub within: f64,
}

/// A start timeout in seconds, as the options write it.
pub fn start_timeout(s: f64) -> Result<Duration, String> {
    let d = seconds("start_timeout", s)?;
    if d.is_zero() {
        return Err("start_timeout must be more than 0 seconds".into());
    }
    Ok(d)
}

fn seconds(what: &str, s: f64) -> Result<Duration, String> {
    if !s.is_finite() || s < 0.0 || s * 1000.0 > MAX_OPTION_MS as f64 {
        return Err(format!("{what} must be a number of seconds between 0 and {}", MAX_OPTION_MS / 1000));
    }
    Ok(Duration::from_secs_f64(s))
}

impl BackoffDecl {
    pub fn to_backoff(&self) -> Result<Backoff, String> {
        if !(1.0..=1000.0).contains(&self.factor) {
            return Err("backoff factor must be between 1 and 1000".into());
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err("backoff jitter must be between 0 and 1".into());
        }
        Ok(Backoff {
            initial: seconds("backoff initial", self.initial)?,
            max: seconds("backoff max", self.max)?,
            factor_milli: (self.factor * 1000.0).round() as u32,
            jitter_milli: (self.jitter * 1000.0).round() as u32,
        })
    }
}

impl GiveUpDecl {
    pub fn to_give_up(&self) -> Result<GiveUp, String> {
        Ok(GiveUp { restarts: self.restarts, window: seconds("give_up within", self.within)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_survive_the_slot_and_any_bytes_are_bounded() {
        let opts = RunOptions {
            backoff: Some(Backoff {
                initial: Duration::from_millis(200),
                max: Duration::from_secs(2),
                factor_milli: 2000,
                jitter_milli: 100,
            }),
            give_up: Some(GiveUp { restarts: 3, window: Duration::from_secs(10) }),
            start_timeout: Some(Duration::from_millis(1500)),
            bound_pid: 77,
        };
        assert_eq!(RunOptions::sanitized_from(&opts.to_raw()), opts);
        assert_eq!(RunOptions::sanitized_from(&RawRunOptions::default()), RunOptions::default());
        let junk = RawRunOptions {
            backoff_initial_ms: u32::MAX,
            backoff_max_ms: 0,
            backoff_factor_milli: 0,
            backoff_jitter_milli: u32::MAX,
            give_up_restarts: u32::MAX,
            give_up_window_ms: u32::MAX,
            start_timeout_ms: u32::MAX,
            bound_pid: -5,
            reserved: [7; 4],
        };
        let b = RunOptions::sanitized_from(&junk).backoff.unwrap();
        assert!(b.initial <= b.max && b.factor_milli == 1000 && b.jitter_milli == 1000);
        // The delays grow by the factor and stop at the maximum.
        let delays: Vec<u128> = (1..=6).map(|n| opts.backoff_delay(n).unwrap().as_millis()).collect();
        assert_eq!(delays, [200, 400, 800, 1600, 2000, 2000]);
        assert!(RunOptions::default().backoff_delay(1).is_none());
    }

    #[test]
    fn declarations_are_checked() {
        let d: BackoffDecl = serde_json::from_str(r#"{"initial": 0.5, "max": 30}"#).unwrap();
        let b = d.to_backoff().unwrap();
        assert_eq!((b.initial, b.factor_milli, b.jitter_milli), (Duration::from_millis(500), 2000, 0));
        assert!(serde_json::from_str::<BackoffDecl>(r#"{"initial": 1, "max": 2, "speed": 3}"#).is_err());
        let bad: BackoffDecl = serde_json::from_str(r#"{"initial": 1, "max": 2, "factor": 0.5}"#).unwrap();
        assert!(bad.to_backoff().unwrap_err().contains("factor"));
        let g: GiveUpDecl = toml::from_str("restarts = 5\nwithin = 60").unwrap();
        assert_eq!(g.to_give_up().unwrap(), GiveUp { restarts: 5, window: Duration::from_secs(60) });
        let bad: GiveUpDecl = toml::from_str("restarts = 5\nwithin = -1").unwrap();
        assert!(bad.to_give_up().is_err());
    }
}
