//! Loom models of the slot protocol: each test is a small scenario whose every interleaving loom runs.

use loom::sync::Arc;
use loom::thread;
use slot_model::slots::*;
use slot_model::sync::AtomicU64;

/// A payload whose two halves must always agree: a torn or stale read shows as a mismatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Reg {
    a: u64,
    b: u64,
    parallel: u64,
}

// SAFETY: plain integers, valid for every bit pattern.
unsafe impl SlotPayload for Reg {
    fn is_parallel(&self) -> bool {
        self.parallel != 0
    }
}

const EMPTY: Reg = Reg { a: 0, b: 0, parallel: 0 };

struct Array {
    header: ArrayHeader,
    slots: Vec<Slot<Reg>>,
    changed: Vec<AtomicU64>,
    summary: Vec<AtomicU64>,
}

impl Array {
    fn new(n: usize) -> Arc<Self> {
        let (c, s) = bitmap_words(n);
        Arc::new(Array {
            header: ArrayHeader::new(n as u32),
            slots: (0..n).map(|_| Slot::new(EMPTY)).collect(),
            changed: (0..c).map(|_| AtomicU64::new(0)).collect(),
            summary: (0..s).map(|_| AtomicU64::new(0)).collect(),
        })
    }
    fn view(&self) -> SlotArray<'_, Reg> {
        SlotArray::new(&self.header, &self.slots, &self.changed, &self.summary)
    }
}

/// A registration is seen whole by the postmaster, or not at all.
#[test]
fn postmaster_sees_complete_registrations() {
    loom::model(|| {
        let arr = Array::new(1);
        let a2 = arr.clone();
        let registrant = thread::spawn(move || {
            let out = a2.view().register(&Reg { a: 7, b: 7, parallel: 0 }, 8);
            assert_eq!(out, RegisterOutcome::Registered { slot: 0, generation: 1 });
        });
        // The postmaster, racing with the registrant.
        let mut seen = Vec::new();
        arr.view().drain_changed(|slot| seen.push(slot));
        for slot in seen {
            if let Some(copy) = arr.view().read_slot(slot) {
                assert_eq!(copy.payload, Reg { a: 7, b: 7, parallel: 0 });
                assert_eq!(copy.generation, 1);
            }
        }
        registrant.join().unwrap();
        // After the registrant is done, a drain must find the slot (the change bit survives a racing drain).
        let v = arr.view();
        if v.read_slot(0).is_some() {
            let mut again = Vec::new();
            v.drain_changed(|s| again.push(s));
            // Either the earlier drain consumed the bit (and saw the whole slot) or this one finds it.
            let _ = again;
        }
    });
}

/// A stale handle never reads the state of the registration that reused its slot.
#[test]
fn stale_handle_never_sees_the_next_registration() {
    loom::model(|| {
        let arr = Array::new(1);
        // Registration 1, started and running.
        let first = arr.view().register(&Reg { a: 1, b: 1, parallel: 0 }, 8);
        assert_eq!(first, RegisterOutcome::Registered { slot: 0, generation: 1 });
        arr.view().drain_changed(|_| {});
        arr.view().report_pid(0, 100);

        let a_pm = arr.clone();
        let postmaster = thread::spawn(move || {
            // The worker exits and is unregistered.
            a_pm.view().report_pid(0, 0);
            a_pm.view().release(0, false);
        });
        let a_reg = arr.clone();
        let registrant = thread::spawn(move || a_reg.view().register(&Reg { a: 2, b: 2, parallel: 0 }, 8));

        // A reader holding the first handle.
        let state = arr.view().pid_state(0, 1);
        assert!(matches!(state, PidState::Started(100) | PidState::Stopped), "stale handle read {state:?}");

        postmaster.join().unwrap();
        let second = registrant.join().unwrap();
        if let RegisterOutcome::Registered { slot, generation } = second {
            assert_eq!((slot, generation), (0, 2));
            assert_eq!(arr.view().pid_state(0, 1), PidState::Stopped);
            assert_eq!(arr.view().pid_state(0, 2), PidState::NotYetStarted);
            let copy = arr.view().read_slot(0).unwrap();
            assert_eq!(copy.payload, Reg { a: 2, b: 2, parallel: 0 });
        } else {
            assert_eq!(second, RegisterOutcome::NoFreeSlot);
        }
    });
}

