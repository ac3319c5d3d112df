//! A tiny `--flag value` parser shared by the benchmark binaries, so that none of them needs
//! an argument-parsing dependency and all of them reject typos the same way.

use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::str::FromStr;

/// Parsed `--name value` pairs; every flag takes exactly one value.
#[derive(Debug, Default)]
pub struct Flags {
    values: BTreeMap<String, String>,
}

impl Flags {
    /// Parses `args` (without the program name), accepting only the names in `known`.
    pub fn parse(args: impl IntoIterator<Item = String>, known: &[&str]) -> Result<Flags> {
        let mut values = BTreeMap::new();
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            let Some(name) = arg.strip_prefix("--") else {
                bail!("unexpected argument {arg:?}; flags look like --name value");
            };
            if !known.contains(&name) {
                bail!("unknown flag --{name}; known flags: --{}", known.join(", --"));
            }
            let value = it.next().with_context(|| format!("--{name} needs a value"))?;
            values.insert(name.to_owned(), value);
        }
        Ok(Flags { values })
    }

    /// The value of `--name` parsed as `T`, or `default` when the flag is absent.
    pub fn get<T: FromStr>(&self, name: &str, default: T) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        match self.values.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|e| anyhow::anyhow!("--{name} {v:?}: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Flags;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_known_flags_and_defaults() {
        let f = Flags::parse(args("--conns 7"), &["conns", "size"]).unwrap();
        assert_eq!(f.get("conns", 1u32).unwrap(), 7);
        assert_eq!(f.get("size", 64usize).unwrap(), 64);
    }

    #[test]
    fn rejects_unknown_missing_and_malformed() {
        assert!(Flags::parse(args("--nope 1"), &["conns"]).is_err());
        assert!(Flags::parse(args("--conns"), &["conns"]).is_err());
        assert!(Flags::parse(args("conns 1"), &["conns"]).is_err());
        let f = Flags::parse(args("--conns x"), &["conns"]).unwrap();
        assert!(f.get("conns", 1u32).is_err());
    }
}
