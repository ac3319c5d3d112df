//! Just enough JSON for the harness without a serde dependency: parsing the flat one-line
//! objects our benchmark binaries print (strings, numbers, booleans, null; no nesting) and
//! writing strings and numbers.

use anyhow::{Result, bail};
use std::collections::BTreeMap;

/// One value of a flat JSON object.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// Any number.
    Num(f64),
    /// A string (escapes decoded).
    Str(String),
}

/// A flat JSON object: key to value.
pub type Object = BTreeMap<String, Value>;

/// Parses one flat object such as `{"a":1,"b":"x","c":null}`.
pub fn parse_object(s: &str) -> Result<Object> {
    let mut p = Parser { s: s.trim().as_bytes(), i: 0 };
    let mut obj = Object::new();
    p.expect(b'{')?;
    if p.peek() == Some(b'}') {
        p.i += 1;
        return p.end(obj);
    }
    loop {
        let key = p.string()?;
        p.expect(b':')?;
        let value = p.value()?;
        obj.insert(key, value);
        match p.next() {
            Some(b',') => continue,
            Some(b'}') => return p.end(obj),
            _ => bail!("expected ',' or '}}' at byte {} of {s:?}", p.i),
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }
    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.i).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }
    fn expect(&mut self, c: u8) -> Result<()> {
        match self.next() {
            Some(got) if got == c => Ok(()),
            got => {
                bail!("expected {:?} at byte {}, got {:?}", c as char, self.i, got.map(char::from))
            }
        }
    }
    fn end(&mut self, obj: Object) -> Result<Object> {
        match self.peek() {
            None => Ok(obj),
            Some(c) => bail!("trailing {:?} after the object", c as char),
        }
    }
    fn string(&mut self) -> Result<String> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            let Some(&c) = self.s.get(self.i) else { bail!("unterminated string") };
            self.i += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let Some(&e) = self.s.get(self.i) else { bail!("unterminated escape") };
                    self.i += 1;
                    out.push(match e {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'"' | b'\\' | b'/' => e as char,
                        _ => bail!("unsupported escape \\{}", e as char),
                    });
                }
                _ => {
                    // Copy one UTF-8 sequence whole.
                    let start = self.i - 1;
                    while self.s.get(self.i).is_some_and(|b| b & 0xC0 == 0x80) {
                        self.i += 1;
                    }
                    out.push_str(std::str::from_utf8(&self.s[start..self.i])?);
                }
            }
        }
    }
    fn value(&mut self) -> Result<Value> {
        match self.peek() {
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b'{' | b'[') => bail!("nested values are not supported"),
            Some(_) => {
                let start = self.i;
                while self.s.get(self.i).is_some_and(|c| !b",} \t\r\n".contains(c)) {
                    self.i += 1;
                }
                let word = std::str::from_utf8(&self.s[start..self.i])?;
                Ok(match word {
                    "null" => Value::Null,
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    n => Value::Num(n.parse().map_err(|_| anyhow::anyhow!("bad value {n:?}"))?),
                })
            }
            None => bail!("missing value"),
        }
    }
}

/// A field as a number, if it is one.
pub fn num(obj: &Object, key: &str) -> Option<f64> {
    match obj.get(key) {
        Some(Value::Num(n)) => Some(*n),
        _ => None,
    }
}

/// A field as a string, if it is one.
pub fn str<'a>(obj: &'a Object, key: &str) -> Option<&'a str> {
    match obj.get(key) {
        Some(Value::Str(s)) => Some(s),
        _ => None,
    }
}

/// `s` as a JSON string literal.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A number as JSON (`null` when absent or not finite).
pub fn number(n: Option<f64>) -> String {
    match n {
        Some(n) if n.is_finite() => format!("{n}"),
        _ => "null".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flat_objects() {
        let o = parse_object(r#" {"a": 1.5, "b":"x\"y", "c":null, "d":true, "e":-2e3} "#).unwrap();
        assert_eq!(num(&o, "a"), Some(1.5));
        assert_eq!(str(&o, "b"), Some("x\"y"));
        assert_eq!(o.get("c"), Some(&Value::Null));
        assert_eq!(o.get("d"), Some(&Value::Bool(true)));
        assert_eq!(num(&o, "e"), Some(-2000.0));
        assert!(parse_object("{}").unwrap().is_empty());
    }

    #[test]
    fn rejects_malformed_input() {
        for bad in ["", "{", r#"{"a":}"#, r#"{"a":1"#, r#"{"a":[1]}"#, r#"{"a":1} x"#, "{a:1}"] {
            assert!(parse_object(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn quotes_and_numbers_round_trip() {
        let q = quote("a\"b\\c\nd");
        let o = parse_object(&format!("{{\"k\":{q},\"n\":{}}}", number(Some(0.25)))).unwrap();
        assert_eq!(str(&o, "k"), Some("a\"b\\c\nd"));
        assert_eq!(num(&o, "n"), Some(0.25));
        assert_eq!(number(None), "null");
        assert_eq!(number(Some(f64::NAN)), "null");
    }
}
