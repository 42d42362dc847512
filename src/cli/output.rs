//! Small printing helpers shared by the subcommands.

use super::CliError;
use std::io::Write;

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Human-readable byte counts (KiB, MiB, GiB).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// `ls -l` style permission string, including setuid, setgid and sticky.
pub fn mode_string(type_char: char, mode: u32) -> String {
    let mut s = String::with_capacity(10);
    s.push(type_char);
    let bits = [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o040, 'r'),
        (0o020, 'w'),
        (0o010, 'x'),
        (0o004, 'r'),
        (0o002, 'w'),
        (0o001, 'x'),
    ];
    for (i, (bit, ch)) in bits.iter().enumerate() {
        let set = mode & bit != 0;
        let special = match i {
            2 => Some((0o4000, 's')),
            5 => Some((0o2000, 's')),
            8 => Some((0o1000, 't')),
            _ => None,
        };
        match special {
            Some((sbit, sch)) if mode & sbit != 0 => {
                s.push(if set { sch } else { sch.to_ascii_uppercase() })
            }
            _ => s.push(if set { *ch } else { '-' }),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_render_like_ls() {
        assert_eq!(mode_string('-', 0o600), "-rw-------");
        assert_eq!(mode_string('-', 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string('d', 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string('-', 0o2640), "-rw-r-S---");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }
}
