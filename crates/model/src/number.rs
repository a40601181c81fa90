//! DynamoDB numbers: exact decimals with up to 38 significant digits, never f64.
//!
//! A number is held as a sign, its significant digits (no leading or trailing zeros) and a
//! scientific exponent, so `-12.5` is `-1.25 × 10^1`. DynamoDB accepts magnitudes from `1E-130`
//! to `9.9999999999999999999999999999999999999E+125` (scientific exponents -130 ..= 125) and zero,
//! and returns numbers as plain decimals without exponent notation: [`canonicalize`] produces
//! exactly that form, which is how numbers are stored in an [`AttributeValue::N`].
//!
//! [`AttributeValue::N`]: crate::attr::AttributeValue::N

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// Most significant digits a DynamoDB number may carry.
pub const MAX_SIGNIFICANT_DIGITS: usize = 38;
/// Largest scientific exponent of a non-zero number (`9.99…E+125`).
pub const MAX_EXPONENT: i32 = 125;
/// Smallest scientific exponent of a non-zero number (`1E-130`).
pub const MIN_EXPONENT: i32 = -130;

/// Why a string is not a DynamoDB number; `Display` is DynamoDB's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberError {
    NotANumber(String),
    TooManyDigits,
    Overflow,
    Underflow,
}

impl fmt::Display for NumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NumberError::NotANumber(s) => {
                write!(f, "The parameter cannot be converted to a numeric value: {s}")
            }
            NumberError::TooManyDigits => {
                f.write_str("Attempting to store more than 38 significant digits in a Number")
            }
            NumberError::Overflow => f.write_str(
                "Number overflow. Attempting to store a number with magnitude larger than supported range",
            ),
            NumberError::Underflow => f.write_str(
                "Number underflow. Attempting to store a number with magnitude smaller than supported range",
            ),
        }
    }
}

impl std::error::Error for NumberError {}

/// An exact decimal number: `(-1)^negative × d1.d2d3…dn × 10^exponent`.
///
/// Always normalized: `digits` holds values 0..=9 with no leading or trailing zeros, and zero is
/// the empty digit list with exponent 0 and a positive sign. Structural equality is therefore
/// numeric equality (`1.0 == 1`), and `Ord` is numeric order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Decimal {
    negative: bool,
    digits: Vec<u8>,
    exponent: i32,
}

impl Decimal {
    /// The number zero.
    pub const ZERO: Decimal = Decimal {
        negative: false,
        digits: Vec::new(),
        exponent: 0,
    };

    /// Parses DynamoDB number syntax (`[+-]digits[.digits][(e|E)[+-]digits]`, also `.5` and
    /// `5.`), and checks DynamoDB's range and precision limits.
    pub fn parse(s: &str) -> Result<Decimal, NumberError> {
        let d = parse_syntax(s).ok_or_else(|| NumberError::NotANumber(s.to_owned()))?;
        d.check()?;
        Ok(d)
    }

    /// Parses number syntax like [`Decimal::parse`] but without DynamoDB's range and precision
    /// checks; `None` if the text is not a number at all. (Displaying such a value prints every
    /// digit, however far the exponent reaches.)
    pub fn parse_unchecked(s: &str) -> Option<Decimal> {
        parse_syntax(s)
    }

    /// Builds a number from its parts: `(-1)^negative × d1.d2…dn × 10^exponent`, where
    /// `digits` are decimal digit values (0..=9). Leading and trailing zeros are removed (a
    /// leading zero lowers the exponent of the first significant digit). Returns `None` if a
    /// digit is above 9. The result is not range-checked; see [`Decimal::check`].
    pub fn from_parts(negative: bool, digits: &[u8], exponent: i32) -> Option<Decimal> {
        if digits.iter().any(|&d| d > 9) {
            return None;
        }
        let lead = digits.iter().take_while(|&&d| d == 0).count();
        let rest = &digits[lead..];
        let trail = rest.iter().rev().take_while(|&&d| d == 0).count();
        let sig = &rest[..rest.len() - trail];
        if sig.is_empty() {
            return Some(Decimal::ZERO);
        }
        let exponent = i64::from(exponent) - lead as i64;
        Some(Decimal {
            negative,
            digits: sig.to_vec(),
            exponent: clamp_exponent(exponent),
        })
    }

