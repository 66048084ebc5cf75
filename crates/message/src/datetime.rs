//! Date and time (RFC 5322 §3.3, obsolete forms §4.3).
//!
//! ```text
//! date-time   = [ day-of-week "," ] date time [CFWS]
//! date        = day month year
//! time        = time-of-day zone
//! time-of-day = hour ":" minute [ ":" second ]
//! zone        = (FWS ( "+" / "-" ) 4DIGIT) / obs-zone
//! obs-year    = [CFWS] 2*DIGIT [CFWS]
//! obs-zone    = "UT" / "GMT" / "EST" / "EDT" / "CST" / "CDT" / "MST" / "MDT"
//!             / "PST" / "PDT" / %d65-73 / %d75-90 / %d97-105 / %d107-122
//! ```
//!
//! The parser (nom 8) also reads two-digit years, missing seconds, unknown
//! zone names (taken as -0000, "unknown local offset"), comments anywhere,
//! and, with a defect, the asctime and ISO 8601 layouts some software writes.
//!
//! ```
//! use mailwire_message::parse_date_time;
//! let (dt, defects) = parse_date_time(b"Fri, 21 Nov 1997 09:55:06 -0600");
//! let dt = dt.unwrap();
//! assert!(defects.is_empty());
//! assert_eq!(dt.to_rfc3339(), "1997-11-21T09:55:06-06:00");
//! assert_eq!(dt.to_rfc5322(), "Fri, 21 Nov 1997 09:55:06 -0600");
//! assert_eq!(dt.unix_timestamp(), 880127706);
//! ```

use std::fmt;

use nom::bytes::complete::{tag, take_while, take_while_m_n, take_while1};
use nom::character::complete::char as ch;
use nom::combinator::opt;
use nom::{IResult, Parser};

use crate::defect::{Defect, DefectKind, DefectSink, IgnoreDefects};

/// A date-time with its UTC offset, as written in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    offset_minutes: i16,
    offset_unknown: bool,
}

