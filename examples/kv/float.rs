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
    let value: f64 = match parse_hex(text) {
        Some(hex) => hex?,
        None => text.parse().ok()?,
    };
    let mantissa = text.split(['e', 'E']).next().unwrap_or_default();
    let spelled_infinite = text.trim_start_matches(['+', '-']).starts_with(['i', 'I']);
    let spelled_zero = if text.contains(['x', 'X']) {
        let digits = text.bytes().skip_while(|b| !matches!(b, b'x' | b'X')).skip(1);
        !digits
            .take_while(|b| !matches!(b, b'p' | b'P'))
            .any(|b| b.is_ascii_hexdigit() && b != b'0')
    } else {
        !mantissa.bytes().any(|b| matches!(b, b'1'..=b'9'))
    };
    if value.is_nan()
        || (value.is_infinite() && !spelled_infinite)
        || (value == 0.0 && !spelled_zero)
    {
        return None;
    }
    Some(value)
}

/// A hexadecimal float as `strtold` reads it (`0x1.8p3`, `-0XAB`): `None` if `text` is not
/// one (no `0x` prefix), `Some(None)` if it is malformed.
fn parse_hex(text: &str) -> Option<Option<f64>> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let digits = unsigned.strip_prefix("0x").or_else(|| unsigned.strip_prefix("0X"))?;
    Some((|| {
        let (mantissa, exponent) = match digits.split_once(['p', 'P']) {
            Some((mantissa, exponent)) => (mantissa, exponent.parse::<i32>().ok()?),
            None => (digits, 0),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let mut value = 0.0f64;
        for digit in whole.chars() {
            value = value * 16.0 + f64::from(digit.to_digit(16)?);
        }
        let mut scale = 1.0 / 16.0;
        for digit in fraction.chars() {
            value += f64::from(digit.to_digit(16)?) * scale;
            scale /= 16.0;
        }
        let value = value * 2f64.powi(exponent);
        Some(if negative { -value } else { value })
    })())
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