    /// Checks DynamoDB's limits: magnitude within `1E-130 ..= 9.99…E+125` (or zero) and at most
    /// 38 significant digits. Range is checked first, as DynamoDB reports an arithmetic result
    /// like `9.9…9E+125 + 1E+125` as an overflow.
    pub fn check(&self) -> Result<(), NumberError> {
        if self.is_zero() {
            return Ok(());
        }
        if self.exponent > MAX_EXPONENT {
            return Err(NumberError::Overflow);
        }
        if self.exponent < MIN_EXPONENT {
            return Err(NumberError::Underflow);
        }
        if self.digits.len() > MAX_SIGNIFICANT_DIGITS {
            return Err(NumberError::TooManyDigits);
        }
        Ok(())
    }

    /// Whether this is zero.
    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// Whether this is below zero (zero is never negative).
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// The significant digits (values 0..=9, first and last non-zero; empty for zero).
    pub fn digits(&self) -> &[u8] {
        &self.digits
    }

    /// The scientific exponent: the power of ten of the first significant digit (0 for zero).
    pub fn exponent(&self) -> i32 {
        self.exponent
    }

    /// Number of significant digits (0 for zero).
    pub fn significant_digits(&self) -> usize {
        self.digits.len()
    }

    /// The absolute value.
    pub fn abs(&self) -> Decimal {
        Decimal {
            negative: false,
            ..self.clone()
        }
    }

    /// Whether the value has no fractional part.
    pub fn is_integer(&self) -> bool {
        self.is_zero() || i64::from(self.exponent) >= self.digits.len() as i64 - 1
    }

    /// The value as an `i64`, if it is an integer that fits.
    pub fn to_i64(&self) -> Option<i64> {
        if !self.is_integer() {
            return None;
        }
        if self.is_zero() {
            return Some(0);
        }
        if self.exponent > 18 {
            return None;
        }
        // An integer has exponent >= 0 here; its digits are padded with zeros up to 10^0.
        let mut v: i128 = 0;
        for i in 0..=self.exponent as usize {
            v = v * 10 + i128::from(self.digits.get(i).copied().unwrap_or(0));
        }
        if self.negative {
            v = -v;
        }
        i64::try_from(v).ok()
    }

    /// The nearest `f64` (lossy; for display or heuristics only, never for stored values).
    pub fn to_f64(&self) -> f64 {
        if self.is_zero() {
            return 0.0;
        }
        let mut s = String::with_capacity(self.digits.len() + 16);
        if self.negative {
            s.push('-');
        }
        s.push(char::from(b'0' + self.digits[0]));
        s.push('.');
        s.extend(self.digits[1..].iter().map(|&d| char::from(b'0' + d)));
        s.push_str(&format!("0e{}", self.exponent));
        s.parse().unwrap_or(0.0)
    }

    /// Exact `self + other`, checked against DynamoDB's limits.
    pub fn checked_add(&self, other: &Decimal) -> Result<Decimal, NumberError> {
        let r = add_exact(self, other);
        r.check()?;
        Ok(r)
    }

    /// Exact `self - other`, checked against DynamoDB's limits.
    pub fn checked_sub(&self, other: &Decimal) -> Result<Decimal, NumberError> {
        self.checked_add(&-other)
    }

    /// Position of the lowest significant digit (power of ten).
    fn low(&self) -> i64 {
        i64::from(self.exponent) - self.digits.len() as i64 + 1
    }

    fn cmp_magnitude(&self, other: &Decimal) -> Ordering {
        match (self.is_zero(), other.is_zero()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => self
                .exponent
                .cmp(&other.exponent)
                .then_with(|| self.digits.as_slice().cmp(other.digits.as_slice())),
        }
    }
}

fn clamp_exponent(e: i64) -> i32 {
    // Far outside DynamoDB's range either way; clamping keeps arithmetic on exponents safe.
    e.clamp(-(1 << 28), 1 << 28) as i32
}

