//! Event time: a UTC instant with nanosecond precision, written as RFC 3339 with nine
//! fractional digits so that string order is time order.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Nanoseconds since the Unix epoch; `i64` covers the years 1677 to 2262.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// Epoch numbers below these bounds are read in seconds, milliseconds and microseconds;
/// anything larger is nanoseconds. 1e11 s is the year 5138, so no real timestamp in one
/// unit is mistaken for another.
const SECONDS_BELOW: f64 = 1e11;
const MILLIS_BELOW: f64 = 1e14;
const MICROS_BELOW: f64 = 1e17;

impl Timestamp {
    pub const fn from_unix_nanos(nanos: i64) -> Self {
        Timestamp(nanos)
    }

    pub const fn unix_nanos(self) -> i64 {
        self.0
    }

    pub fn now() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Timestamp(i64::try_from(nanos).unwrap_or(i64::MAX))
    }

    /// Parses RFC 3339 with any offset (normalized to UTC) and any fraction length. A
    /// space instead of `T` is accepted, as RFC 3339 itself allows.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        if let Some(parsed) = Self::parse_utc(text.as_bytes()) {
            return Some(parsed);
        }
        let text = text.trim();
        if text.len() < 20 || !text.is_ascii() {
            return None;
        }
        let parsed = if text.as_bytes()[10] == b' ' {
            let fixed = format!("{}T{}", &text[..10], &text[11..]);
            OffsetDateTime::parse(&fixed, &Rfc3339)
        } else {
            OffsetDateTime::parse(text, &Rfc3339)
        };
        let nanos = parsed.ok()?.unix_timestamp_nanos();
        i64::try_from(nanos).ok().map(Timestamp)
    }

    /// The form logpipe writes, `YYYY-MM-DDTHH:MM:SS[.fraction]Z` with fields in their
    /// ordinary ranges, read without the general parser; anything else is left to it.
    fn parse_utc(text: &[u8]) -> Option<Self> {
        if text.len() < 20 || text[text.len() - 1] != b'Z' {
            return None;
        }
        let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
        if separators.iter().any(|(at, byte)| text[*at] != *byte) {
            return None;
        }
        let number = |digits: &[u8]| -> Option<i64> {
            let mut n = 0i64;
            for b in digits {
                let digit = b.wrapping_sub(b'0');
                if digit > 9 {
                    return None;
                }
                n = n * 10 + i64::from(digit);
            }
            Some(n)
        };
        let (year, month, day) = (
            number(&text[0..4])?,
            number(&text[5..7])?,
            number(&text[8..10])?,
        );
        let (hour, minute, second) = (
            number(&text[11..13])?,
            number(&text[14..16])?,
            number(&text[17..19])?,
        );
        let fraction = &text[19..text.len() - 1];
        let nanos = match fraction {
            [] => 0,
            [b'.', rest @ ..] if (1..=9).contains(&rest.len()) => {
                number(rest)? * 10i64.pow(9 - rest.len() as u32)
            }
            _ => return None,
        };
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        if day < 1 || day > days_in_month || hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let year_of_era = y - era * 400;
        let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        let days = era * 146_097 + day_of_era - 719_468;
        let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second;
        seconds
            .checked_mul(1_000_000_000)?
            .checked_add(nanos)
            .map(Timestamp)
    }

    /// Reads an epoch number whose unit (s, ms, µs, ns) follows from its magnitude.
    /// Zero and negative numbers are rejected: they stand for "unset" far more often than
    /// for 1970.
    pub fn from_epoch(value: f64) -> Option<Self> {
        if !value.is_finite() || value <= 0.0 {
            return None;
        }
        let nanos_per_unit: f64 = if value < SECONDS_BELOW {
            1e9
        } else if value < MILLIS_BELOW {
            1e6
        } else if value < MICROS_BELOW {
            1e3
        } else {
            1.0
        };
        // Whole units and the fraction separately: `value * 1e9` alone would lose the
        // sub-microsecond digits to f64's 53-bit mantissa.
        let whole = (value.trunc() as i128).checked_mul(nanos_per_unit as i128)?;
        let fraction = (value.fract() * nanos_per_unit).round() as i128;
        i64::try_from(whole + fraction).ok().map(Timestamp)
    }

    /// Like [`Timestamp::from_epoch`] for integers, without the precision loss of `f64`.
    pub fn from_epoch_int(value: i128) -> Option<Self> {
        if value <= 0 {
            return None;
        }
        let nanos = if value < SECONDS_BELOW as i128 {
            value * NANOS_PER_SEC
        } else if value < MILLIS_BELOW as i128 {
            value * 1_000_000
        } else if value < MICROS_BELOW as i128 {
            value * 1_000
        } else {
            value
        };
        i64::try_from(nanos).ok().map(Timestamp)
    }

    /// Reads a timestamp from an application's JSON value: an RFC 3339 string, or an epoch
    /// number (also when written as a string).
    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        match value {
            serde_json::Value::String(text) => Self::parse_rfc3339(text).or_else(|| {
                let text = text.trim();
                if let Ok(int) = text.parse::<i128>() {
                    Self::from_epoch_int(int)
                } else if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                    text.parse::<f64>().ok().and_then(Self::from_epoch)
                } else {
                    None
                }
            }),
            serde_json::Value::Number(number) => {
                if let Some(int) = number.as_i64() {
                    Self::from_epoch_int(i128::from(int))
                } else if let Some(int) = number.as_u64() {
                    Self::from_epoch_int(i128::from(int))
                } else {
                    number.as_f64().and_then(Self::from_epoch)
                }
            }
            _ => None,
        }
    }

    /// The UTC calendar day, `YYYY-MM-DD`.
    pub fn utc_day(self) -> String {
        let rendered = self.to_string();
        rendered[..10].to_owned()
    }
}

