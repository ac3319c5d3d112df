//! [`Key`]: the name of one registration. It is a generational slotmap key, and its full 64 bits
//! (index and generation) travel through epoll as the event's user data. A key whose
//! registration was closed never matches again, even after its slot (or its fd number) is
//! reused, so a stale event can never reach a new handler.

use slotmap::{Key as _, KeyData};

slotmap::new_key_type! {
    /// Names one registration in a [`Manager`](crate::Manager): an fd with its handler, or a
    /// standalone timer.
    ///
    /// Keys are generational: once a registration is closed its key is dead for good, and
    /// every operation on it fails with [`Error::UnknownKey`](crate::Error::UnknownKey)
    /// instead of touching whichever registration took its place. Keys are only meaningful
    /// to the manager that issued them (as with any slotmap key).
    pub struct Key;
}

/// The epoll token reserved for the manager's own waker. Slotmap never hands out the index
/// `u32::MAX`, so no key maps to it.
pub(crate) const WAKER_TOKEN: u64 = u64::MAX;

impl Key {
    /// The 64-bit value stored in epoll's user data.
    pub(crate) fn token(self) -> u64 {
        self.data().as_ffi()
    }

    /// The key an epoll token names (which may be dead by now).
    pub(crate) fn from_token(token: u64) -> Key {
        KeyData::from_ffi(token).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotmap::SlotMap;

    #[test]
    fn token_round_trips_and_keeps_generation() {
        let mut map: SlotMap<Key, u8> = SlotMap::with_key();
        let a = map.insert(1);
        map.remove(a);
        let b = map.insert(2);
        assert_ne!(a, b, "a reused slot gets a new generation");
        assert_eq!(Key::from_token(a.token()), a);
        assert!(map.get(Key::from_token(a.token())).is_none());
        assert_eq!(map.get(Key::from_token(b.token())), Some(&2));
        assert_ne!(b.token(), WAKER_TOKEN);
    }
}
