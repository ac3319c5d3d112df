//! Glob-style patterns as Redis matches them (`stringmatchlen` in `util.c`), for KEYS, SCAN's
//! MATCH and CONFIG GET: `*`, `?`, `[abc]`, `[^abc]`, `[a-z]` (ends in either order), and `\`
//! escapes, byte for byte, including Redis's corner cases: an unclosed `[` matches as if
//! closed, a range compares bytes as C's signed `char`, and recursion on `*` stops at a
//! nesting of 1000 (no match), which with the early exit on a failed `*` keeps abusive patterns
//! such as `a*a*a*...b` from taking exponential time.

/// Whether `string` matches `pattern`; `nocase` folds ASCII case (CONFIG GET).
pub fn matches(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    match_at(pattern, string, nocase, &mut skip_longer, 0)
}

/// The byte C would read at `i`: 0 past the end (Redis's strings are NUL-terminated).
fn at(bytes: &[u8], i: usize) -> u8 {
    bytes.get(i).copied().unwrap_or(0)
}

fn fold(b: u8, nocase: bool) -> u8 {
    if nocase { b.to_ascii_lowercase() } else { b }
}

fn match_at(
    pattern: &[u8],
    string: &[u8],
    nocase: bool,
    skip_longer: &mut bool,
    nesting: u32,
) -> bool {
    if nesting > 1000 {
        return false;
    }
    let (mut p, mut s) = (0, 0);
    while p < pattern.len() && s < string.len() {
        match pattern[p] {
            b'*' => {
                while p + 1 < pattern.len() && pattern[p + 1] == b'*' {
                    p += 1;
                }
                if p + 1 == pattern.len() {
                    return true;
                }
                while s < string.len() {
                    if match_at(&pattern[p + 1..], &string[s..], nocase, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s += 1;
                }
                *skip_longer = true;
                return false;
            }
            b'?' => s += 1,
            b'[' => {
                p += 1;
                let not = at(pattern, p) == b'^';
                if not {
                    p += 1;
                }
                let c = string[s];
                let mut matched = false;
                loop {
                    let left = pattern.len().saturating_sub(p);
                    if at(pattern, p) == b'\\' && left >= 2 {
                        p += 1;
                        if pattern[p] == c {
                            matched = true;
                        }
                    } else if at(pattern, p) == b']' && left > 0 {
                        break;
                    } else if left == 0 {
                        p -= 1;
                        break;
                    } else if left >= 3 && pattern[p + 1] == b'-' {
                        // C's `char` is signed here: bytes from 0x80 sort below ASCII.
                        let (mut start, mut end) = (pattern[p] as i8, pattern[p + 2] as i8);
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        let mut ch = c as i8;
                        if nocase {
                            start = (start as u8).to_ascii_lowercase() as i8;
                            end = (end as u8).to_ascii_lowercase() as i8;
                            ch = (ch as u8).to_ascii_lowercase() as i8;
                        }
                        p += 2;
                        if (start..=end).contains(&ch) {
                            matched = true;
                        }
                    } else if fold(pattern[p], nocase) == fold(c, nocase) {
                        matched = true;
                    }
                    p += 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s += 1;
            }
            first => {
                let mut literal = first;
                if first == b'\\' && pattern.len() - p >= 2 {
                    p += 1;
                    literal = pattern[p];
                }
                if fold(literal, nocase) != fold(string[s], nocase) {
                    return false;
                }
                s += 1;
            }
        }
        p += 1;
        if s == string.len() {
            while at(pattern, p) == b'*' && p < pattern.len() {
                p += 1;
            }
            break;
        }
    }
    p >= pattern.len() && s == string.len()
}
