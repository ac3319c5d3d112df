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
use std::time::Instant;

/// The deadline state a registration keeps for the queue.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Deadline {
    /// When the registration is due, if armed.
    pub(crate) at: Option<Instant>,
    /// The heap entry that stands for this registration (`<= at` whenever both are set).
    pub(crate) queued: Option<Instant>,
}

#[derive(Debug, Default)]
pub(crate) struct TimerQueue {
    heap: BinaryHeap<Reverse<(Instant, Key)>>,
}

/// What the queue learns when it pops a due entry.
pub(crate) enum Popped {
    /// Due now: fire it.
    Due(Key),
    /// Garbage or moved: nothing to fire.
    Skip,
}

impl TimerQueue {
    /// Arms `d` to be due at `at`: O(1) unless `at` is earlier than its queued entry.
    pub(crate) fn arm(&mut self, key: Key, d: &mut Deadline, at: Instant) {
        d.at = Some(at);
        if d.queued.is_none_or(|q| at < q) {
            self.heap.push(Reverse((at, key)));
            d.queued = Some(at);
        }
    }

    /// The earliest entry's time (possibly garbage or a moved deadline: waking for it early is
    /// harmless and happens at most once per reset).
    pub(crate) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Pops the earliest entry if it is due at `now`. `lookup` finds the registration's
    /// deadline (None: the registration is gone).
    pub(crate) fn pop_due<'a>(
        &mut self,
        now: Instant,
        lookup: impl FnOnce(Key) -> Option<&'a mut Deadline>,
    ) -> Option<Popped> {
        let &Reverse((when, key)) = self.heap.peek()?;
        if when > now {
            return None;
        }
        self.heap.pop();
        let Some(d) = lookup(key) else { return Some(Popped::Skip) };
        if d.queued != Some(when) {
            return Some(Popped::Skip);
        }
        d.queued = None;
        match d.at {
            Some(at) if at == when => Some(Popped::Due(key)),
            // The deadline moved later: requeue it there, so due entries still fire in deadline
            // order even when several moved deadlines are all past.
            Some(at) => {
                self.heap.push(Reverse((at, key)));
                d.queued = Some(at);
                Some(Popped::Skip)
            }
            None => Some(Popped::Skip),
        }
    }

    /// Rebuilds the heap from the live deadlines when garbage dominates, so a long run of
    /// closed or shortened registrations cannot grow it without bound.
    pub(crate) fn compact_if_needed<'a>(
        &mut self,
        live: usize,
        entries: impl Iterator<Item = (Key, &'a mut Deadline)>,
    ) {
        if self.heap.len() <= 2 * live + 64 {
            return;
        }
        self.heap.clear();
        for (key, d) in entries {
            d.queued = None;
            if let Some(at) = d.at {
                self.heap.push(Reverse((at, key)));
                d.queued = Some(at);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotmap::SlotMap;
    use std::time::Duration;

    fn drain(q: &mut TimerQueue, map: &mut SlotMap<Key, Deadline>, now: Instant) -> Vec<Key> {
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
        let t0 = Instant::now();
        let mut map: SlotMap<Key, Deadline> = SlotMap::with_key();
        let mut q = TimerQueue::default();
        let k = map.insert(Deadline::default());
        for i in 1..=1000u64 {
            q.arm(k, &mut map[k], t0 + Duration::from_millis(10 + i));
        }
        assert_eq!(q.len(), 1, "resets to later deadlines are O(1) stores");
        assert!(drain(&mut q, &mut map, t0 + Duration::from_millis(10 + 999)).is_empty());
        assert_eq!(drain(&mut q, &mut map, t0 + Duration::from_millis(1010)), vec![k]);
    }

    #[test]
    fn moved_deadlines_still_fire_in_deadline_order() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
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
        let t0 = Instant::now();
        let mut map: SlotMap<Key, Deadline> = SlotMap::with_key();
        let mut q = TimerQueue::default();
        let k = map.insert(Deadline::default());
        for i in (0..10_000u64).rev() {
            q.arm(k, &mut map[k], t0 + Duration::from_millis(i + 1)); // always earlier: pushes
        }
        q.compact_if_needed(map.len(), map.iter_mut());
        assert_eq!(q.len(), 1);
        assert_eq!(drain(&mut q, &mut map, t0 + Duration::from_millis(1)), vec![k]);
    }
}
