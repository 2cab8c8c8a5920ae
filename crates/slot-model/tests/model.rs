//! Loom models of the slot protocol: each test is a small scenario whose every interleaving loom runs.
//!
//! Observers call [`yield_point`] before they look: loom only preempts a thread where it sees a race, and it misses
//! the race between an observer's load and a registrant whose first access to the same atomic is itself a load.
//! An explicit yield makes loom schedule the other threads ahead of the observer too. Each test counts the
//! executions in which the interesting outcome happened, so a model that stops exploring fails instead of
//! passing vacuously.

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

/// Lets loom run other threads before the observer's next step (see the module docs).
fn yield_point() {
    loom::thread::yield_now();
}

/// The model checker's settings: at most three preemptions per execution. Every race in these protocols needs
/// at most two context switches to show (a thread stopped between two of its steps while another runs); the bound
/// keeps the larger models to seconds.
fn builder() -> loom::model::Builder {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b
}

/// Runs a model and returns how many executions reported `true`, failing if none did.
fn explore(what: &str, f: impl Fn() -> bool + Sync + Send + 'static) {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let runs = std::sync::Arc::new(AtomicUsize::new(0));
    let (h, r) = (hits.clone(), runs.clone());
    builder().check(move || {
        r.fetch_add(1, Relaxed);
        if f() {
            h.fetch_add(1, Relaxed);
        }
    });
    let (hits, runs) = (hits.load(Relaxed), runs.load(Relaxed));
    assert!(hits > 0 && runs > 1, "{what}: only {hits} of {runs} executions reached the interesting case");
}

const EMPTY: Reg = Reg { a: 0, b: 0, parallel: 0 };

struct Array {
    header: ArrayHeader,
    slots: Vec<Slot<Reg>>,
    changed: Vec<AtomicU64>,
    summary: Vec<AtomicU64>,
    free: Vec<AtomicU64>,
    free_summary: Vec<AtomicU64>,
}

fn words(n: usize) -> Vec<AtomicU64> {
    (0..n).map(|_| AtomicU64::new(0)).collect()
}

impl Array {
    fn new(n: usize) -> Arc<Self> {
        Self::with_header(n, ArrayHeader::new(n as u32))
    }
    /// An array whose free slots are initialized (and hinted) as the postmaster does.
    fn with_header(n: usize, header: ArrayHeader) -> Arc<Self> {
        let (c, s) = bitmap_words(n);
        let arr = Array {
            header,
            slots: (0..n).map(|_| Slot::new(EMPTY)).collect(),
            changed: words(c),
            summary: words(s),
            free: words(c),
            free_summary: words(s),
        };
        for i in 0..n as u32 {
            arr.view().init_slot(i, None, 0);
        }
        Arc::new(arr)
    }
    fn view(&self) -> SlotArray<'_, Reg> {
        SlotArray::new(
            &self.header,
            &self.slots,
            Bitmaps {
                changed: &self.changed,
                summary: &self.summary,
                free: &self.free,
                free_summary: &self.free_summary,
            },
        )
    }
}

/// A registration is seen whole by the postmaster, or not at all; and its change bit is never lost.
#[test]
fn postmaster_sees_complete_registrations() {
    explore("postmaster adopts a registration mid-flight", || {
        let arr = Array::new(1);
        let a2 = arr.clone();
        let registrant = thread::spawn(move || {
            let out = a2.view().register(&Reg { a: 7, b: 7, parallel: 0 }, 8);
            assert_eq!(out, RegisterOutcome::Registered { slot: 0, generation: 1 });
        });
        yield_point();
        let mut adopted = false;
        let pm_drain = |adopted: &mut bool| {
            let mut seen = Vec::new();
            arr.view().drain_changed(|slot| seen.push(slot));
            for slot in seen {
                let copy = arr.view().read_slot(slot).expect("a flagged slot is in use");
                assert_eq!(copy.payload, Reg { a: 7, b: 7, parallel: 0 });
                assert_eq!(copy.generation, 1);
                *adopted = true;
            }
        };
        pm_drain(&mut adopted);
        let early = adopted;
        registrant.join().unwrap();
        pm_drain(&mut adopted);
        assert!(adopted, "the change bit was lost");
        early
    });
}

