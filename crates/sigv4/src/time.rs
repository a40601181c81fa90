//! The timestamps SigV4 carries (`yyyymmddThhmmssZ`, and the HTTP `Date` format), as Unix
//! seconds; hand-written civil-date arithmetic so the crate needs no date library.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch; times before it count as 0 (no client signs in 1969).
pub(crate) fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (the inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Seconds since the epoch of a checked calendar time, `None` for an impossible one.
fn to_unix(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<u64> {
    // Leap seconds (":60") are not accepted: AWS's parsers reject them too.
    let valid = (1970..=9999).contains(&y)
        && (1..=12).contains(&mo)
        && d >= 1
        && d <= days_in_month(y, mo)
        && h < 24
        && mi < 60
        && s < 60;
    if !valid {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    u64::try_from(days * 86_400 + i64::from(h * 3600 + mi * 60 + s)).ok()
}

/// Parses the ISO 8601 basic format SigV4 signs with: `20150830T123600Z`.
pub(crate) fn parse_amz_date(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r).and_then(digits);
    to_unix(
        i64::from(n(0..4)?),
        n(4..6)?,
        n(6..8)?,
        n(9..11)?,
        n(11..13)?,
        n(13..15)?,
    )
}

/// Parses an HTTP `Date` header in the IMF-fixdate form (`Sun, 30 Aug 2015 12:36:00 GMT`),
/// which SigV4 accepts in place of `X-Amz-Date`; a numeric zone (`+0000`, RFC 1123 as
/// SigV2 clients write it) is understood too.
pub(crate) fn parse_http_date(s: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let rest = s.trim().split_once(", ")?.1;
    let mut it = rest.split(' ');
    let (d, mon, y, hms, zone) = (it.next()?, it.next()?, it.next()?, it.next()?, it.next()?);
    if it.next().is_some() {
        return None;
    }
    let offset: i64 = match zone {
        "GMT" | "UT" | "UTC" => 0,
        z if z.len() == 5 && (z.starts_with('+') || z.starts_with('-')) => {
            let hhmm = digits(&z[1..])?;
            let secs = i64::from(hhmm / 100 * 3600 + hhmm % 100 * 60);
            if z.starts_with('-') {
                -secs
            } else {
                secs
            }
        }
        _ => return None,
    };
    let mo = MONTHS.iter().position(|m| *m == mon)? as u32 + 1;
    let mut t = hms.split(':');
    let (h, mi, sec) = (t.next()?, t.next()?, t.next()?);
    if t.next().is_some() || [h, mi, sec].iter().any(|p| p.len() != 2) || d.len() != 2 {
        return None;
    }
    let local = to_unix(
        i64::from(digits(y)?),
        mo,
        digits(d)?,
        digits(h)?,
        digits(mi)?,
        digits(sec)?,
    )?;
    u64::try_from(i64::try_from(local).ok()? - offset).ok()
}

/// Formats Unix seconds as `yyyymmddThhmmssZ`.
pub fn format_amz_date(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let (y, m, d) = civil_from_days(days);
    let rem = secs % 86_400;
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_test_suite_date() {
        let t = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(t, 1_440_938_160);
        assert_eq!(format_amz_date(t), "20150830T123600Z");
        assert_eq!(
            parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT"),
            Some(1_440_938_160)
        );
    }

    #[test]
    fn rejects_impossible_and_garbled_dates() {
        for bad in [
            "",
            "20150830T123600",
            "20150230T123600Z",
            "20150830T243600Z",
            "2015083OT123600Z",
            "+0150830T123600Z",
            "20150830t123600z",
            "2015-08-30T12:36:00Z",
            "19690830T123600Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
        assert_eq!(parse_amz_date("20160229T000000Z"), Some(1_456_704_000));
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 EST"), None);
        assert_eq!(
            parse_http_date("Sun, 30 Aug 2015 14:36:00 +0200"),
            Some(1_440_938_160)
        );
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 +02x0"), None);
        assert_eq!(parse_http_date("30 Aug 2015 12:36:00 GMT"), None);
    }

    #[test]
    fn formats_every_day_of_a_leap_cycle_consistently() {
        let mut t = 946_684_800; // 2000-01-01
        for _ in 0..(366 * 4 + 1) {
            assert_eq!(parse_amz_date(&format_amz_date(t)), Some(t));
            t += 86_400 + 3_661;
        }
    }
}
