//! How numbers, times and text are shown: bytes in binary units, times in UTC, escaping.

/// `1.5 GiB`.
pub fn bytes(n: i64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = n.max(0) as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// `2026-11-22 03:00 UTC` from milliseconds since the epoch.
pub fn time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default()
}

/// `2026-11-22 04:00 CET (+01:00)`: a time in an app's own zone, with the offset, as people read
/// it (machine formats stay in UTC, see [`rfc3339`]). An unknown zone shows UTC.
pub fn in_zone(ms: i64, time_zone: &str) -> String {
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(tz).strftime("%Y-%m-%d %H:%M %Z (%:z)").to_string())
        .unwrap_or_default()
}

/// A log line's moment (RFC 3339, as stored) in `time_zone`, to the second: `2026-12-07
/// 04:00:05 CET`; as given when it cannot be read.
pub fn log_time(at: &str, time_zone: &str) -> String {
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    at.parse::<jiff::Timestamp>()
        .map(|t| t.to_zoned(tz).strftime("%Y-%m-%d %H:%M:%S %Z").to_string())
        .unwrap_or_else(|_| at.to_owned())
}

/// The same in RFC 3339, for `<time datetime>` and the API.
pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}

/// `1m 05s`, `2h 03m`, `850 ms`.
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1000 {
        return format!("{ms} ms");
    }
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// HTML-escapes text for the few responses built without a template.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query value or path segment.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_line_is_timed_in_the_apps_zone_to_the_second() {
        assert_eq!(log_time("2026-12-07T03:00:05.123Z", "Europe/Madrid"), "2026-12-07 04:00:05 CET");
        assert_eq!(log_time("2026-07-07T03:00:05Z", "Europe/Madrid"), "2026-07-07 05:00:05 CEST");
        assert_eq!(log_time("2026-12-07T03:00:05Z", "Nowhere/Else"), "2026-12-07 03:00:05 UTC");
        assert_eq!(log_time("garbled", "UTC"), "garbled");
    }

    #[test]
    fn sizes_times_and_durations_read_well() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 << 29), "1.5 GiB");
        assert_eq!(time(0), "1970-01-01 00:00 UTC");
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(65_000), "1m 05s");
        assert_eq!(duration(7_380_000), "2h 03m");
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(url_encode("/apps/a b?x=1"), "%2Fapps%2Fa%20b%3Fx%3D1");
    }
}
