//! The expiry commands of the `kv` server — EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT (with NX, XX,
//! GT, LT), TTL/PTTL, EXPIRETIME/PEXPIRETIME, PERSIST — and the expire-time arguments of SET,
//! SETEX, PSETEX and GETEX, checked as Redis 7.0 checks them.
//!
//! The store keeps expiries as `Instant`s; Redis reasons in Unix milliseconds. [`Wall`] maps
//! one to the other from a single anchor (the system clock read once, then the monotonic
//! `now` the loop passes in), so absolute times round-trip exactly (`EXPIREAT k T` then
//! `EXPIRETIME k` is `T`) and the overflow checks are Redis's own, on the same numbers.

use std::time::{Duration, Instant};

use ioman::net::Outbox;

use super::commands::{NOT_AN_INTEGER, SYNTAX_ERROR};
use super::resp::{Args, parse_i64, write_error, write_integer};
use super::store::Store;

/// The wall clock of a session: `now` is `unix_ms` Unix milliseconds at `at`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Wall {
    pub(super) at: Instant,
    pub(super) unix_ms: i64,
}

impl Wall {
    /// Unix milliseconds at `instant`.
    pub(super) fn unix_ms(&self, instant: Instant) -> i64 {
        let elapsed = match instant.checked_duration_since(self.at) {
            Some(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
            None => -i64::try_from(self.at.duration_since(instant).as_millis()).unwrap_or(i64::MAX),
        };
        self.unix_ms.saturating_add(elapsed)
    }

    /// The instant of Unix time `unix_ms`, as seen at `now`; `now` itself if it is not later
    /// (the key is already expired, as Redis's `checkAlreadyExpired`).
    pub(super) fn instant(&self, unix_ms: i64, now: Instant) -> Instant {
        let ahead = unix_ms.saturating_sub(self.unix_ms(now));
        if ahead <= 0 {
            return now;
        }
        // Instants hold i64 seconds; an i64 of milliseconds always fits.
        now.checked_add(Duration::from_millis(ahead.unsigned_abs())).unwrap_or(now)
    }
}

/// The kind of expire time SET, GETEX, SETEX and PSETEX take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TtlKind {
    /// Relative seconds.
    Ex,
    /// Relative milliseconds.
    Px,
    /// Absolute Unix seconds.
    Exat,
    /// Absolute Unix milliseconds.
    Pxat,
}

impl TtlKind {
    /// The option spelling it, if `option` is EX, PX, EXAT or PXAT.
    pub(super) fn parse(option: &[u8]) -> Option<TtlKind> {
        [
            (&b"ex"[..], TtlKind::Ex),
            (b"px", TtlKind::Px),
            (b"exat", TtlKind::Exat),
            (b"pxat", TtlKind::Pxat),
        ]
        .into_iter()
        .find(|(name, _)| option.eq_ignore_ascii_case(name))
        .map(|(_, kind)| kind)
    }
}

/// Why an expire time was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ExpireError {
    /// `ERR value is not an integer or out of range`
    NotAnInteger,
    /// `ERR invalid expire time in '<command>' command`
    Invalid,
}

impl ExpireError {
    pub(super) fn write(self, command: &str, out: &mut Outbox) {
        match self {
            ExpireError::NotAnInteger => write_error(out, NOT_AN_INTEGER),
            ExpireError::Invalid => invalid_expire(command, out),
        }
    }
}