/// Why a [`DateTime`] could not be built.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// A field is out of range (month 1-12, day within the month, hour
    /// 0-23, minute 0-59, second 0-60, year 1900-9999, offset within ±99:59).
    #[error("{0} out of range")]
    OutOfRange(&'static str),
}

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl DateTime {
    /// A date-time; `offset_minutes` is the offset from UTC, east positive
    /// (+0200 is 120).
    pub fn new(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        offset_minutes: i16,
    ) -> Result<DateTime, DateError> {
        if !(1900..=9999).contains(&year) {
            return Err(DateError::OutOfRange("year"));
        }
        if !(1..=12).contains(&month) {
            return Err(DateError::OutOfRange("month"));
        }
        if day == 0 || day > days_in_month(year as i64, month) {
            return Err(DateError::OutOfRange("day"));
        }
        if hour > 23 {
            return Err(DateError::OutOfRange("hour"));
        }
        if minute > 59 {
            return Err(DateError::OutOfRange("minute"));
        }
        if second > 60 {
            return Err(DateError::OutOfRange("second"));
        }
        if offset_minutes.abs() > 99 * 60 + 59 {
            return Err(DateError::OutOfRange("offset"));
        }
        Ok(DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            offset_minutes,
            offset_unknown: false,
        })
    }

    /// The date-time of a Unix timestamp (seconds since 1970-01-01 UTC)
    /// shown at the given offset. Timestamps outside years 1900-9999 are
    /// refused.
    pub fn from_unix(timestamp: i64, offset_minutes: i16) -> Result<DateTime, DateError> {
        if offset_minutes.abs() > 99 * 60 + 59 {
            return Err(DateError::OutOfRange("offset"));
        }
        let local = timestamp
            .checked_add(offset_minutes as i64 * 60)
            .ok_or(DateError::OutOfRange("year"))?;
        let days = local.div_euclid(86400);
        let secs = local.rem_euclid(86400);
        let (y, m, d) = civil_from_days(days);
        if !(1900..=9999).contains(&y) {
            return Err(DateError::OutOfRange("year"));
        }
        DateTime::new(
            y as u16,
            m,
            d,
            (secs / 3600) as u8,
            (secs / 60 % 60) as u8,
            (secs % 60) as u8,
            offset_minutes,
        )
    }

    /// The same instant marked as having an unknown local offset (RFC 5322
    /// §3.3 `-0000`); the offset itself must be 0.
    pub fn with_unknown_offset(mut self) -> DateTime {
        self.offset_unknown = self.offset_minutes == 0;
        self
    }

    /// Year (four digits).
    pub fn year(&self) -> u16 {
        self.year
    }
    /// Month, 1-12.
    pub fn month(&self) -> u8 {
        self.month
    }
    /// Day of month, 1-31.
    pub fn day(&self) -> u8 {
        self.day
    }
    /// Hour, 0-23.
    pub fn hour(&self) -> u8 {
        self.hour
    }
    /// Minute, 0-59.
    pub fn minute(&self) -> u8 {
        self.minute
    }
    /// Second, 0-60 (60 for a leap second).
    pub fn second(&self) -> u8 {
        self.second
    }
    /// Offset from UTC in minutes, east positive.
    pub fn offset_minutes(&self) -> i16 {
        self.offset_minutes
    }
    /// Whether the zone was `-0000` or unknown: the time is UTC and the
    /// local offset is unknown (RFC 5322 §3.3).
    pub fn offset_unknown(&self) -> bool {
        self.offset_unknown
    }

    /// Day of week, 0 = Monday .. 6 = Sunday.
    pub fn weekday(&self) -> u8 {
        let days = days_from_civil(self.year as i64, self.month as i64, self.day as i64);
        // 1970-01-01 was a Thursday (3).
        ((days + 3).rem_euclid(7)) as u8
    }

    /// Seconds since 1970-01-01T00:00:00Z.
    pub fn unix_timestamp(&self) -> i64 {
        let days = days_from_civil(self.year as i64, self.month as i64, self.day as i64);
        days * 86400 + self.hour as i64 * 3600 + self.minute as i64 * 60 + self.second as i64
            - self.offset_minutes as i64 * 60
    }

    fn write_offset(&self, out: &mut String, colon: bool) {
        let sign = if self.offset_minutes < 0 || self.offset_unknown {
            '-'
        } else {
            '+'
        };
        let abs = self.offset_minutes.unsigned_abs();
        out.push(sign);
        push2(out, (abs / 60) as u8);
        if colon {
            out.push(':');
        }
        push2(out, (abs % 60) as u8);
    }

    /// RFC 5322 §3.3 form: `Tue, 17 May 2005 15:58:25 +0200`.
    pub fn to_rfc5322(&self) -> String {
        let mut s = String::with_capacity(31);
        s.push_str(DAYS[self.weekday() as usize]);
        s.push_str(", ");
        s.push_str(&self.day.to_string());
        s.push(' ');
        s.push_str(MONTHS[(self.month - 1) as usize]);
        s.push(' ');
        s.push_str(&self.year.to_string());
        s.push(' ');
        push2(&mut s, self.hour);
        s.push(':');
        push2(&mut s, self.minute);
        s.push(':');
        push2(&mut s, self.second);
        s.push(' ');
        self.write_offset(&mut s, false);
        s
    }

    /// RFC 3339 form with the message's own offset:
    /// `2005-05-17T15:58:25+02:00` (`-00:00` for an unknown offset, RFC 3339 §4.3).
    pub fn to_rfc3339(&self) -> String {
        let mut s = String::with_capacity(25);
        self.write_date_minute(&mut s, 'T');
        s.push(':');
        push2(&mut s, self.second);
        self.write_offset(&mut s, true);
        s
    }

    /// The date and the time to the minute in the message's own offset,
    /// as a message list shows them: `2005-05-17 15:58`.
    ///
    /// ```
    /// use mailwire_message::DateTime;
    /// let d = DateTime::from_unix(1_116_338_305, 120).unwrap();
    /// assert_eq!(d.to_short(), "2005-05-17 15:58");
    /// ```
    pub fn to_short(&self) -> String {
        let mut s = String::with_capacity(16);
        self.write_date_minute(&mut s, ' ');
        s
    }

    /// `YYYY-MM-DD` `sep` `HH:MM`.
    fn write_date_minute(&self, s: &mut String, sep: char) {
        s.push_str(&format!("{:04}-", self.year));
        push2(s, self.month);
        s.push('-');
        push2(s, self.day);
        s.push(sep);
        push2(s, self.hour);
        s.push(':');
        push2(s, self.minute);
    }
}

