//! The `Range` request field (RFC 9110 §14.2): one byte range of a file, answered 206 with
//! `Content-Range`, or 416 when it starts past the end.
//!
//! Only single ranges are served. A request for several ranges gets the whole file with 200,
//! which RFC 9110 allows (a server MAY ignore `Range`): multipart/byteranges bodies would cost
//! a buffer per part, and clients ask for several ranges rarely. A `Range` that is not valid
//! `bytes=` syntax is ignored the same way.

/// What a `Range` field asks of a file of a given size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeAnswer {
    /// Serve the whole file with 200: no usable single range.
    Full,
    /// Serve bytes `first..=last` with 206.
    Partial {
        /// The first byte's offset.
        first: u64,
        /// The last byte's offset (inclusive), below the size.
        last: u64,
    },
    /// Answer 416 with `Content-Range: bytes */size`.
    Unsatisfiable,
}

/// Evaluates a `Range` field value against a representation of `size` bytes. An empty file is
/// always served whole, as nginx does: no byte range of it can be expressed, and a 416 would
/// stop clients that resume every download with `bytes=0-`.
pub fn evaluate(value: &[u8], size: u64) -> RangeAnswer {
    if size == 0 {
        return RangeAnswer::Full;
    }
    let value = value.trim_ascii();
    let Some(unit) = value.get(..6) else { return RangeAnswer::Full };
    if !unit.eq_ignore_ascii_case(b"bytes=") {
        return RangeAnswer::Full; // another unit: ignored (RFC 9110 §14.2)
    }
    let mut specs = value
        .get(6..)
        .unwrap_or_default()
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|spec| !spec.is_empty());
    let (Some(spec), None) = (specs.next(), specs.next()) else {
        return RangeAnswer::Full; // none, or several
    };
    let Some(dash) = spec.iter().position(|&b| b == b'-') else { return RangeAnswer::Full };
    let (first, last) = (spec.get(..dash).unwrap_or_default(), spec.get(dash + 1..));
    let last = last.unwrap_or_default();
    if first.is_empty() {
        // A suffix: the last N bytes.
        return match number(last) {
            Some(Number::Value(0)) => RangeAnswer::Unsatisfiable,
            Some(Number::Value(n)) => {
                RangeAnswer::Partial { first: size.saturating_sub(n), last: size - 1 }
            }
            Some(Number::Huge) => RangeAnswer::Partial { first: 0, last: size - 1 },
            None => RangeAnswer::Full,
        };
    }
    let first = match number(first) {
        Some(Number::Value(first)) => first,
        Some(Number::Huge) => return RangeAnswer::Unsatisfiable,
        None => return RangeAnswer::Full,
    };
    let last = if last.is_empty() {
        u64::MAX
    } else {
        match number(last) {
            Some(Number::Value(last)) if last >= first => last,
            Some(Number::Huge) => u64::MAX,
            _ => return RangeAnswer::Full, // last before first: invalid, ignored
        }
    };
    if first >= size {
        return RangeAnswer::Unsatisfiable;
    }
    RangeAnswer::Partial { first, last: last.min(size - 1) }
}

/// A run of digits: its value, or too big for 64 bits (still a valid, if huge, position).
enum Number {
    Value(u64),
    Huge,
}

fn number(digits: &[u8]) -> Option<Number> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits
        .iter()
        .try_fold(0u64, |acc, &b| acc.checked_mul(10)?.checked_add(u64::from(b - b'0')));
    Some(value.map_or(Number::Huge, Number::Value))
}