impl Wall {
    /// The instant an expire-time argument names, checked as Redis's
    /// `getExpireMillisecondsOrReply`: an integer, positive, not overflowing once made
    /// absolute. An absolute time in the past gives `now` (written, then gone).
    pub(super) fn expire_at(
        &self,
        kind: TtlKind,
        amount: &[u8],
        now: Instant,
    ) -> Result<Instant, ExpireError> {
        let amount = parse_i64(amount).ok_or(ExpireError::NotAnInteger)?;
        let seconds = matches!(kind, TtlKind::Ex | TtlKind::Exat);
        if amount <= 0 || (seconds && amount > i64::MAX / 1000) {
            return Err(ExpireError::Invalid);
        }
        let ms = if seconds { amount * 1000 } else { amount };
        let ms = match kind {
            TtlKind::Ex | TtlKind::Px => ms.checked_add(self.unix_ms(now)),
            TtlKind::Exat | TtlKind::Pxat => Some(ms),
        };
        let ms = ms.filter(|ms| *ms > 0).ok_or(ExpireError::Invalid)?;
        Ok(self.instant(ms, now))
    }
}

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT key time [NX|XX|GT|LT], as Redis 7.0's
/// `expireGenericCommand`: options first, then the time, then the key; with an option the
/// current expiry decides (no expiry counts as infinite); a time not in the future deletes.
pub(super) fn expire(
    command: &str,
    wall: &Wall,
    store: &mut Store,
    now: Instant,
    args: Args<'_>,
    out: &mut Outbox,
) {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for option in args.iter_from(3) {
        let flag = match option.to_ascii_lowercase().as_slice() {
            b"nx" => &mut nx,
            b"xx" => &mut xx,
            b"gt" => &mut gt,
            b"lt" => &mut lt,
            _ => {
                let text = String::from_utf8_lossy(option).replace(['\r', '\n'], " ");
                return write_error(out, &format!("ERR Unsupported option {text}"));
            }
        };
        *flag = true;
    }
    if nx && (xx || gt || lt) {
        return write_error(
            out,
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        );
    }
    if gt && lt {
        return write_error(out, "ERR GT and LT options at the same time are not compatible");
    }
    let Some(mut when) = parse_i64(args.get(2)) else {
        return write_error(out, NOT_AN_INTEGER);
    };
    if command == "expire" || command == "expireat" {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return invalid_expire(command, out);
        }
        when *= 1000;
    }
    let base = if command.ends_with("at") { 0 } else { wall.unix_ms(now) };
    let Some(when) = when.checked_add(base).filter(|_| when <= i64::MAX - base) else {
        return invalid_expire(command, out);
    };
    let key = args.get(1);
    let Some(current) = store.expiry(key, now) else {
        return write_integer(out, 0);
    };
    let current = current.map(|at| wall.unix_ms(at));
    let refused = (nx && current.is_some())
        || (xx && current.is_none())
        || (gt && current.is_none_or(|current| when <= current))
        || (lt && current.is_some_and(|current| when >= current));
    if refused {
        return write_integer(out, 0);
    }
    store.set_expiry(key, wall.instant(when, now), now);
    write_integer(out, 1);
}

/// TTL, PTTL, EXPIRETIME, PEXPIRETIME key: -2 for no key, -1 for no expiry, else the time
/// left (or the Unix time), seconds rounded to nearest as Redis's `(ms + 500) / 1000`.
pub(super) fn ttl(
    command: &str,
    wall: &Wall,
    store: &mut Store,
    now: Instant,
    key: &[u8],
    out: &mut Outbox,
) {
    let at = match store.expiry(key, now) {
        None => return write_integer(out, -2),
        Some(None) => return write_integer(out, -1),
        Some(Some(at)) => at,
    };
    let ms = if command.ends_with("time") {
        wall.unix_ms(at)
    } else {
        i64::try_from(at.saturating_duration_since(now).as_millis()).unwrap_or(i64::MAX)
    }
    .max(0);
    let in_ms = command.starts_with('p');
    write_integer(out, if in_ms { ms } else { ms.saturating_add(500) / 1000 });
}

/// GETEX's options after the key: EX/PX/EXAT/PXAT time or PERSIST, with SET's rules (one
/// kind, which may repeat). `Ok(None)` leaves the expiry alone.
pub(super) enum GetexOption<'a> {
    Keep,
    Persist,
    Expire(TtlKind, &'a [u8]),
}

/// Parses GETEX's options as Redis's `parseExtendedStringArgumentsOrReply` does.
pub(super) fn getex_options<'a>(args: Args<'a>) -> Result<GetexOption<'a>, &'static str> {
    let mut option = GetexOption::Keep;
    let mut i = 2;
    while i < args.len() {
        let arg = args.get(i);
        let has_next = i + 1 < args.len();
        match (TtlKind::parse(arg), &option) {
            (None, GetexOption::Keep | GetexOption::Persist)
                if arg.eq_ignore_ascii_case(b"persist") =>
            {
                option = GetexOption::Persist;
            }
            (Some(kind), GetexOption::Keep) if has_next => {
                i += 1;
                option = GetexOption::Expire(kind, args.get(i));
            }
            (Some(kind), GetexOption::Expire(set, _)) if has_next && *set == kind => {
                i += 1;
                option = GetexOption::Expire(kind, args.get(i));
            }
            _ => return Err(SYNTAX_ERROR),
        }
        i += 1;
    }
    Ok(option)
}

/// `-ERR invalid expire time in 'set' command`
pub(super) fn invalid_expire(command: &str, out: &mut Outbox) {
    let out = out.vec();
    out.extend_from_slice(b"-ERR invalid expire time in '");
    out.extend_from_slice(command.as_bytes());
    out.extend_from_slice(b"' command\r\n");
}
