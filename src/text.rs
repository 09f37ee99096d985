//! Text for people, a leaf every layer may use: sanitizing what comes from
//! packets, files and commands before it reaches a terminal, and time
//! formatting.

/// Makes a string from packets or files safe for a terminal: control
/// characters (escape sequences included) become `\xNN`/`\u{..}` escapes.
pub fn sanitize(s: &str) -> String {
    if !s.chars().any(needs_escape) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) {
            if (c as u32) < 0x100 {
                out.push_str(&format!("\\x{:02x}", c as u32));
            } else {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Formats nanoseconds since the epoch as seconds with microseconds.
pub fn fmt_time(ns: i64) -> String {
    format!(
        "{}.{:06}",
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000) / 1000
    )
}

/// Formats nanoseconds since the epoch as a UTC date and time with
/// microseconds: `2026-11-25 10:33:54.022584`.
pub fn fmt_utc(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let us = ns.rem_euclid(1_000_000_000) / 1000;
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{us:06}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(fmt_utc(0), "1970-01-01 00:00:00.000000");
        assert_eq!(
            fmt_utc(1_700_000_000_123_456_789),
            "2023-11-14 22:13:20.123456"
        );
        assert_eq!(
            fmt_utc(951_782_400_000_000_000),
            "2000-02-29 00:00:00.000000"
        );
        assert_eq!(
            fmt_utc(1_795_614_834_022_584_000),
            "2026-11-25 13:53:54.022584"
        );
        assert_eq!(fmt_utc(-1_000), "1969-12-31 23:59:59.999999");
    }

    #[test]
    fn sanitizes_escapes() {
        assert_eq!(sanitize("rs1-eth0"), "rs1-eth0");
        assert_eq!(sanitize("a\u{1b}[2Jb"), "a\\x1b[2Jb");
        assert_eq!(sanitize("x\ny\r\u{7f}"), "x\\x0ay\\x0d\\x7f");
        assert_eq!(sanitize("\u{202e}evil"), "\\u{202e}evil");
        assert_eq!(sanitize("\u{9b}31m"), "\\x9b31m");
    }

    #[test]
    fn formats_time() {
        assert_eq!(fmt_time(1_700_000_000_123_456_789), "1700000000.123456");
        assert_eq!(fmt_time(-1), "-1.999999");
    }
}
