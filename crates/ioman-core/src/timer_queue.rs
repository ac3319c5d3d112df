//! [`TimerQueue`]: a binary heap of `(deadline, key)` that is corrected lazily, as libev's
//! idle-timeout idiom and nginx's timer tree do.
//!
//! Pushing back a deadline (the common case: activity resets an idle timeout) is O(1): the
//! registration just stores its new deadline, and the older heap entry, when it comes due,
//! finds the deadline moved and is re-inserted there. Only a deadline that moves *earlier*
//! pushes a new entry. Each registration remembers the one heap entry that speaks for it
//! (`queued`); any other entry for it is garbage and is dropped when popped, or swept when
//! garbage outgrows the live entries.

use crate::Key;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A point in time as the queue keeps it: nanoseconds since the manager was created (see
/// [`TurnTime`](crate::clock::TurnTime)). Eight bytes instead of an `Instant`'s sixteen, for every
/// registration and every heap entry. [`NEVER`] stands for "no time".
pub(crate) type Tick = u64;

/// "Not set": no deadline, no queued entry, no duration.
pub(crate) const NEVER: Tick = u64::MAX;

/// The deadline state a registration keeps for the queue.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    /// When the registration is due ([`NEVER`]: not armed).
    pub(crate) at: Tick,
    /// The heap entry that stands for this registration ([`NEVER`]: none; `<= at` when both
    /// are set).
    pub(crate) queued: Tick,
}

impl Default for Deadline {
    fn default() -> Deadline {
        Deadline { at: NEVER, queued: NEVER }
    }
}

#[derive(Debug, Default)]
pub(crate) struct TimerQueue {
    heap: BinaryHeap<Reverse<(Tick, Key)>>,
}

/// What the queue learns when it pops a due entry.
pub(crate) enum Popped {
    /// Due now: fire it.
    Due(Key),
    /// Garbage or moved: nothing to fire.
    Skip,
}

impl TimerQueue {
    /// Arms `d` to be due at `at`: O(1) unless `at` is earlier than its queued entry. Arming
    /// at [`NEVER`] (a deadline too far to represent) disarms.
    pub(crate) fn arm(&mut self, key: Key, d: &mut Deadline, at: Tick) {
        d.at = at;
        if at < d.queued {
            self.heap.push(Reverse((at, key)));
            d.queued = at;
        }
    }

    /// The earliest entry's time (possibly garbage or a moved deadline: waking for it early is
    /// harmless and happens at most once per reset).
    pub(crate) fn next(&self) -> Option<Tick> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Pops the earliest entry if it is due at `now`. `lookup` finds the registration's
    /// deadline (None: the registration is gone).
    pub(crate) fn pop_due<'a>(
        &mut self,
        now: Tick,
        lookup: impl FnOnce(Key) -> Option<&'a mut Deadline>,
    ) -> Option<Popped> {
        let &Reverse((when, key)) = self.heap.peek()?;
        if when > now {
            return None;
        }
        self.heap.pop();
        let Some(d) = lookup(key) else { return Some(Popped::Skip) };
        if d.queued != when {
            return Some(Popped::Skip);
        }
        d.queued = NEVER;
        if d.at == when {
            return Some(Popped::Due(key));
        }
        // The deadline moved later: requeue it there, so due entries still fire in deadline
        // order even when several moved deadlines are all past.
        if d.at != NEVER {
            self.heap.push(Reverse((d.at, key)));
            d.queued = d.at;
        }
        Some(Popped::Skip)
    }

    /// Whether garbage dominates the heap (more than two entries per `live` registration, beyond
    /// a small floor): then [`compact`](Self::compact) is due, so that a long run of closed or
    /// shortened registrations cannot grow the heap without bound. Cheap: checked every turn whose
    /// heap is not empty.
    pub(crate) fn needs_compaction(&self, live: usize) -> bool {
        self.heap.len() > 2 * live + 64
    }

    /// Rebuilds the heap from the live deadlines (O(n)).
    pub(crate) fn compact<'a>(&mut self, entries: impl Iterator<Item = (Key, &'a mut Deadline)>) {
        self.heap.clear();
        for (key, d) in entries {
            d.queued = NEVER;
            if d.at != NEVER {
                self.heap.push(Reverse((d.at, key)));
                d.queued = d.at;
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotmap::SlotMap;

    fn ms(n: u64) -> Tick {
        n * 1_000_000
    }

    fn drain(q: &mut TimerQueue, map: &mut SlotMap<Key, Deadline>, now: Tick) -> Vec<Key> {
        let mut due = Vec::new();
        while let Some(p) = q.pop_due(now, |k| map.get_mut(k)) {
            if let Popped::Due(k) = p {
                due.push(k);
            }
        }
        due
    }

    #[test]
    fn pushing_a_deadline_back_adds_no_heap_entry() {
        let mut map: SlotMap<Key, Deadline> = SlotMap::with_key();
        let mut q = TimerQueue::default();
        let k = map.insert(Deadline::default());
        for i in 1..=1000u64 {
            q.arm(k, &mut map[k], ms(10 + i));
        }
        assert_eq!(q.len(), 1, "resets to later deadlines are O(1) stores");
        assert!(drain(&mut q, &mut map, ms(10 + 999)).is_empty());
        assert_eq!(drain(&mut q, &mut map, ms(1010)), vec![k]);
    }

    #[test]
    fn moved_deadlines_still_fire_in_deadline_order() {
        let mut map: SlotMap<Key, Deadline> = SlotMap::with_key();
        let mut q = TimerQueue::default();
        let a = map.insert(Deadline::default());
        let b = map.insert(Deadline::default());
        q.arm(a, &mut map[a], ms(1));
        q.arm(a, &mut map[a], ms(5)); // lazily moved: heap still says 1
        q.arm(b, &mut map[b], ms(3));
        assert_eq!(drain(&mut q, &mut map, ms(10)), vec![b, a]);
    }

    #[test]
    fn garbage_is_swept() {
        let mut map: SlotMap<Key, Deadline> = SlotMap::with_key();
        let mut q = TimerQueue::default();
        let k = map.insert(Deadline::default());
        for i in (0..10_000u64).rev() {
            q.arm(k, &mut map[k], ms(i + 1)); // always earlier: pushes
        }
        assert!(q.needs_compaction(map.len()));
        q.compact(map.iter_mut());
        assert_eq!(q.len(), 1);
        assert!(!q.needs_compaction(map.len()));
        assert_eq!(drain(&mut q, &mut map, ms(1)), vec![k]);
    }

    #[test]
    fn arming_at_never_disarms() {
        let mut map: SlotMap<Key, Deadline> = SlotMap::with_key();
        let mut q = TimerQueue::default();
        let k = map.insert(Deadline::default());
        q.arm(k, &mut map[k], ms(5));
        q.arm(k, &mut map[k], NEVER);
        assert!(drain(&mut q, &mut map, ms(1_000_000)).is_empty());
        assert_eq!(map[k].at, NEVER);
    }
}
