//! The random commands of `kv-diff`: every command kv supports, with edge arguments and
//! errors, drawn from a seeded generator so a run is reproducible. Times are chosen so that
//! nothing expires during a run except at once (a past absolute time, a zero or negative
//! relative one): a key that expires between two servers' clocks would be a false difference.

use std::time::{SystemTime, UNIX_EPOCH};

/// How the two replies of a command are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    /// Byte for byte.
    Exact,
    /// An array compared as a sorted list (KEYS: hash order differs).
    Sorted,
    /// An integer that may differ by this much (TTLs read two clocks); exact if negative.
    Near(i64),
    /// A bulk string compared only as nil or not (RANDOMKEY).
    NilOrNot,
    /// Followed to the end, the union of the keys compared (SCAN cursors differ).
    ScanAll,
    /// Only the keyspace counts of the reply (INFO).
    Info,
    /// An array of field/value pairs with `server`, `version` and `id` masked (HELLO).
    Hello,
    /// Any integer (CLIENT ID).
    AnyInteger,
    /// Field/value pairs compared sorted (CONFIG GET).
    Pairs,
    /// A float result that may differ in its last digits: kv computes in `f64`, Redis in
    /// `long double` (INCRBYFLOAT). Close results count as the same, and so does kv's refusal
    /// of a value only a `long double` holds (beyond 1.8e308); kv's key is then set to Redis's
    /// value so that later commands see the same bytes.
    Float,
}

/// A seeded splitmix64.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const KEYS: &[&str] = &[
    "k0", "k1", "k2", "k3", "k4", "k5", "num", "flt", "a*b", "h[e]llo", "x?y", "hallo", "hello",
    "A", "b\\c",
];
const ODD_KEYS: &[&[u8]] = &[b"", b"bin\x00\xff", b"key with space", b"\xc3\xa9t\xc3\xa9"];
const VALUES: &[&str] = &[
    "v",
    "",
    "hello world",
    "10",
    "-5",
    "0",
    "9223372036854775807",
    "-9223372036854775808",
    "1.5",
    "-2.25",
    "3e2",
    "abc",
    "007",
    " 1",
    "1 ",
];
const INTS: &[&str] = &[
    "0",
    "1",
    "-1",
    "5",
    "100",
    "-100",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "abc",
    "",
    "1.5",
    "+1",
    "01",
    " 1",
];
const FLOATS: &[&str] = &[
    "1", "-1", "0.5", "-0.25", "2.5", "1e2", "-3e1", "abc", "", "inf", "-inf", "nan", "1e5000",
    "0x10", "-0x1.8p1", "0x", "  1",
];
const PATTERNS: &[&str] = &[
    "*",
    "k*",
    "k?",
    "h[ae]llo",
    "h[^e]llo",
    "h[a-f]llo",
    "h[f-a]llo",
    "*\\**",
    "x\\?y",
    "[",
    "[^",
    "a*b",
    "*o",
    "?",
    "??",
    "[\\]",
    "b\\\\c",
    "h*[l]*o",
    "*[",
    "\\",
    "",
];

/// Draws commands. SCAN's TYPE is never `none`: Redis 7.0 matches it to keys that expired but
/// are not yet removed (a key SET with a past EXAT stays until its expire cycle), which kv
/// removes at once.
pub struct Gen {
    rng: Rng,
    now_s: i64,
}