/// `in_use` alone publishes a registration: a reader that looks at a slot without the change bitmap (a full scan,
/// as the spec's postmaster does) still sees it whole once it sees it in use.
#[test]
fn in_use_alone_publishes_the_registration() {
    explore("reader sees the slot in use", || {
        let arr = Array::new(1);
        let a2 = arr.clone();
        let registrant = thread::spawn(move || {
            a2.view().register(&Reg { a: 9, b: 9, parallel: 0 }, 8);
        });
        yield_point();
        let seen = arr.view().read_slot(0);
        if let Some(copy) = seen {
            assert_eq!(copy.payload, Reg { a: 9, b: 9, parallel: 0 });
        }
        registrant.join().unwrap();
        seen.is_some()
    });
}

/// A stale handle never reads the state of the registration that reused its slot, and a registrant reusing a
/// slot the postmaster just released sees the release completely.
#[test]
fn stale_handle_never_sees_the_next_registration() {
    explore("slot reused while an old handle is read", || {
        let arr = Array::new(1);
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
        yield_point();
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
            true
        } else {
            assert_eq!(second, RegisterOutcome::NoFreeSlot);
            false
        }
    });
}

/// Terminating a stale handle does nothing; terminating a live one is seen by the postmaster, whenever it looks.
#[test]
fn terminate_reaches_the_postmaster_only_for_live_handles() {
    explore("postmaster sees the request in its first drain", || {
        let arr = Array::new(2);
        let live = arr.view().register(&Reg { a: 3, b: 3, parallel: 0 }, 8);
        let RegisterOutcome::Registered { slot, generation } = live else { panic!() };
        arr.view().drain_changed(|_| {});
        let a2 = arr.clone();
        let terminator = thread::spawn(move || {
            assert!(!a2.view().request_terminate(slot, generation + 5, None));
            assert!(a2.view().request_terminate(slot, generation, None));
        });
        yield_point();
        let mut flagged = false;
        arr.view().drain_changed(|s| flagged |= s == slot && arr.view().terminate_requested(s));
        let early = flagged;
        terminator.join().unwrap();
        arr.view().drain_changed(|s| flagged |= s == slot && arr.view().terminate_requested(s));
        assert!(flagged, "the postmaster never saw the terminate request");
        early
    });
}

/// A termination's grace period is published with its request: once the postmaster sees the terminate flag, it
/// sees the shortest grace asked for by every request it has seen, and a later, longer one never lengthens it.
#[test]
fn a_grace_period_travels_with_its_terminate_request() {
    explore("the postmaster sees the second, shorter grace", || {
        let arr = Array::new(1);
        let RegisterOutcome::Registered { slot, generation } = arr.view().register(&Reg { a: 1, b: 1, parallel: 0 }, 8)
        else {
            panic!()
        };
        arr.view().drain_changed(|_| {});
        let a2 = arr.clone();
        let terminator = thread::spawn(move || {
            a2.view().request_terminate(slot, generation, Some(5000));
            a2.view().request_terminate(slot, generation, Some(100));
            a2.view().request_terminate(slot, generation, Some(9000));
        });
        yield_point();
        let mut shortest = None;
        arr.view().drain_changed(|s| {
            if arr.view().terminate_requested(s) {
                shortest = arr.view().kill_after_ms(s);
                assert!(shortest.is_some(), "a terminate request was seen without its grace");
            }
        });
        let early = shortest == Some(100);
        terminator.join().unwrap();
        arr.view().drain_changed(|_| {});
        assert_eq!(arr.view().kill_after_ms(slot), Some(100));
        early
    });
}

/// The parallel counters balance across registration, termination of a never-started worker and release, and
/// the limit is enforced.
#[test]
fn parallel_counters_balance() {
    explore("postmaster releases the terminated worker in its first pass", || {
        let arr = Array::new(2);
        let par = Reg { a: 4, b: 4, parallel: 1 };
        let a2 = arr.clone();
        let registrant = thread::spawn(move || {
            let r = a2.view().register(&par, 1);
            if let RegisterOutcome::Registered { slot, generation } = r {
                a2.view().request_terminate(slot, generation, None);
            }
            r
        });
        // The postmaster releases whatever it finds terminated.
        let pm = |arr: &Array| {
            let v = arr.view();
            let mut found = Vec::new();
            v.drain_changed(|s| found.push(s));
            let mut released = false;
            for s in found {
                if let Some(copy) = v.read_slot(s) {
                    if copy.terminate {
                        v.release(s, copy.payload.is_parallel());
                        released = true;
                    }
                }
            }
            released
        };
        yield_point();
        let early = pm(&arr);
        let r = registrant.join().unwrap();
        pm(&arr);
        assert!(matches!(r, RegisterOutcome::Registered { .. }));
        let (reg, term) = arr.header.parallel_counts();
        assert_eq!(reg.wrapping_sub(term), 0);
        // With the limit at 1 and none active, one more fits and a second does not.
        assert!(matches!(arr.view().register(&par, 1), RegisterOutcome::Registered { .. }));
        assert_eq!(arr.view().register(&par, 1), RegisterOutcome::ParallelLimit);
        early
    });
}