fn push2(s: &mut String, v: u8) {
    s.push((b'0' + v / 10 % 10) as char);
    s.push((b'0' + v % 10) as char);
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc5322())
    }
}

// ------------------------------------------------------------------------
// nom parsers

type In<'a> = &'a [u8];

/// CFWS: white space and (nested) comments.
fn cfws(i: In<'_>) -> IResult<In<'_>, ()> {
    let mut lx = crate::lex::Lexer::new(i, 0);
    lx.skip_cfws(&mut IgnoreDefects);
    Ok((&i[lx.pos..], ()))
}

fn digits(min: usize, max: usize) -> impl Fn(In<'_>) -> IResult<In<'_>, u32> {
    move |i| {
        let (rest, d) = take_while_m_n(min, max, |b: u8| b.is_ascii_digit()).parse(i)?;
        let v = d.iter().fold(0u32, |a, &b| a * 10 + (b - b'0') as u32);
        Ok((rest, v))
    }
}

fn alpha(i: In<'_>) -> IResult<In<'_>, In<'_>> {
    take_while1(|b: u8| b.is_ascii_alphabetic()).parse(i)
}

fn lookup3(word: &[u8], table: &[&str]) -> Option<usize> {
    if word.len() < 3 {
        return None;
    }
    table
        .iter()
        .position(|n| word[..3].eq_ignore_ascii_case(n.as_bytes()))
}

/// `hour ":" minute [":" second]`, lenient on `.` separators.
fn time_of_day(i: In<'_>) -> IResult<In<'_>, (u32, u32, Option<u32>)> {
    let sep = |i| -> IResult<In<'_>, ()> {
        let (i, _) = cfws(i)?;
        let (i, _) = nom::branch::alt((ch(':'), ch('.'))).parse(i)?;
        let (i, _) = cfws(i)?;
        Ok((i, ()))
    };
    let (i, h) = digits(1, 2)(i)?;
    let (i, _) = sep(i)?;
    let (i, m) = digits(1, 2)(i)?;
    let (i, s) = opt((sep, digits(1, 2)).map(|(_, s)| s)).parse(i)?;
    // Fractional seconds, seen from some software.
    let (i, _) = opt((ch('.'), take_while1(|b: u8| b.is_ascii_digit()))).parse(i)?;
    Ok((i, (h, m, s)))
}

enum Zone {
    Numeric(i16),
    Obsolete(i16),
    Unknown,
}

fn zone(i: In<'_>) -> IResult<In<'_>, Zone> {
    if let Ok((rest, (sign, hh, mm))) = (
        nom::branch::alt((ch('+'), ch('-'))),
        digits(2, 2),
        opt((opt(ch(':')), digits(2, 2)).map(|(_, m)| m)),
    )
        .parse(i)
    {
        let minutes = (hh * 60 + mm.unwrap_or(0)) as i16;
        let v = if sign == '-' { -minutes } else { minutes };
        if sign == '-' && v == 0 {
            return Ok((rest, Zone::Unknown));
        }
        return Ok((rest, Zone::Numeric(v)));
    }
    let (rest, name) = alpha(i)?;
    let hours: Option<i16> = match name.to_ascii_uppercase().as_slice() {
        b"UT" | b"UTC" | b"GMT" | b"Z" => Some(0),
        b"EST" => Some(-5),
        b"EDT" => Some(-4),
        b"CST" => Some(-6),
        b"CDT" => Some(-5),
        b"MST" => Some(-7),
        b"MDT" => Some(-6),
        b"PST" => Some(-8),
        b"PDT" => Some(-7),
        _ => None,
    };
    // "GMT+0200" style.
    if let Some(0) = hours
        && let Ok((r2, Zone::Numeric(v))) = zone(rest)
    {
        return Ok((r2, Zone::Numeric(v)));
    }
    Ok((
        rest,
        match hours {
            Some(h) => Zone::Obsolete(h * 60),
            None => Zone::Unknown,
        },
    ))
}

struct Raw {
    year: u32,
    year_digits: usize,
    month: u8,
    day: u32,
    hms: (u32, u32, Option<u32>),
    zone: Option<(Zone, usize)>,
    dow: Option<(usize, usize)>,
    nonstandard: bool,
}

fn year(i: In<'_>) -> IResult<In<'_>, (u32, usize)> {
    let (rest, d) = take_while_m_n(2, 4, |b: u8| b.is_ascii_digit()).parse(i)?;
    let v = d.iter().fold(0u32, |a, &b| a * 10 + (b - b'0') as u32);
    Ok((rest, (v, d.len())))
}

/// RFC 5322 layout: `[dow ,] day month year time [zone]`.
fn rfc5322_layout(start: In<'_>) -> IResult<In<'_>, Raw> {
    let (i, _) = cfws(start)?;
    let dow_off = start.len() - i.len();
    let (i, dow) = opt((alpha, cfws, opt(ch(',')))).parse(i)?;
    let dow = dow.and_then(|(w, _, _)| lookup3(w, &DAYS).map(|d| (d, dow_off)));
    let (i, _) = cfws(i)?;
    let (i, day) = digits(1, 2)(i)?;
    let (i, _) = (cfws, opt(ch('-')), cfws).parse(i)?;
    let (i, m) = alpha(i)?;
    let month = lookup3(m, &MONTHS)
        .ok_or_else(|| nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Tag)))?;
    let (i, _) = (cfws, opt(ch('-')), cfws).parse(i)?;
    let (i, (year, year_digits)) = year(i)?;
    let (i, _) = cfws(i)?;
    let (i, hms) = time_of_day(i)?;
    let (i, _) = cfws(i)?;
    let zone_off = start.len() - i.len();
    let (i, z) = opt(zone).parse(i)?;
    Ok((
        i,
        Raw {
            year,
            year_digits,
            month: month as u8 + 1,
            day,
            hms,
            zone: z.map(|z| (z, zone_off)),
            dow,
            nonstandard: false,
        },
    ))
}

/// asctime layout: `dow month day time year [zone]`.
fn asctime_layout(start: In<'_>) -> IResult<In<'_>, Raw> {
    let (i, _) = cfws(start)?;
    let (i, w) = alpha(i)?;
    let dow = lookup3(w, &DAYS).map(|d| (d, 0));
    let (i, _) = (cfws, opt(ch(',')), cfws).parse(i)?;
    let (i, m) = alpha(i)?;
    let month = lookup3(m, &MONTHS)
        .ok_or_else(|| nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Tag)))?;
    let (i, _) = cfws(i)?;
    let (i, day) = digits(1, 2)(i)?;
    let (i, _) = cfws(i)?;
    let (i, hms) = time_of_day(i)?;
    let (i, _) = cfws(i)?;
    let zone_off = start.len() - i.len();
    let (i, z1) = opt(zone).parse(i)?;
    let (i, _) = cfws(i)?;
    let (i, (year, year_digits)) = year(i)?;
    let (i, _) = cfws(i)?;
    let zone_off2 = start.len() - i.len();
    let (i, z2) = opt(zone).parse(i)?;
    let zone = z1.map(|z| (z, zone_off)).or(z2.map(|z| (z, zone_off2)));
    Ok((
        i,
        Raw {
            year,
            year_digits,
            month: month as u8 + 1,
            day,
            hms,
            zone,
            dow,
            nonstandard: true,
        },
    ))
}

/// ISO 8601 layout: `YYYY-MM-DD[T ]hh:mm[:ss][zone]`.
fn iso_layout(start: In<'_>) -> IResult<In<'_>, Raw> {
    let (i, _) = cfws(start)?;
    let (i, (y, mo, d)) = (
        digits(4, 4),
        (tag("-"), digits(1, 2)),
        (tag("-"), digits(1, 2)),
    )
        .parse(i)?;
    let (i, _) = (take_while(|b: u8| b == b'T' || b == b't' || b == b' ')).parse(i)?;
    let (i, hms) = time_of_day(i)?;
    let (i, _) = cfws(i)?;
    let zone_off = start.len() - i.len();
    let (i, z) = opt(zone).parse(i)?;
    Ok((
        i,
        Raw {
            year: y,
            year_digits: 4,
            month: mo.1.min(255) as u8,
            day: d.1,
            hms,
            zone: z.map(|z| (z, zone_off)),
            dow: None,
            nonstandard: true,
        },
    ))
}

/// Parse a date-time field body (Date, Resent-Date, the end of Received).
/// Returns `None` with [`DefectKind::InvalidDate`] when nothing sensible
/// can be read. Defect offsets are relative to `value`.
pub fn parse_date_time(value: &[u8]) -> (Option<DateTime>, Vec<Defect>) {
    let mut d = Vec::new();
    let dt = parse_date_time_with(value, &mut d);
    (dt, d)
}

/// The canonical layout `[Ddd, ]D Mmm YYYY HH:MM:SS +HHMM` without
/// comments or folding inside, read without the general parser. `None`
/// when the value is anything else (the general parser then decides).
fn fast_path<S: DefectSink + ?Sized>(value: &[u8], sink: &mut S) -> Option<DateTime> {
    let lead = value
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let v = &value[lead..];
    let (dow, v) = match v {
        [a, b, c, b',', b' ', rest @ ..] if a.is_ascii_alphabetic() => {
            (Some(lookup3(&[*a, *b, *c], &DAYS)?), rest)
        }
        _ => (None, v),
    };
    let d = |b: u8| -> Option<u32> { b.is_ascii_digit().then(|| (b - b'0') as u32) };
    let (day, v) = match v {
        [a, b' ', rest @ ..] => (d(*a)?, rest),
        [a, b, b' ', rest @ ..] => (d(*a)? * 10 + d(*b)?, rest),
        _ => return None,
    };
    let [
        m1,
        m2,
        m3,
        b' ',
        y1,
        y2,
        y3,
        y4,
        b' ',
        h1,
        h2,
        b':',
        n1,
        n2,
        b':',
        s1,
        s2,
        b' ',
        sign,
        z1,
        z2,
        z3,
        z4,
        rest @ ..,
    ] = v
    else {
        return None;
    };
    let month = lookup3(&[*m1, *m2, *m3], &MONTHS)? as u8 + 1;
    let year = d(*y1)? * 1000 + d(*y2)? * 100 + d(*y3)? * 10 + d(*y4)?;
    let (h, n, sec) = (
        d(*h1)? * 10 + d(*h2)?,
        d(*n1)? * 10 + d(*n2)?,
        d(*s1)? * 10 + d(*s2)?,
    );
    let zone = (d(*z1)? * 10 + d(*z2)?) * 60 + d(*z3)? * 10 + d(*z4)?;
    let offset = match sign {
        b'+' => zone as i16,
        b'-' => -(zone as i16),
        _ => return None,
    };
    // Only white space or comments may follow.
    let (rest, _) = cfws(rest).ok()?;
    if !rest.is_empty() {
        return None;
    }
    let mut dt = DateTime::new(
        year as u16,
        month,
        day as u8,
        h as u8,
        n as u8,
        sec as u8,
        offset,
    )
    .ok()?;
    dt.offset_unknown = *sign == b'-' && zone == 0;
    if let Some(dow) = dow
        && dow as u8 != dt.weekday()
    {
        sink.push_defect(Defect::new(DefectKind::WrongDayOfWeek, lead));
    }
    Some(dt)
}

/// As [`parse_date_time`], recording defects into `sink`.
pub fn parse_date_time_with<S: DefectSink + ?Sized>(
    value: &[u8],
    sink: &mut S,
) -> Option<DateTime> {
    if let Some(dt) = fast_path(value, sink) {
        return Some(dt);
    }
    let raw = rfc5322_layout(value)
        .or_else(|_| asctime_layout(value))
        .or_else(|_| iso_layout(value));
    let Ok((rest, raw)) = raw else {
        sink.push_defect(Defect::new(DefectKind::InvalidDate, 0));
        return None;
    };
    if raw.nonstandard {
        sink.push_defect(Defect::new(DefectKind::NonStandardDate, 0));
    }
    let (rest, _) = cfws(rest).unwrap_or((rest, ()));
    let trailing = crate::header::trim_wsp(rest);
    if !trailing.is_empty() {
        // Trailing comments were eaten by cfws; anything else is junk.
        let off = value.len() - rest.len();
        sink.push_defect(Defect::new(DefectKind::UnexpectedCharacter, off));
    }
    let year = match raw.year_digits {
        2 if raw.year < 50 => raw.year + 2000,
        2 => raw.year + 1900,
        3 => raw.year + 1900,
        _ => raw.year,
    };
    if raw.year_digits < 4 {
        sink.push_defect(Defect::new(DefectKind::ObsoleteYear, 0));
    }
    let (h, m, s) = raw.hms;
    if s.is_none() {
        sink.push_defect(Defect::new(DefectKind::MissingSeconds, 0));
    }
    let (offset, unknown) = match raw.zone {
        Some((Zone::Numeric(v), _)) => (v, false),
        Some((Zone::Obsolete(v), off)) => {
            sink.push_defect(Defect::new(DefectKind::ObsoleteZone, off));
            (v, false)
        }
        Some((Zone::Unknown, off)) => {
            // "-0000" is valid and means "unknown local offset".
            let is_minus_zero = value.get(off) == Some(&b'-');
            if !is_minus_zero {
                sink.push_defect(Defect::new(DefectKind::UnknownZone, off));
            }
            (0, true)
        }
        None => {
            sink.push_defect(Defect::new(DefectKind::MissingZone, value.len()));
            (0, true)
        }
    };
    let clamp = |v: u32| u8::try_from(v).unwrap_or(u8::MAX);
    let dt = DateTime::new(
        u16::try_from(year).unwrap_or(0),
        raw.month,
        clamp(raw.day),
        clamp(h),
        clamp(m),
        clamp(s.unwrap_or(0)),
        offset,
    );
    let Ok(mut dt) = dt else {
        sink.push_defect(Defect::new(DefectKind::InvalidDate, 0));
        return None;
    };
    dt.offset_unknown = unknown;
    if let Some((dow, off)) = raw.dow
        && dow as u8 != dt.weekday()
    {
        sink.push_defect(Defect::new(DefectKind::WrongDayOfWeek, off));
    }
    Some(dt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> (Option<DateTime>, Vec<DefectKind>) {
        let (d, def) = parse_date_time(s.as_bytes());
        (d, def.into_iter().map(|d| d.kind).collect())
    }

    #[test]
    fn standard() {
        let (d, k) = p("Tue, 17 May 2005 15:58:25 +0200");
        assert_eq!(d.unwrap().to_rfc3339(), "2005-05-17T15:58:25+02:00");
        assert!(k.is_empty());
        let (d, _) = p("1 Jan 2000 00:00:00 -0000");
        assert!(d.unwrap().offset_unknown());
        assert_eq!(d.unwrap().to_rfc3339(), "2000-01-01T00:00:00-00:00");
    }

    #[test]
    fn obsolete() {
        let (d, k) = p("Fri, 21 Nov 97 09:55:06 GMT");
        assert_eq!(d.unwrap().to_rfc3339(), "1997-11-21T09:55:06+00:00");
        assert!(k.contains(&DefectKind::ObsoleteYear) && k.contains(&DefectKind::ObsoleteZone));
        let (d, k) = p(
            "Thu,\r\n      13\r\n        Feb\r\n          1969\r\n      23:32\r\n               -0330 (Newfoundland Time)",
        );
        assert_eq!(d.unwrap().to_rfc3339(), "1969-02-13T23:32:00-03:30");
        assert_eq!(k, [DefectKind::MissingSeconds]);
        let (d, k) = p("21 Nov 97 09:55:06 EST");
        assert_eq!(d.unwrap().offset_minutes(), -300);
        assert!(k.contains(&DefectKind::ObsoleteZone));
        let (d, k) = p("Mon, 2 Jun 2003 10:00:00 CEST");
        assert!(d.unwrap().offset_unknown());
        assert!(k.contains(&DefectKind::UnknownZone));
        let (d, k) = p("Mon May 17 15:58:25 2005");
        assert_eq!(d.unwrap().to_rfc3339(), "2005-05-17T15:58:25-00:00");
        assert!(k.contains(&DefectKind::NonStandardDate));
        let (d, _) = p("2005-05-17T15:58:25+02:00");
        assert_eq!(d.unwrap().to_rfc3339(), "2005-05-17T15:58:25+02:00");
        let (d, k) = p("Mon, 17 May 2005 15:58:25 +0200");
        assert!(d.is_some());
        assert!(k.contains(&DefectKind::WrongDayOfWeek));
    }

    #[test]
    fn fast_path_agrees_with_parser() {
        for v in [
            "Tue, 17 May 2005 15:58:25 +0200",
            " 1 Jan 2000 00:00:00 -0000 (x)",
            "Mon, 17 May 2005 15:58:25 +0200",
            "Tue, 17 May 2005 15:58:25 +0200 junk",
        ] {
            let mut fast = Vec::new();
            let a = fast_path(v.as_bytes(), &mut fast);
            // The general parser, forced by a comment the fast path refuses.
            let forced = v.replacen(':', " (c) :", 1);
            let mut slow = Vec::new();
            let b = parse_date_time_with(forced.as_bytes(), &mut slow);
            match a {
                Some(a) => {
                    assert_eq!(Some(a), b, "{v}");
                    let kinds = |d: &[Defect]| d.iter().map(|d| d.kind).collect::<Vec<_>>();
                    assert_eq!(kinds(&fast), kinds(&slow), "{v}");
                }
                None => assert!(v.ends_with("junk")),
            }
        }
    }

    #[test]
    fn invalid() {
        for s in [
            "",
            "garbage",
            "32 Jan 2000 00:00:00 +0000",
            "1 Jan 2000 25:00:00 +0000",
            "Tue,",
            "99999999999",
        ] {
            assert!(p(s).0.is_none(), "{s}");
        }
    }

    #[test]
    fn unix_round_trip() {
        for ts in [
            0i64,
            880127706,
            -2208988800 + 86400,
            253402300799 - 86400,
            951782400,
        ] {
            for off in [0i16, 120, -330] {
                let d = DateTime::from_unix(ts, off).unwrap();
                assert_eq!(d.unix_timestamp(), ts);
                let (back, _) = parse_date_time(d.to_rfc5322().as_bytes());
                assert_eq!(back.unwrap(), d);
            }
        }
    }
}