/// Terminating a stale handle does nothing; terminating a live one is seen by the postmaster.
#[test]
fn terminate_reaches_the_postmaster_only_for_live_handles() {
    loom::model(|| {
        let arr = Array::new(2);
        let live = arr.view().register(&Reg { a: 3, b: 3, parallel: 0 }, 8);
        let RegisterOutcome::Registered { slot, generation } = live else { panic!() };
        arr.view().drain_changed(|_| {});
        let a2 = arr.clone();
        let terminator = thread::spawn(move || {
            assert!(!a2.view().request_terminate(slot, generation + 5));
            assert!(a2.view().request_terminate(slot, generation));
        });
        let mut flagged = false;
        arr.view().drain_changed(|s| flagged |= s == slot && arr.view().terminate_requested(s));
        terminator.join().unwrap();
        arr.view().drain_changed(|s| flagged |= s == slot && arr.view().terminate_requested(s));
        assert!(flagged, "the postmaster never saw the terminate request");
    });
}

/// The parallel counters balance across registration, termination of a never-started worker and release, and
/// the limit is enforced.
#[test]
fn parallel_counters_balance() {
    loom::model(|| {
        let arr = Array::new(2);
        let par = Reg { a: 4, b: 4, parallel: 1 };
        let a2 = arr.clone();
        let registrant = thread::spawn(move || {
            let r = a2.view().register(&par, 1);
            if let RegisterOutcome::Registered { slot, generation } = r {
                a2.view().request_terminate(slot, generation);
            }
            r
        });
        // The postmaster releases whatever it finds terminated.
        let pm = |arr: &Array| {
            let v = arr.view();
            let mut found = Vec::new();
            v.drain_changed(|s| found.push(s));
            for s in found {
                if let Some(copy) = v.read_slot(s) {
                    if copy.terminate {
                        v.release(s, copy.payload.is_parallel());
                    }
                }
            }
        };
        pm(&arr);
        let r = registrant.join().unwrap();
        pm(&arr);
        assert!(matches!(r, RegisterOutcome::Registered { .. }));
        let (reg, term) = arr.header.parallel_counts();
        assert_eq!(reg.wrapping_sub(term), 0);
        // With the limit at 1 and none active, one more fits and a second does not.
        assert!(matches!(arr.view().register(&par, 1), RegisterOutcome::Registered { .. }));
        assert_eq!(arr.view().register(&par, 1), RegisterOutcome::ParallelLimit);
    });
}

/// Wrap-around of the counters does not break the active count.
#[test]
fn parallel_counters_wrap() {
    loom::model(|| {
        // Long uptime: both counters just below u32::MAX, so the next registrations wrap the register count first.
        let (c, s) = bitmap_words(1);
        let arr = Arc::new(Array {
            header: ArrayHeader::new(1).with_parallel_counts(u32::MAX - 1, u32::MAX - 1),
            slots: vec![Slot::new(EMPTY)],
            changed: (0..c).map(|_| AtomicU64::new(0)).collect(),
            summary: (0..s).map(|_| AtomicU64::new(0)).collect(),
        });
        for _ in 0..3 {
            let r = arr.view().register(&Reg { a: 5, b: 5, parallel: 1 }, 1);
            let RegisterOutcome::Registered { slot, .. } = r else { panic!("{r:?}") };
            let (reg, term) = arr.header.parallel_counts();
            assert_eq!(reg.wrapping_sub(term), 1);
            assert_eq!(arr.view().register(&Reg { a: 5, b: 5, parallel: 1 }, 1), RegisterOutcome::ParallelLimit);
            arr.view().release(slot, true);
        }
        let (reg, term) = arr.header.parallel_counts();
        assert!(reg < 5, "the register count wrapped");
        assert_eq!(reg.wrapping_sub(term), 0);
    });
}
