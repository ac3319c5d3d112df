//! The command line every example server shares: `--listen ADDR`, `--threads N` where the
//! server supports several loops, `--help`, and the options a server declares for itself.
//! Included by the examples with `#[path = "../common/args.rs"] mod args;`, so each example
//! stays a plain, dependency-free program.

use anyhow::{Context, Result, bail};
use ioman::net::Endpoint;

/// What one server accepts.
pub struct Spec {
    /// The program name, for `--help`.
    pub name: &'static str,
    /// The default `--listen` address.
    pub listen: &'static str,
    /// Whether `--threads N` is accepted.
    pub threads: bool,
    /// Extra `--flag VALUE` options: (flag without dashes, help text).
    pub options: &'static [(&'static str, &'static str)],
}

/// A parsed command line.
pub struct Args {
    /// Where to listen.
    pub listen: Endpoint,
    /// How many loops (1 unless the server accepts `--threads`).
    pub threads: usize,
    values: Vec<(&'static str, String)>,
}

impl Args {
    /// Parses `args` (without the program name) against `spec`; `--help` prints usage and
    /// exits.
    pub fn parse(spec: &Spec, mut args: impl Iterator<Item = String>) -> Result<Args> {
        let mut parsed = Args { listen: spec.listen.parse()?, threads: 1, values: Vec::new() };
        while let Some(arg) = args.next() {
            let value = |args: &mut dyn Iterator<Item = String>| {
                args.next().with_context(|| format!("{arg} needs a value"))
            };
            match arg.as_str() {
                "--help" | "-h" => {
                    println!("{}", usage(spec));
                    std::process::exit(0);
                }
                "--listen" => parsed.listen = value(&mut args)?.parse()?,
                "--threads" if spec.threads => {
                    parsed.threads = value(&mut args)?.parse()?;
                    if parsed.threads == 0 {
                        bail!("--threads must be at least 1");
                    }
                }
                flag => match spec
                    .options
                    .iter()
                    .find(|(name, _)| flag.strip_prefix("--") == Some(name))
                {
                    Some((name, _)) => parsed.values.push((name, value(&mut args)?)),
                    None => bail!("unknown argument {flag:?}; try --help"),
                },
            }
        }
        Ok(parsed)
    }

    /// The value given for `--name`, if any (the last one wins).
    #[allow(dead_code, reason = "not every server declares options")]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.iter().rev().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

fn usage(spec: &Spec) -> String {
    let mut text = format!("usage: {} [--listen ADDR]", spec.name);
    if spec.threads {
        text.push_str(" [--threads N]");
    }
    for (name, _) in spec.options {
        text.push_str(&format!(" [--{name} VALUE]"));
    }
    text.push_str(&format!(
        "\n  --listen ADDR   {} (default), [::1]:PORT or unix:/path/to.sock",
        spec.listen
    ));
    if spec.threads {
        text.push_str(
            "\n  --threads N     event loops, one per thread, sharing the port (default 1)",
        );
    }
    for (name, help) in spec.options {
        text.push_str(&format!("\n  --{name:<13} {help}"));
    }
    text
}
