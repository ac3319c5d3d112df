//! Floats as Redis reads and writes them (INCRBYFLOAT): what `string2ld` accepts, and the
//! shortest decimal that reads back to the same value, never in exponent form.

/// Parses a float as Redis's `string2ld` accepts it: what `strtold` reads in full (decimal,
/// exponent, `inf`), no leading space, not NaN, not out of range (overflow to infinity or
/// underflow to zero of a literal that is not itself infinite or zero).
pub fn parse_float(text: &[u8]) -> Option<f64> {
    if text.is_empty() || text.len() >= 5 * 1024 {
        return None;
    }
    let text = std::str::from_utf8(text).ok()?;
    let value: f64 = text.parse().ok()?;
    let mantissa = text.split(['e', 'E']).next().unwrap_or_default();
    let spelled_infinite = text.trim_start_matches(['+', '-']).starts_with(['i', 'I']);
    let spelled_zero = !mantissa.bytes().any(|b| matches!(b, b'1'..=b'9'));
    if value.is_nan()
        || (value.is_infinite() && !spelled_infinite)
        || (value == 0.0 && !spelled_zero)
    {
        return None;
    }
    Some(value)
}

/// Formats a finite float as Redis's INCRBYFLOAT does (`%.17Lf` with trailing zeros and a
/// trailing point removed, `-0` as `0`), but from the shortest decimal that round-trips the
/// `f64`: `10.5 + 0.1` is `10.6`, `5e3 + 2e2` is `5200`, and values are never written in
/// exponent form. Digits beyond the 17th decimal place are rounded away, as `%.17Lf` does.
pub fn format_float(value: f64) -> String {
    let mut text = value.to_string();
    if text.split_once('.').is_some_and(|(_, decimals)| decimals.len() > 17) {
        text = format!("{value:.17}");
        while text.ends_with('0') {
            text.pop();
        }
        if text.ends_with('.') {
            text.pop();
        }
    }
    if text == "-0" {
        text.replace_range(.., "0");
    }
    text
}