impl Timestamp {
    /// The RFC 3339 text, written by hand into a fixed buffer: every event carries two
    /// timestamps, and the general formatting machinery was a measurable share of the
    /// collector's time per event.
    pub(crate) fn rfc3339_bytes(self) -> [u8; 30] {
        let nanos = self.0;
        let seconds = nanos.div_euclid(1_000_000_000);
        let fraction = nanos.rem_euclid(1_000_000_000) as u32;
        let days = seconds.div_euclid(86_400);
        let second_of_day = seconds.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        let mut buffer = *b"0000-00-00T00:00:00.000000000Z";
        put_digits(&mut buffer[0..4], year as u32);
        put_digits(&mut buffer[5..7], month);
        put_digits(&mut buffer[8..10], day);
        put_digits(&mut buffer[11..13], second_of_day / 3600);
        put_digits(&mut buffer[14..16], second_of_day / 60 % 60);
        put_digits(&mut buffer[17..19], second_of_day % 60);
        put_digits(&mut buffer[20..29], fraction);
        buffer
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let buffer = self.rfc3339_bytes();
        // Only ASCII digits and separators were written.
        f.write_str(std::str::from_utf8(&buffer).map_err(|_| fmt::Error)?)
    }
}

/// Writes `value` as zero-padded decimal filling `out`.
fn put_digits(out: &mut [u8], mut value: u32) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let buffer = self.rfc3339_bytes();
        serializer.serialize_str(std::str::from_utf8(&buffer).map_err(serde::ser::Error::custom)?)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Borrowed from the input when it can be: no allocation per event.
        let text = super::Text::<'de>::deserialize(deserializer)?;
        let text = text.as_str();
        Timestamp::parse_rfc3339(text)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid RFC 3339 timestamp {text:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn the_fast_utc_reading_agrees_with_the_general_parser(
            seconds in -5_000_000_000i64..9_000_000_000i64,
            nanos in 0u32..1_000_000_000,
            digits in 0usize..10,
        ) {
            let instant = OffsetDateTime::from_unix_timestamp(seconds).unwrap()
                + time::Duration::nanoseconds(i64::from(nanos));
            let full = instant.format(&Rfc3339).unwrap();
            // `time` writes the fraction's significant digits; cut or pad it to `digits`.
            let (head, fraction) = full.trim_end_matches('Z').split_at(19);
            let fraction = format!("{:0<9}", fraction.trim_start_matches('.'));
            let text = match digits {
                0 => format!("{head}Z"),
                n => format!("{head}.{}Z", &fraction[..n]),
            };
            let general = OffsetDateTime::parse(&text, &Rfc3339)
                .ok()
                .and_then(|t| i64::try_from(t.unix_timestamp_nanos()).ok())
                .map(Timestamp);
            proptest::prop_assert_eq!(Timestamp::parse_utc(text.as_bytes()), general, "{}", text);
        }
    }

    #[test]
    fn odd_dates_are_left_to_the_general_parser() {
        for text in [
            "2024-02-29T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T23:60:00Z",
            "2024-01-01T23:59:60Z",
            "2024-01-01T23:59:59.Z",
            "2024-01-01T23:59:59.1234567890Z",
            "2024-01-01T23:59:59+00:00",
            "2024-1-01T23:59:59Z",
            "２０２4-01-01T23:59:59Z",
        ] {
            let general = OffsetDateTime::parse(text, &Rfc3339)
                .ok()
                .and_then(|t| i64::try_from(t.unix_timestamp_nanos()).ok())
                .map(Timestamp);
            assert_eq!(Timestamp::parse_rfc3339(text), general, "{text}");
        }
    }

    #[test]
    fn rfc3339_offsets_are_normalized_to_utc() {
        let ts = Timestamp::parse_rfc3339("2016-10-06T00:17:09.669794202+02:00").unwrap();
        assert_eq!(ts.to_string(), "2016-10-05T22:17:09.669794202Z");
        let ts = Timestamp::parse_rfc3339("2016-10-06 00:17:09-05:30").unwrap();
        assert_eq!(ts.to_string(), "2016-10-06T05:47:09.000000000Z");
        let ts = Timestamp::parse_rfc3339("2026-11-27T05:00:00.1z").unwrap();
        assert_eq!(ts.to_string(), "2026-11-27T05:00:00.100000000Z");
    }

    #[test]
    fn rfc3339_rejects_garbage() {
        for text in [
            "",
            "yesterday",
            "2026-11-27",
            "2026-13-01T00:00:00Z",
            "2026-11-27T05:00:00",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(text), None, "{text}");
        }
    }

    #[test]
    fn epoch_units_follow_from_magnitude() {
        let expected = "2023-11-14T22:13:20.000000000Z";
        for value in [
            1_700_000_000_i128,
            1_700_000_000_000,
            1_700_000_000_000_000,
            1_700_000_000_000_000_000,
        ] {
            assert_eq!(
                Timestamp::from_epoch_int(value).unwrap().to_string(),
                expected
            );
        }
        let fractional = Timestamp::from_epoch(1_700_000_000.25).unwrap();
        assert_eq!(fractional.to_string(), "2023-11-14T22:13:20.250000000Z");
        assert_eq!(Timestamp::from_epoch_int(0), None);
        assert_eq!(Timestamp::from_epoch(-5.0), None);
        assert_eq!(Timestamp::from_epoch(f64::NAN), None);
    }

    #[test]
    fn json_values() {
        use serde_json::json;
        let expected = "2023-11-14T22:13:20.000000000Z";
        for value in [
            json!(1_700_000_000),
            json!("1700000000000"),
            json!("2023-11-14T22:13:20Z"),
        ] {
            assert_eq!(Timestamp::from_json(&value).unwrap().to_string(), expected);
        }
        assert_eq!(Timestamp::from_json(&json!(true)), None);
        assert_eq!(Timestamp::from_json(&json!("soon")), None);
        assert_eq!(Timestamp::from_json(&json!(u64::MAX)), None);
    }

    #[test]
    fn display_matches_the_calendar() {
        // Cross-checked against the `time` crate over four centuries, leap years included.
        let mut nanos: i64 = -2_208_988_800_000_000_000;
        while nanos < 7_258_118_400_000_000_000 {
            let ts = Timestamp::from_unix_nanos(nanos);
            let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).unwrap();
            let expected = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
                at.year(),
                u8::from(at.month()),
                at.day(),
                at.hour(),
                at.minute(),
                at.second(),
                at.nanosecond()
            );
            assert_eq!(ts.to_string(), expected);
            nanos += 86_399_999_999_937;
        }
    }

    #[test]
    fn serde_round_trip_keeps_nanoseconds() {
        let ts = Timestamp::from_unix_nanos(1_764_219_600_123_456_789);
        let json = serde_json::to_string(&ts).unwrap();
        assert_eq!(json, "\"2025-11-27T05:00:00.123456789Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), ts);
        assert_eq!(ts.utc_day(), "2025-11-27");
    }
}