fn b(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

impl Gen {
    pub fn new(seed: u64) -> Gen {
        let now_s = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        Gen { rng: Rng::new(seed), now_s }
    }

    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    fn key(&mut self) -> Vec<u8> {
        if self.rng.chance(4) {
            ODD_KEYS[self.rng.below(ODD_KEYS.len())].to_vec()
        } else {
            b(self.rng.pick(KEYS))
        }
    }

    fn value(&mut self) -> Vec<u8> {
        if self.rng.chance(3) {
            return vec![b'x'; 1 + self.rng.below(3000)];
        }
        b(self.rng.pick(VALUES))
    }

    fn int(&mut self) -> Vec<u8> {
        if self.rng.chance(60) {
            return (self.rng.below(21) as i64 - 10).to_string().into_bytes();
        }
        b(self.rng.pick(INTS))
    }

    /// A relative time: long enough never to expire during a run, or not positive, or bad.
    fn rel(&mut self, ms: bool) -> Vec<u8> {
        let scale = if ms { 1000 } else { 1 };
        match self.rng.below(10) {
            0 => b("0"),
            1 => b("-5"),
            2 => b(self.rng.pick(&[
                "abc",
                "",
                "1.5",
                "9223372036854775807",
                "9223372036854775",
                "-9223372036854775808",
                "9223372036854775807000",
            ])),
            _ => ((1000 + self.rng.below(100_000)) as i64 * scale).to_string().into_bytes(),
        }
    }

    /// An absolute time: in the past, far in the future, or bad.
    fn abs(&mut self, ms: bool) -> Vec<u8> {
        let scale = if ms { 1000 } else { 1 };
        match self.rng.below(8) {
            0 => ((1 + self.rng.below(1_000_000)) as i64 * scale).to_string().into_bytes(),
            1 => b(self.rng.pick(&["0", "-1", "abc", "9223372036854775807", "9223372036854775"])),
            _ => ((self.now_s + 10_000 + self.rng.below(1_000_000) as i64) * scale)
                .to_string()
                .into_bytes(),
        }
    }

    fn expire_time(&mut self, kind: &str) -> Vec<u8> {
        match kind.to_ascii_lowercase().as_str() {
            "ex" => self.rel(false),
            "px" => self.rel(true),
            "exat" => self.abs(false),
            _ => self.abs(true),
        }
    }

    /// One command and how to compare its replies.
    pub fn command(&mut self) -> (Vec<Vec<u8>>, Compare) {
        let r = &mut self.rng;
        let which = r.below(100);
        let mut args: Vec<Vec<u8>> = Vec::new();
        let mut compare = Compare::Exact;
        let name = match which {
            0..=9 => "SET",
            10..=15 => "GET",
            16..=17 => "GETEX",
            18..=19 => "DEL",
            20 => "UNLINK",
            21..=22 => "EXISTS",
            23 => "TOUCH",
            24..=25 => "TYPE",
            26..=27 => "KEYS",
            28..=29 => "SCAN",
            30..=31 => "RENAME",
            32 => "RENAMENX",
            33..=34 => "COPY",
            35 => "RANDOMKEY",
            36..=37 => "INCR",
            38 => "DECR",
            39 => "INCRBY",
            40 => "DECRBY",
            41..=42 => "INCRBYFLOAT",
            43..=44 => "MSET",
            45 => "MSETNX",
            46..=47 => "MGET",
            48..=49 => "APPEND",
            50 => "STRLEN",
            51..=52 => "GETRANGE",
            53..=54 => "SETRANGE",
            55 => "GETSET",
            56 => "GETDEL",
            57 => "SETNX",
            58 => "SETEX",
            59 => "PSETEX",
            60..=62 => "EXPIRE",
            63..=64 => "PEXPIRE",
            65..=66 => "EXPIREAT",
            67 => "PEXPIREAT",
            68..=69 => "TTL",
            70..=71 => "PTTL",
            72..=73 => "EXPIRETIME",
            74 => "PEXPIRETIME",
            75..=76 => "PERSIST",
            77 => "DBSIZE",
            78 => {
                if r.chance(50) {
                    "FLUSHDB"
                } else {
                    "FLUSHALL"
                }
            }
            79 => "SELECT",
            80 => "HELLO",
            81..=82 => "CLIENT",
            83 => "INFO",
            84 => "CONFIG",
            85 => "PING",
            86 => "ECHO",
            87 => "NOSUCHCOMMAND",
            _ => "SET",
        };
        let mut name_arg = b(name);
        if r.chance(20) {
            name_arg = name.to_ascii_lowercase().into_bytes();
        }
        args.push(name_arg);
        match name {
            "SET" => {
                args.push(self.key());
                args.push(self.value());
                let options = ["NX", "XX", "GET", "KEEPTTL", "EX", "PX", "EXAT", "PXAT", "BAD"];
                for _ in 0..self.rng.below(3) {
                    let option = options[self.rng.below(options.len())];
                    args.push(b(option));
                    if ["EX", "PX", "EXAT", "PXAT"].contains(&option) && !self.rng.chance(3) {
                        let time = self.expire_time(option);
                        args.push(time);
                    }
                }
            }
            "GETEX" => {
                args.push(self.key());
                let options = ["EX", "PX", "EXAT", "PXAT", "PERSIST", "KEEPTTL", "NX"];
                for _ in 0..self.rng.below(3) {
                    let option = options[self.rng.below(options.len())];
                    args.push(b(option));
                    if ["EX", "PX", "EXAT", "PXAT"].contains(&option) && !self.rng.chance(3) {
                        let time = self.expire_time(option);
                        args.push(time);
                    }
                }
            }
            "GET" | "STRLEN" | "TYPE" | "GETDEL" | "INCR" | "DECR" | "PERSIST" => {
                args.push(self.key())
            }
            "TTL" | "EXPIRETIME" => {
                args.push(self.key());
                compare = Compare::Near(1);
            }
            "PTTL" | "PEXPIRETIME" => {
                args.push(self.key());
                compare = Compare::Near(50);
            }
            "DEL" | "UNLINK" | "EXISTS" | "TOUCH" | "MGET" => {
                for _ in 0..1 + self.rng.below(4) {
                    args.push(self.key());
                }
            }
            "KEYS" => {
                args.push(b(self.rng.pick(PATTERNS)));
                compare = Compare::Sorted;
            }
            "SCAN" => {
                let cursors = [
                    "0",
                    "0",
                    "0",
                    "0",
                    "",
                    "abc",
                    " 1",
                    "1x",
                    "+",
                    "-",
                    "99999999999999999999999",
                ];
                let cursor = self.rng.pick(&cursors);
                args.push(b(cursor));
                compare = Compare::ScanAll;
                for _ in 0..self.rng.below(3) {
                    match self.rng.below(5) {
                        0 => args.extend([b("MATCH"), b(self.rng.pick(PATTERNS))]),
                        1 => args.extend([
                            b("COUNT"),
                            b(self.rng.pick(&["1", "2", "5", "100", "0", "-1", "x"])),
                        ]),
                        2 => args.extend([
                            b("TYPE"),
                            b(self.rng.pick(&["string", "STRING", "list", "hash"])),
                        ]),
                        3 => args.push(b("COUNT")),
                        _ => args.extend([b("BAD"), b("1")]),
                    }
                }
            }
            "RENAME" | "RENAMENX" => {
                args.push(self.key());
                let to = if self.rng.chance(10) { args[1].clone() } else { self.key() };
                args.push(to);
            }
            "COPY" => {
                args.push(self.key());
                let to = if self.rng.chance(10) { args[1].clone() } else { self.key() };
                args.push(to);
                for _ in 0..self.rng.below(3) {
                    match self.rng.below(4) {
                        0 => args.push(b("REPLACE")),
                        1 => args.extend([
                            b("DB"),
                            b(self.rng.pick(&["0", "-1", "16", "x", "99999999999"])),
                        ]),
                        2 => args.push(b("DB")),
                        _ => args.push(b("BAD")),
                    }
                }
            }
            "RANDOMKEY" => compare = Compare::NilOrNot,
            "INCRBY" | "DECRBY" => {
                args.push(self.key());
                args.push(self.int());
            }
            "INCRBYFLOAT" => {
                args.push(self.key());
                args.push(b(self.rng.pick(FLOATS)));
                compare = Compare::Float;
            }
            "MSET" | "MSETNX" => {
                for _ in 0..1 + self.rng.below(3) {
                    args.push(self.key());
                    args.push(self.value());
                }
                if self.rng.chance(10) {
                    args.pop();
                }
            }
            "APPEND" | "GETSET" | "SETNX" => {
                args.push(self.key());
                args.push(self.value());
            }
            "GETRANGE" => {
                args.push(self.key());
                args.push(self.int());
                args.push(self.int());
            }
            "SETRANGE" => {
                args.push(self.key());
                let offset = if self.rng.chance(5) {
                    b(self.rng.pick(&["536870913", "-1", "x"]))
                } else {
                    self.rng.below(40).to_string().into_bytes()
                };
                args.push(offset);
                args.push(self.value());
            }
            "SETEX" | "PSETEX" => {
                args.push(self.key());
                let time = self.rel(name == "PSETEX");
                args.push(time);
                args.push(self.value());
            }
            "EXPIRE" | "PEXPIRE" | "EXPIREAT" | "PEXPIREAT" => {
                args.push(self.key());
                let time = match name {
                    "EXPIRE" => self.rel(false),
                    "PEXPIRE" => self.rel(true),
                    "EXPIREAT" => self.abs(false),
                    _ => self.abs(true),
                };
                args.push(time);
                for _ in 0..self.rng.below(3) {
                    args.push(b(self.rng.pick(&["NX", "XX", "GT", "LT", "gt", "BAD"])));
                }
            }
            "DBSIZE" => {}
            "FLUSHDB" | "FLUSHALL" => {
                if self.rng.chance(50) {
                    args.push(b(self.rng.pick(&["ASYNC", "SYNC", "sync", "BAD"])));
                }
            }
            "SELECT" => args.push(b(self.rng.pick(&["0", "-1", "16", "x", "99999999999", "00"]))),
            "HELLO" => {
                compare = Compare::Hello;
                match self.rng.below(7) {
                    0 => {}
                    1 => args.push(b("2")),
                    2 => args.push(b(self.rng.pick(&["4", "1", "x", "-1"]))),
                    3 => args.extend([b("2"), b("SETNAME"), b(self.rng.pick(&["n1", "a b", ""]))]),
                    4 => args.extend([
                        b("2"),
                        b("AUTH"),
                        b(self.rng.pick(&["default", "bob"])),
                        b("pw"),
                    ]),
                    5 => args.extend([b("2"), b("BAD")]),
                    _ => args.extend([b("2"), b("SETNAME")]),
                }
            }
            "CLIENT" => match self.rng.below(6) {
                0 => {
                    args.push(b("ID"));
                    compare = Compare::AnyInteger;
                }
                1 => args.push(b("GETNAME")),
                2 => {
                    args.extend([b("SETNAME"), b(self.rng.pick(&["name", "x-1", "a b", "", "é"]))])
                }
                3 => args.extend([b("GETNAME"), b("x")]),
                4 => args.push(b("SETNAME")),
                _ => args.push(b("NOPE")),
            },
            "INFO" => {
                compare = Compare::Info;
                if self.rng.chance(50) {
                    args.push(b(self.rng.pick(&[
                        "keyspace",
                        "KEYSPACE",
                        "all",
                        "default",
                        "everything",
                    ])));
                }
            }
            "CONFIG" => {
                compare = Compare::Pairs;
                args.push(b("GET"));
                for _ in 0..1 + self.rng.below(3) {
                    args.push(b(self.rng.pick(&[
                        "save",
                        "appendonly",
                        "maxmemory",
                        "maxmemory-policy",
                        "timeout",
                        "SAVE",
                        "nothing",
                        "appendonl?",
                        "maxmemory-polic[xy]",
                        "sav*",
                        "zzz*",
                    ])));
                }
            }
            "PING" => {
                if self.rng.chance(50) {
                    args.push(self.value());
                }
            }
            "ECHO" => args.push(self.value()),
            _ => args.push(self.value()),
        }
        // Now and then, a wrong number of arguments.
        if self.rng.chance(2) && args.len() > 1 {
            args.truncate(1);
        }
        (args, compare)
    }
}
