//! Loom models of the typed-argument hand-off (`crates/bgw/src/bgworker/args.rs`): a registrant writes its
//! argument inside `SlotArray::register_with`, and whoever sees the slot published (the postmaster, then the
//! worker it forks) reads exactly that argument: never a torn one, never an earlier registration's.

use loom::sync::Arc;
use loom::thread;
use slot_model::args::{ArgEntry, ArgRead};
use slot_model::slots::*;
use slot_model::sync::AtomicU64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Reg(u64);

// SAFETY: a plain integer, valid for every bit pattern.
unsafe impl SlotPayload for Reg {
    fn is_parallel(&self) -> bool {
        false
    }
}

struct World {
    header: ArrayHeader,
    slots: Vec<Slot<Reg>>,
    maps: [Vec<AtomicU64>; 4],
    args: Vec<ArgEntry<4>>,
}

impl World {
    fn new() -> Arc<World> {
        let (c, s) = bitmap_words(1);
        let words = |n: usize| (0..n).map(|_| AtomicU64::new(0)).collect::<Vec<_>>();
        let w = World {
            header: ArrayHeader::new(1),
            slots: vec![Slot::new(Reg(0))],
            maps: [words(c), words(s), words(c), words(s)],
            args: vec![ArgEntry::new()],
        };
        w.view().init_slot(0, None, 0);
        Arc::new(w)
    }
    fn view(&self) -> SlotArray<'_, Reg> {
        let [changed, summary, free, free_summary] = &self.maps;
        SlotArray::new(&self.header, &self.slots, Bitmaps { changed, summary, free, free_summary })
    }
    /// A registration, with `arg` written inside the lock as the host's registrants do.
    fn register(&self, tag: u64, arg: Option<[u8; 4]>) -> RegisterOutcome {
        self.view().register_with(&Reg(tag), 8, |slot, generation| {
            if let Some(arg) = arg {
                self.args[slot as usize].write(generation, &arg);
            }
        })
    }
    /// What a worker of the slot would read, if the slot is published: its tag and argument.
    fn observe(&self) -> Option<(u64, ArgRead)> {
        let copy = self.view().read_slot(0)?;
        Some((copy.payload.0, self.args[0].read(copy.generation)))
    }
}

fn explore(what: &str, f: impl Fn() -> bool + Sync + Send + 'static) {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let runs = std::sync::Arc::new(AtomicUsize::new(0));
    let (h, r) = (hits.clone(), runs.clone());
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(move || {
        r.fetch_add(1, Relaxed);
        if f() {
            h.fetch_add(1, Relaxed);
        }
    });
    let (hits, runs) = (hits.load(Relaxed), runs.load(Relaxed));
    assert!(hits > 0 && runs > 1, "{what}: only {hits} of {runs} executions reached the interesting case");
}

/// Whoever sees the slot published reads the whole argument of that registration.
#[test]
fn a_published_registration_carries_its_whole_argument() {
    explore("the observer sees the slot in use", || {
        let w = World::new();
        let w2 = w.clone();
        let registrant = thread::spawn(move || {
            w2.register(1, Some([1, 2, 3, 4]));
        });
        loom::thread::yield_now();
        let seen = w.observe();
        if let Some((tag, arg)) = &seen {
            assert_eq!((*tag, arg), (1, &ArgRead::Bytes(vec![1, 2, 3, 4])));
        }
        registrant.join().unwrap();
        seen.is_some()
    });
}

/// A slot released by the postmaster and reused: the next registration's worker reads its own argument, or none
/// when it has none; never the earlier registration's bytes. As in the host, the slot is released only after the
/// first registration's worker (which read its argument) has exited, and the postmaster, which releases slots,
/// is also the one that sees the next registration published before it forks that worker (the main thread
/// here plays the postmaster and its workers, one after the other).
#[test]
fn a_reused_slot_never_hands_over_an_earlier_argument() {
    for next in [Some([9, 9, 9, 9]), None] {
        explore("the second registration's worker runs", move || {
            let w = World::new();
            assert!(matches!(w.register(1, Some([1, 1, 1, 1])), RegisterOutcome::Registered { .. }));
            let w2 = w.clone();
            let registrant = thread::spawn(move || w2.register(2, next));
            // The first worker reads its argument and exits; the postmaster then releases the slot.
            let first = w.observe();
            assert!(matches!(first, Some((1, ArgRead::Bytes(ref b))) if b == &[1, 1, 1, 1]), "{first:?}");
            w.view().release(0, false);
            loom::thread::yield_now();
            let second = w.observe();
            match &second {
                Some((2, arg)) => assert_eq!(arg, &next.map_or(ArgRead::None, |a| ArgRead::Bytes(a.to_vec()))),
                Some(other) => panic!("not the second registration: {other:?}"),
                None => {}
            }
            let reused = registrant.join().unwrap();
            if second.is_none() {
                // The registrant came before the release (no free slot) or is not published yet.
                assert!(matches!(reused, RegisterOutcome::NoFreeSlot | RegisterOutcome::Registered { .. }));
            }
            second.is_some()
        });
    }
}