impl Ord for Decimal {
    fn cmp(&self, other: &Decimal) -> Ordering {
        let sign = |d: &Decimal| {
            if d.is_zero() {
                0
            } else if d.negative {
                -1
            } else {
                1
            }
        };
        match sign(self).cmp(&sign(other)) {
            Ordering::Equal if self.negative => other.cmp_magnitude(self),
            Ordering::Equal => self.cmp_magnitude(other),
            o => o,
        }
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Decimal) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::ops::Neg for Decimal {
    type Output = Decimal;
    fn neg(self) -> Decimal {
        let negative = !self.negative && !self.is_zero();
        Decimal { negative, ..self }
    }
}

impl std::ops::Neg for &Decimal {
    type Output = Decimal;
    fn neg(self) -> Decimal {
        -self.clone()
    }
}

impl From<i64> for Decimal {
    fn from(v: i64) -> Decimal {
        let s = v.unsigned_abs().to_string();
        let digits: Vec<u8> = s.bytes().map(|b| b - b'0').collect();
        let exponent = digits.len() as i32 - 1;
        Decimal::from_parts(v < 0, &digits, exponent).unwrap_or(Decimal::ZERO)
    }
}

impl FromStr for Decimal {
    type Err = NumberError;
    fn from_str(s: &str) -> Result<Decimal, NumberError> {
        Decimal::parse(s)
    }
}

/// The canonical form: plain decimal digits, no exponent, no `+`, no superfluous zeros.
impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        let mut s = String::with_capacity(self.digits.len() + 4);
        if self.negative {
            s.push('-');
        }
        let digit = |d: u8| char::from(b'0' + d);
        let e = i64::from(self.exponent);
        let n = self.digits.len() as i64;
        if e < 0 {
            s.push_str("0.");
            for _ in 0..(-e - 1) {
                s.push('0');
            }
            s.extend(self.digits.iter().map(|&d| digit(d)));
        } else if e >= n - 1 {
            s.extend(self.digits.iter().map(|&d| digit(d)));
            for _ in 0..(e - (n - 1)) {
                s.push('0');
            }
        } else {
            let int_len = (e + 1) as usize;
            s.extend(self.digits[..int_len].iter().map(|&d| digit(d)));
            s.push('.');
            s.extend(self.digits[int_len..].iter().map(|&d| digit(d)));
        }
        f.write_str(&s)
    }
}

/// Parses number syntax without range or precision checks.
fn parse_syntax(s: &str) -> Option<Decimal> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut negative = false;
    if let Some(&c) = b.first() {
        if c == b'+' || c == b'-' {
            negative = c == b'-';
            i = 1;
        }
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = &b[int_start..i];
    let mut frac_digits: &[u8] = &[];
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = &b[frac_start..i];
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return None;
    }
    let mut exp: i64 = 0;
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        let mut exp_negative = false;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            exp_negative = b[i] == b'-';
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            // Saturate: anything this large is out of range whatever the digits are.
            exp = (exp * 10 + i64::from(b[i] - b'0')).min(1 << 40);
            i += 1;
        }
        if i == exp_start {
            return None;
        }
        if exp_negative {
            exp = -exp;
        }
    }
    if i != b.len() {
        return None;
    }
    let digits: Vec<u8> = int_digits
        .iter()
        .chain(frac_digits)
        .map(|c| c - b'0')
        .collect();
    // The first digit of `digits` sits at 10^(int_len - 1 + exp).
    let exponent = clamp_exponent(int_digits.len() as i64 - 1 + exp);
    Decimal::from_parts(negative, &digits, exponent)
}

/// Exact sum, unchecked.
fn add_exact(a: &Decimal, b: &Decimal) -> Decimal {
    if a.is_zero() {
        return b.clone();
    }
    if b.is_zero() {
        return a.clone();
    }
    let low = a.low().min(b.low());
    let high = i64::from(a.exponent.max(b.exponent));
    let width = (high - low + 2) as usize;
    // Little-endian digit vectors aligned at `low`.
    let spread = |d: &Decimal| {
        let mut v = vec![0u8; width];
        for (k, &digit) in d.digits.iter().enumerate() {
            let pos = i64::from(d.exponent) - k as i64 - low;
            v[pos as usize] = digit;
        }
        v
    };
    let (x, y) = (spread(a), spread(b));
    let mut out = vec![0u8; width];
    let negative;
    if a.negative == b.negative {
        negative = a.negative;
        let mut carry = 0;
        for ((o, &p), &q) in out.iter_mut().zip(&x).zip(&y) {
            let s = p + q + carry;
            *o = s % 10;
            carry = s / 10;
        }
    } else {
        // Subtract the smaller magnitude from the larger; the result takes the larger's sign.
        let (big, small, big_negative) = match a.cmp_magnitude(b) {
            Ordering::Equal => return Decimal::ZERO,
            Ordering::Greater => (&x, &y, a.negative),
            Ordering::Less => (&y, &x, b.negative),
        };
        negative = big_negative;
        let mut borrow = 0i8;
        for ((o, &p), &q) in out.iter_mut().zip(big).zip(small) {
            let mut d = p as i8 - q as i8 - borrow;
            borrow = 0;
            if d < 0 {
                d += 10;
                borrow = 1;
            }
            *o = d as u8;
        }
    }
    out.reverse();
    // out[0] is at 10^(high + 1).
    let top = high + 1;
    Decimal::from_parts(negative, &out, clamp_exponent(top)).unwrap_or(Decimal::ZERO)
}

