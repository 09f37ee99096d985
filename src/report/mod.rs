//! Reports: the analysis as text for a person, as JSON for CI.

pub mod json;
pub mod text;

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

#[cfg(test)]
mod tests {
    use super::*;

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