/// Wrap-around of the counters does not break the active count.
#[test]
fn parallel_counters_wrap() {
    builder().check(|| {
        // Long uptime: both counters just below u32::MAX, so the next registrations wrap the register count first.
        let arr = Array::with_header(1, ArrayHeader::new(1).with_parallel_counts(u32::MAX - 1, u32::MAX - 1));
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

/// Two registrants racing with a drain: every registration is adopted exactly once (no change bit is lost when
/// two processes set bits in the same word while the postmaster clears it).
#[test]
fn concurrent_registrations_are_each_adopted_once() {
    explore("a drain runs between the two registrations", || {
        let arr = Array::new(2);
        let spawn_reg = |v: u64| {
            let a = arr.clone();
            thread::spawn(move || a.view().register(&Reg { a: v, b: v, parallel: 0 }, 8))
        };
        let r1 = spawn_reg(1);
        let r2 = spawn_reg(2);
        yield_point();
        let mut adopted = Vec::new();
        arr.view().drain_changed(|s| adopted.push(s));
        let partial = adopted.len() == 1;
        r1.join().unwrap();
        r2.join().unwrap();
        arr.view().drain_changed(|s| adopted.push(s));
        adopted.sort();
        assert_eq!(adopted, vec![0, 1], "each slot adopted exactly once");
        partial
    });
}

/// The watcher handshake: a process waiting on a handle it did not register either sees the worker's new state
/// itself, or is found in the watch list by the postmaster after it published that state. Never neither.
#[test]
fn a_watcher_is_never_left_asleep() {
    use slot_model::watch::WatchList;
    explore("the postmaster finds the watcher", || {
        let arr = Array::new(1);
        let first = arr.view().register(&Reg { a: 1, b: 1, parallel: 0 }, 8);
        assert!(matches!(first, RegisterOutcome::Registered { .. }));
        let watch = Arc::new(WatchList::default());
        let (a_pm, w_pm) = (arr.clone(), watch.clone());
        let postmaster = thread::spawn(move || {
            a_pm.view().report_pid(0, 77);
            let mut found = false;
            w_pm.for_each_after_publish(|pid| found |= pid == 5);
            found
        });
        yield_point();
        let token = watch.add(5, |_| false).expect("room in the list");
        let saw_start = arr.view().pid_state(0, 1) == PidState::Started(77);
        let found = postmaster.join().unwrap();
        assert!(saw_start || found, "the watcher missed the start and was not woken");
        watch.remove(token, 5);
        found
    });
}

/// Free-slot hints: a registrant racing with a release never takes a slot in use, and once the release is done
/// the freed slot is found (through the hint or the fallback scan).
#[test]
fn free_hints_never_mislead() {
    explore("the registrant takes the slot freed concurrently", || {
        let arr = Array::new(2);
        // Both slots in use; the postmaster is about to release slot 1.
        for v in [1, 2] {
            assert!(matches!(
                arr.view().register(&Reg { a: v, b: v, parallel: 0 }, 8),
                RegisterOutcome::Registered { .. }
            ));
        }
        arr.view().drain_changed(|_| {});
        let a_pm = arr.clone();
        let postmaster = thread::spawn(move || a_pm.view().release(1, false));
        yield_point();
        let r = arr.view().register(&Reg { a: 3, b: 3, parallel: 0 }, 8);
        postmaster.join().unwrap();
        match r {
            RegisterOutcome::Registered { slot, generation } => {
                assert_eq!((slot, generation), (1, 2));
                assert_eq!(arr.view().read_slot(1).unwrap().payload, Reg { a: 3, b: 3, parallel: 0 });
                assert_eq!(arr.view().read_slot(0).unwrap().payload, Reg { a: 1, b: 1, parallel: 0 });
                true
            }
            RegisterOutcome::NoFreeSlot => {
                // Too early; now the slot must be found.
                let again = arr.view().register(&Reg { a: 3, b: 3, parallel: 0 }, 8);
                assert_eq!(again, RegisterOutcome::Registered { slot: 1, generation: 2 });
                false
            }
            other => panic!("{other:?}"),
        }
    });
}

/// Corrupted hints (every bit set by a rogue process) never make a registrant take a slot in use.
#[test]
fn corrupted_free_hints_are_verified() {
    builder().check(|| {
        let arr = Array::new(3);
        for v in [1, 2] {
            assert!(matches!(
                arr.view().register(&Reg { a: v, b: v, parallel: 0 }, 8),
                RegisterOutcome::Registered { .. }
            ));
        }
        for w in arr.free.iter().chain(arr.free_summary.iter()) {
            w.store(u64::MAX, slot_model::sync::Ordering::SeqCst);
        }
        let r = arr.view().register(&Reg { a: 3, b: 3, parallel: 0 }, 8);
        assert_eq!(r, RegisterOutcome::Registered { slot: 2, generation: 1 });
        assert_eq!(arr.view().register(&Reg { a: 4, b: 4, parallel: 0 }, 8), RegisterOutcome::NoFreeSlot);
        assert_eq!(arr.view().read_slot(0).unwrap().payload, Reg { a: 1, b: 1, parallel: 0 });
    });
}

/// The exit record's sequence lock: a reader racing two writes of the postmaster sees one whole record (never a
/// mix of two) or, only if every try overlapped a write, nothing.
#[test]
fn exit_records_are_never_torn() {
    use slot_model::exit_record::{ExitCell, ExitRecord};
    let record = |n: u64| ExitRecord {
        generation: n,
        reason: n as i32,
        detail: -(n as i32),
        ended_at_us: n as i64 * 1000,
        starts: n as u32,
    };
    explore("a read between two writes", move || {
        let cell = Arc::new(ExitCell::new());
        cell.write(&record(1));
        let writer = {
            let cell = cell.clone();
            thread::spawn(move || cell.write(&record(2)))
        };
        yield_point();
        let seen = cell.read();
        writer.join().unwrap();
        match seen {
            Some(r) => {
                assert!(r == record(1) || r == record(2), "torn record {r:?}");
                r == record(2)
            }
            None => false,
        }
    });
}

/// A worker's readiness report and a reset request reach the postmaster through the change bits: whenever it
/// drains, a report it has been told about is visible, and each reset is counted once.
#[test]
fn readiness_and_resets_reach_the_postmaster() {
    explore("the postmaster sees the report in its first drain", || {
        let arr = Array::new(2);
        let RegisterOutcome::Registered { slot, generation } = arr.view().register(&Reg { a: 5, b: 5, parallel: 0 }, 8)
        else {
            panic!()
        };
        arr.view().drain_changed(|_| {});
        arr.view().clear_ready(slot);
        arr.view().report_pid(slot, 4242);
        let a2 = arr.clone();
        let worker = thread::spawn(move || {
            assert!(a2.view().report_ready(slot, 4242));
            assert!(a2.view().request_reset(slot, generation));
            assert!(!a2.view().request_reset(slot, generation + 1));
        });
        yield_point();
        let mut seen = false;
        arr.view().drain_changed(|s| seen |= s == slot && arr.view().ready_pid(s) == 4242);
        let early = seen;
        worker.join().unwrap();
        arr.view().drain_changed(|s| seen |= s == slot && arr.view().ready_pid(s) == 4242);
        assert!(seen, "the postmaster never saw the report");
        assert_eq!(arr.view().ready(slot, generation), Some(4242));
        assert_eq!(arr.view().resets(slot), 1);
        early
    });
}

/// A terminator that signals the worker itself never signals a reaped (and so possibly reused) pid: the postmaster
/// withdraws `signal_pid` before it reaps, and the terminator checks it after opening its pidfd (modelled by
/// reading whether the reap had happened). And the postmaster, when it sees the request, sees that the worker was
/// signalled already, so it does not signal it twice.
#[test]
fn a_direct_terminate_never_signals_a_reaped_pid() {
    explore("the terminator signals the worker before its exit", || {
        let arr = Array::new(1);
        let RegisterOutcome::Registered { slot, generation } = arr.view().register(&Reg { a: 2, b: 2, parallel: 0 }, 8)
        else {
            panic!()
        };
        arr.view().drain_changed(|_| {});
        arr.view().report_pid(slot, 777);
        let reaped = Arc::new(loom::sync::atomic::AtomicBool::new(false));
        let (a2, r2) = (arr.clone(), reaped.clone());
        let terminator = thread::spawn(move || match a2.view().request_terminate_direct(slot, generation) {
            DirectTerminate::Signal(pid) => {
                assert_eq!(pid, 777);
                // pidfd_open: names the worker if and only if it has not been reaped yet.
                let opened_on_reaped = r2.load(loom::sync::atomic::Ordering::SeqCst);
                let may = a2.view().may_signal(slot, generation, pid);
                assert!(!(may && opened_on_reaped), "a pidfd opened after the reap passed the check");
                may
            }
            DirectTerminate::Postmaster => false,
            other => panic!("unexpected {other:?}"),
        });
        // The worker exits; the postmaster withdraws the pid, then reaps.
        yield_point();
        arr.view().unpublish_signal_pid(slot);
        reaped.store(true, loom::sync::atomic::Ordering::SeqCst);
        let signalled = terminator.join().unwrap();
        let mut seen = false;
        arr.view().drain_changed(|s| seen |= s == slot && arr.view().terminate_requested(s));
        assert!(seen, "the postmaster never saw the terminate request");
        if signalled {
            assert_eq!(arr.view().signalled_pid(slot), 777, "the postmaster would signal it a second time");
        }
        signalled
    });
}

/// A queued registration (`wait_queue`): a slot frees while its waiter gives up. Whoever ends the wait first wins:
/// either the waiter left before the grant (the postmaster's grant fails and it withdraws its promise), or it
/// finds the grant and gives the promise back; either way no promise is left over and the room is free again.
/// When the waiter does not give up, it collects the promise and registers in the freed slot.
#[test]
fn a_promise_is_never_lost_or_left_over() {
    use slot_model::wait_queue::*;
    for gives_up in [true, false] {
        explore("a waiter and the postmaster race to end a wait", move || {
            let arr = Array::new(1);
            let qh = Arc::new(QueueHeader::new());
            let entries = Arc::new((0..2).map(|_| WaitEntry::new()).collect::<Vec<_>>());
            let busy = Reg { a: 1, b: 1, parallel: 0 };
            assert!(matches!(arr.view().register(&busy, 8), RegisterOutcome::Registered { .. }));
            let ticket = {
                let q = WaitQueue::new(&qh, &entries);
                match arr.view().register_or_enqueue(&Reg { a: 2, b: 2, parallel: 0 }, 8, &q, 42) {
                    Enqueued::Queued(t) => t,
                    other => panic!("expected to wait, got {other:?}"),
                }
            };
            let (a2, q2, e2) = (arr.clone(), qh.clone(), entries.clone());
            let waiter = thread::spawn(move || {
                let q = WaitQueue::new(&q2, &e2);
                if gives_up {
                    if q.cancel(ticket) == Cancelled::HadPromise {
                        a2.view().withdraw_promise();
                        return true;
                    }
                    return false;
                }
                loop {
                    match q.ticket(ticket) {
                        Ticket::Granted if q.collect(ticket) => {
                            let out = a2.view().register_promised(&Reg { a: 2, b: 2, parallel: 0 }, 8);
                            assert!(matches!(out, RegisterOutcome::Registered { .. }), "{out:?}");
                            return true;
                        }
                        Ticket::Waiting => thread::yield_now(),
                        other => panic!("the wait ended without a slot: {other:?}"),
                    }
                }
            });
            // The postmaster: the busy worker exits while a registration waits, so the slot's room becomes a
            // promise in the same step; then the oldest waiter is served (or the promise withdrawn).
            let q = WaitQueue::new(&qh, &entries);
            let (head, tail) = q.bounds();
            assert_eq!((head, tail), (0, 1));
            assert!(arr.view().release_for_waiter(0, false), "the freed room is promised");
            let mut granted = false;
            if let Found::Waiting(pid) = q.peek(head) {
                assert_eq!(pid, 42);
                granted = q.grant(head);
            }
            if !granted {
                arr.header.withdraw_promise();
            }
            q.set_head(head + 1);
            let waiter_won = waiter.join().unwrap();
            let (used, promised) = arr.header.occupancy();
            assert_eq!(promised, 0, "a promise was left over");
            if gives_up {
                assert_eq!(used, 0);
                // The interesting case: the grant came first and the waiter gave it back.
                granted && waiter_won
            } else {
                assert_eq!(used, 1);
                assert!(arr.view().read_slot(0).is_some_and(|c| c.payload.a == 2));
                waiter_won
            }
        });
    }
}