/// Validates `s` and returns its canonical form (`1e2` → `100`, `1.50` → `1.5`, `-0` → `0`).
pub fn canonicalize(s: &str) -> Result<String, NumberError> {
    Decimal::parse(s).map(|d| d.to_string())
}

/// Compares two canonical numbers by value. A string that is not a number at all sorts after
/// every number (and such strings among themselves by their text), so the order stays total.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (parse_syntax(a), parse_syntax(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// Exact `a + b` of two numbers (any valid syntax), canonical, checked against DynamoDB's
/// limits (as in `SET a = a + :x` and `ADD`).
pub fn add(a: &str, b: &str) -> Result<String, NumberError> {
    Decimal::parse(a)?
        .checked_add(&Decimal::parse(b)?)
        .map(|d| d.to_string())
}

/// Exact `a - b` of two numbers (any valid syntax), canonical, checked against DynamoDB's limits.
pub fn sub(a: &str, b: &str) -> Result<String, NumberError> {
    Decimal::parse(a)?
        .checked_sub(&Decimal::parse(b)?)
        .map(|d| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn canon(s: &str) -> String {
        canonicalize(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn canonical_forms() {
        for (input, want) in [
            ("0", "0"),
            ("-0", "0"),
            ("+0", "0"),
            ("0.000", "0"),
            ("0e5", "0"),
            ("-0.0e-999", "0"),
            ("1e2", "100"),
            ("1E2", "100"),
            ("1e+2", "100"),
            ("+1e2", "100"),
            ("1.5E+3", "1500"),
            ("1.50", "1.5"),
            ("+007", "7"),
            ("-7", "-7"),
            ("-0.0010", "-0.001"),
            ("1E-5", "0.00001"),
            ("12.3e1", "123"),
            ("12.3e-1", "1.23"),
            ("0042.1200", "42.12"),
            (".5", "0.5"),
            ("5.", "5"),
            ("-.5e1", "-5"),
            ("100", "100"),
            ("1010", "1010"),
            ("123.456", "123.456"),
            ("0.000123", "0.000123"),
            (
                "1000000000000000000000000000000000000000000",
                "1000000000000000000000000000000000000000000",
            ),
        ] {
            assert_eq!(canon(input), want, "input {input}");
        }
        assert_eq!(canon("1e125"), format!("1{}", "0".repeat(125)));
        assert_eq!(canon("1E-130"), format!("0.{}1", "0".repeat(129)));
        assert_eq!(canon("-1E-130"), format!("-0.{}1", "0".repeat(129)));
    }

    #[test]
    fn invalid_syntax() {
        for s in [
            "",
            ".",
            "+",
            "-",
            "1e",
            "1e+",
            "e5",
            ".e1",
            "abc",
            "NaN",
            "nan",
            "Infinity",
            "-Infinity",
            "inf",
            "0x10",
            " 1",
            "1 ",
            "1_000",
            "1,5",
            "--1",
            "+-1",
            "1.2.3",
            "1e2.5",
            "1e2e3",
            "١",
            "1d",
            "1f",
        ] {
            assert_eq!(
                canonicalize(s),
                Err(NumberError::NotANumber(s.to_owned())),
                "{s:?}"
            );
        }
        assert_eq!(
            NumberError::NotANumber("b".into()).to_string(),
            "The parameter cannot be converted to a numeric value: b"
        );
    }

    #[test]
    fn limits() {
        let max = "9.9999999999999999999999999999999999999E+125";
        assert!(canonicalize(max).is_ok());
        assert!(canonicalize(&format!("-{max}")).is_ok());
        assert!(canonicalize("1E-130").is_ok());
        assert!(canonicalize("-1E-130").is_ok());
        assert_eq!(canonicalize("1e126"), Err(NumberError::Overflow));
        assert_eq!(canonicalize("-1e126"), Err(NumberError::Overflow));
        assert_eq!(canonicalize("10E125"), Err(NumberError::Overflow));
        assert_eq!(canonicalize("1e-131"), Err(NumberError::Underflow));
        assert_eq!(canonicalize("-1e-131"), Err(NumberError::Underflow));
        assert_eq!(canonicalize("0.1e-130"), Err(NumberError::Underflow));
        assert_eq!(
            canonicalize("1e99999999999999999999999"),
            Err(NumberError::Overflow)
        );
        assert_eq!(
            canonicalize("1e-99999999999999999999999"),
            Err(NumberError::Underflow)
        );
        assert_eq!(canonicalize("0e99999999999999999999999"), Ok("0".into()));
        // 38 digits fine, 39 not; zeros at either end are not significant.
        let d38 = "12345678901234567890123456789012345678";
        assert_eq!(canon(d38), d38);
        assert_eq!(
            canonicalize(&format!("{d38}9")),
            Err(NumberError::TooManyDigits)
        );
        assert_eq!(
            canonicalize("-1.23456789012345678901234567890123456789"),
            Err(NumberError::TooManyDigits)
        );
        assert_eq!(canon(&format!("000{d38}000")), format!("{d38}000"));
        assert_eq!(canon(&format!("0.000{d38}000")), format!("0.000{d38}"));
        assert_eq!(canon(&format!("1.{}", "0".repeat(60))), "1");
        assert_eq!(
            canon(&format!("1{}", "0".repeat(42))),
            format!("1{}", "0".repeat(42))
        );
    }

    #[test]
    fn compare_by_value() {
        let sorted = [
            "-1000",
            "-999.99",
            "-1",
            "-0.5",
            "-0.000001",
            "0",
            "0.000001",
            "0.1",
            "0.5",
            "1",
            "1.0001",
            "2",
            "10",
            "99.9",
            "100",
            "1e30",
        ];
        for (i, a) in sorted.iter().enumerate() {
            for (j, b) in sorted.iter().enumerate() {
                let (a, b) = (canon(a), canon(b));
                assert_eq!(compare(&a, &b), i.cmp(&j), "{a} vs {b}");
            }
        }
        assert_eq!(compare("1", "1.0"), Ordering::Equal);
        assert_eq!(compare("-0", "0"), Ordering::Equal);
    }

    #[test]
    fn arithmetic() {
        assert_eq!(add("1", "2").unwrap(), "3");
        assert_eq!(add("0.1", "0.2").unwrap(), "0.3");
        assert_eq!(add("-5", "3").unwrap(), "-2");
        assert_eq!(add("5", "-5").unwrap(), "0");
        assert_eq!(add("99", "1").unwrap(), "100");
        assert_eq!(add("-99", "-1").unwrap(), "-100");
        assert_eq!(sub("100", "0.001").unwrap(), "99.999");
        assert_eq!(sub("0", "7").unwrap(), "-7");
        assert_eq!(sub("1.5", "1.5").unwrap(), "0");
        assert_eq!(add("9007199254740993", "1").unwrap(), "9007199254740994");
        assert_eq!(
            add("12345678901234567890123456789012345677", "1").unwrap(),
            "12345678901234567890123456789012345678"
        );
        assert_eq!(add("1e125", "1e125").unwrap(), canon("2e125"));
        // Range beats precision, as DynamoDB reports it.
        assert_eq!(
            add("9.9999999999999999999999999999999999999E+125", "1E+125"),
            Err(NumberError::Overflow)
        );
        assert_eq!(
            sub("-9.9999999999999999999999999999999999999E+125", "1E+125"),
            Err(NumberError::Overflow)
        );
        assert_eq!(
            add("99999999999999999999999999999999999999", "1").unwrap(),
            canon("1e38")
        );
        assert_eq!(add("1e30", "1e-30"), Err(NumberError::TooManyDigits));
    }

    #[test]
    fn arithmetic_underflow() {
        assert_eq!(sub("1.1e-129", "1.0e-129").unwrap(), canon("1e-130"));
        assert_eq!(sub("1.01e-129", "1e-129"), Err(NumberError::Underflow));
        assert_eq!(add("abc", "1"), Err(NumberError::NotANumber("abc".into())));
    }

    #[test]
    fn parts_and_conversions() {
        let d = Decimal::parse("-12.50").unwrap();
        assert!(d.is_negative());
        assert_eq!(d.digits(), &[1, 2, 5]);
        assert_eq!(d.exponent(), 1);
        assert_eq!(d.significant_digits(), 3);
        assert_eq!(d.abs().to_string(), "12.5");
        assert_eq!((-&d).to_string(), "12.5");
        assert_eq!(-Decimal::ZERO, Decimal::ZERO);
        assert_eq!(
            Decimal::from_parts(false, &[0, 0, 1, 2, 0], 3)
                .unwrap()
                .to_string(),
            "12"
        );
        assert_eq!(
            Decimal::from_parts(true, &[0, 0], 3).unwrap(),
            Decimal::ZERO
        );
        assert_eq!(Decimal::from_parts(false, &[10], 0), None);
        assert_eq!(Decimal::from(-1200).to_string(), "-1200");
        assert_eq!(Decimal::from(i64::MIN).to_string(), i64::MIN.to_string());
        assert_eq!(Decimal::from(0), Decimal::ZERO);
        assert_eq!(
            Decimal::parse("1700000000").unwrap().to_i64(),
            Some(1_700_000_000)
        );
        assert_eq!(Decimal::parse("-1e3").unwrap().to_i64(), Some(-1000));
        assert_eq!(Decimal::parse("0").unwrap().to_i64(), Some(0));
        assert_eq!(Decimal::parse("1.5").unwrap().to_i64(), None);
        assert_eq!(Decimal::parse("1e19").unwrap().to_i64(), None);
        assert_eq!(
            Decimal::parse(&i64::MAX.to_string()).unwrap().to_i64(),
            Some(i64::MAX)
        );
        assert_eq!(
            Decimal::parse(&i64::MIN.to_string()).unwrap().to_i64(),
            Some(i64::MIN)
        );
        assert_eq!(
            Decimal::parse("9223372036854775808").unwrap().to_i64(),
            None
        );
        assert_eq!(Decimal::parse("2.5").unwrap().to_f64(), 2.5);
        assert_eq!(Decimal::parse("-1e-130").unwrap().to_f64(), -1e-130);
        assert_eq!(Decimal::parse("0").unwrap().to_f64(), 0.0);
        assert_eq!(
            Decimal::parse_unchecked("1e999999").unwrap().to_f64(),
            f64::INFINITY
        );
        assert_eq!(Decimal::parse_unchecked("1.2.3"), None);
        assert_eq!("1.0".parse::<Decimal>().unwrap(), Decimal::from(1));
        assert!(Decimal::parse("1e2").unwrap().is_integer());
        assert!(!Decimal::parse("0.1").unwrap().is_integer());
    }

    /// Exact value of a canonical string scaled by 10^SCALE, for small numbers.
    const SCALE: usize = 12;
    fn scaled(canonical: &str) -> i128 {
        let (neg, body) = match canonical.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, canonical),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        assert!(frac.len() <= SCALE, "{canonical}");
        assert!(
            !frac.ends_with('0') && !body.starts_with('+'),
            "not canonical: {canonical}"
        );
        assert!(
            int == "0" || !int.starts_with('0'),
            "not canonical: {canonical}"
        );
        let text = format!("{int}{frac}{}", "0".repeat(SCALE - frac.len()));
        let v: i128 = text.parse().unwrap();
        if neg {
            assert!(v != 0, "negative zero: {canonical}");
            -v
        } else {
            v
        }
    }

    /// A number m × 10^e written in one of many equivalent spellings.
    fn spell(
        m: i64,
        e: i32,
        shift: i32,
        lead: usize,
        trail: usize,
        plus: bool,
        upper: bool,
    ) -> String {
        // Write |m| with the decimal point moved `shift` places left, compensated by exponent.
        let digits = m.unsigned_abs().to_string();
        let mut body = format!("{}{}", "0".repeat(lead), digits);
        let shift = shift.clamp(0, body.len() as i32) as usize;
        let point = body.len() - shift;
        let frac = format!("{}{}", &body[point..], "0".repeat(trail));
        body.truncate(point);
        let mut s = String::new();
        if m < 0 {
            s.push('-');
        } else if plus {
            s.push('+');
        }
        s.push_str(&body);
        if !frac.is_empty() {
            s.push('.');
            s.push_str(&frac);
        }
        let exp = e + shift as i32;
        if exp != 0 || upper {
            s.push(if upper { 'E' } else { 'e' });
            s.push_str(&exp.to_string());
        }
        s
    }

    fn value_of(m: i64, e: i32) -> i128 {
        let p = (SCALE as i32 + e) as u32;
        i128::from(m) * 10i128.pow(p)
    }

    proptest! {
        #[test]
        fn canonicalize_is_idempotent(s in "[+-]?[0-9]{0,45}(\\.[0-9]{0,45})?([eE][+-]?[0-9]{1,3})?") {
            if let Ok(c) = canonicalize(&s) {
                prop_assert_eq!(canonicalize(&c), Ok(c.clone()));
                prop_assert!(!c.contains(['e', 'E', '+']));
                prop_assert_eq!(compare(&c, &s), Ordering::Equal);
            }
        }

        #[test]
        fn canonical_value_is_exact(
            m in -999_999_999_999i64..=999_999_999_999,
            e in -12i32..=12,
            shift in 0i32..16, lead in 0usize..3, trail in 0usize..3,
            plus: bool, upper: bool,
        ) {
            let s = spell(m, e, shift, lead, trail, plus, upper);
            let c = canonicalize(&s).unwrap();
            prop_assert_eq!(scaled(&c), value_of(m, e), "{} -> {}", s, c);
        }

        #[test]
        fn compare_agrees_with_rationals(
            a in -999_999_999_999i64..=999_999_999_999, ea in -12i32..=12,
            b in -999_999_999_999i64..=999_999_999_999, eb in -12i32..=12,
            shift in 0i32..16, lead in 0usize..3, trail in 0usize..3,
        ) {
            let ca = canonicalize(&spell(a, ea, shift, lead, trail, false, false)).unwrap();
            let cb = canonicalize(&spell(b, eb, 0, 0, 0, true, true)).unwrap();
            let want = value_of(a, ea).cmp(&value_of(b, eb));
            prop_assert_eq!(compare(&ca, &cb), want, "{} vs {}", ca, cb);
            prop_assert_eq!(compare(&cb, &ca), want.reverse());
            prop_assert_eq!(Decimal::parse(&ca).unwrap().cmp(&Decimal::parse(&cb).unwrap()), want);
        }

        #[test]
        fn compare_agrees_with_f64_for_few_digits(
            a in -9999i32..=9999, ea in -130i32..=121,
            b in -9999i32..=9999, eb in -130i32..=121,
        ) {
            // Four significant digits survive f64 exactly enough to order distinct values.
            let (sa, sb) = (format!("{a}e{ea}"), format!("{b}e{eb}"));
            let (fa, fb): (f64, f64) = (sa.parse().unwrap(), sb.parse().unwrap());
            let (ca, cb) = (canonicalize(&sa).unwrap(), canonicalize(&sb).unwrap());
            let want = fa.partial_cmp(&fb).unwrap();
            prop_assert_eq!(compare(&ca, &cb), want, "{} vs {}", ca, cb);
        }

        #[test]
        fn arithmetic_is_exact(
            a in -999_999_999_999i64..=999_999_999_999, ea in -12i32..=12,
            b in -999_999_999_999i64..=999_999_999_999, eb in -12i32..=12,
        ) {
            let (sa, sb) = (spell(a, ea, 3, 0, 1, false, false), spell(b, eb, 0, 1, 0, true, true));
            let sum = add(&sa, &sb).unwrap();
            let diff = sub(&sa, &sb).unwrap();
            prop_assert_eq!(scaled(&sum), value_of(a, ea) + value_of(b, eb));
            prop_assert_eq!(scaled(&diff), value_of(a, ea) - value_of(b, eb));
            prop_assert_eq!(canonicalize(&sum), Ok(sum.clone()));
        }
    }
}
