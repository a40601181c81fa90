//! Condition operators and their evaluation against the request context.
//!
//! Semantics from the IAM user guide, "IAM JSON policy elements: Condition operators" and
//! "Set operators for multivalued context keys":
//! - several keys under one operator, and several operators, must all be true (AND);
//!   several values for one key: any may match (OR);
//! - a key the request lacks makes the condition false, except for the negated operators
//!   (`StringNotEquals`, `ArnNotLike`, ...), which are then true, `...IfExists`, which is then
//!   true, and `Null`, which tests exactly that;
//! - `ForAllValues:` is true when every request value matches (and when the key is absent or
//!   empty); `ForAnyValue:` when at least one does (false when absent).

use std::net::IpAddr;

use crate::matching::{self, Context, Segment};

/// The comparison an operator makes, before negation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparison {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    ArnLike,
    NumericEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    Null,
}

/// `ForAnyValue:` or `ForAllValues:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetQualifier {
    ForAnyValue,
    ForAllValues,
}

/// A parsed operator name such as `ForAllValues:StringNotLikeIfExists`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Operator {
    pub comparison: Comparison,
    pub negated: bool,
    pub if_exists: bool,
    pub qualifier: Option<SetQualifier>,
}

impl Operator {
    /// Parses an operator name; `None` for a name IAM does not know.
    pub fn parse(name: &str) -> Option<Operator> {
        let (qualifier, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
            (Some(SetQualifier::ForAnyValue), rest)
        } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
            (Some(SetQualifier::ForAllValues), rest)
        } else {
            (None, name)
        };
        let (rest, if_exists) = match rest.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (rest, false),
        };
        use Comparison::*;
        let (comparison, negated) = match rest {
            "StringEquals" => (StringEquals, false),
            "StringNotEquals" => (StringEquals, true),
            "StringEqualsIgnoreCase" => (StringEqualsIgnoreCase, false),
            "StringNotEqualsIgnoreCase" => (StringEqualsIgnoreCase, true),
            "StringLike" => (StringLike, false),
            "StringNotLike" => (StringLike, true),
            // ArnEquals accepts wildcards as ArnLike does (user guide, ARN condition operators).
            "ArnEquals" | "ArnLike" => (ArnLike, false),
            "ArnNotEquals" | "ArnNotLike" => (ArnLike, true),
            "NumericEquals" => (NumericEquals, false),
            "NumericNotEquals" => (NumericEquals, true),
            "NumericLessThan" => (NumericLessThan, false),
            "NumericLessThanEquals" => (NumericLessThanEquals, false),
            "NumericGreaterThan" => (NumericGreaterThan, false),
            "NumericGreaterThanEquals" => (NumericGreaterThanEquals, false),
            "DateEquals" => (DateEquals, false),
            "DateNotEquals" => (DateEquals, true),
            "DateLessThan" => (DateLessThan, false),
            "DateLessThanEquals" => (DateLessThanEquals, false),
            "DateGreaterThan" => (DateGreaterThan, false),
            "DateGreaterThanEquals" => (DateGreaterThanEquals, false),
            "Bool" => (Bool, false),
            "BinaryEquals" => (BinaryEquals, false),
            "IpAddress" => (IpAddress, false),
            "NotIpAddress" => (IpAddress, true),
            // `Null` has no IfExists form and takes no set qualifier.
            "Null" if !if_exists && qualifier.is_none() => (Null, false),
            _ => return None,
        };
        Some(Operator {
            comparison,
            negated,
            if_exists,
            qualifier,
        })
    }

    /// Whether the values are dates, which IAM checks when it parses the document.
    pub fn is_date(&self) -> bool {
        matches!(
            self.comparison,
            Comparison::DateEquals
                | Comparison::DateLessThan
                | Comparison::DateLessThanEquals
                | Comparison::DateGreaterThan
                | Comparison::DateGreaterThanEquals
        )
    }

    /// Policy variables are substituted in string, ARN and Bool values only (the "Policy
    /// variables" line of each operator family in the user guide).
    fn takes_variables(&self) -> bool {
        matches!(
            self.comparison,
            Comparison::StringEquals
                | Comparison::StringEqualsIgnoreCase
                | Comparison::StringLike
                | Comparison::ArnLike
                | Comparison::Bool
        )
    }
}

/// One key under one operator, with its policy values.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    pub operator: Operator,
    /// The key, lower-cased: condition keys are case-insensitive.
    key_lower: String,
    pub values: Vec<String>,
}

impl Condition {
    pub fn new(operator: Operator, key: &str, values: Vec<String>) -> Condition {
        Condition {
            operator,
            key_lower: key.to_lowercase(),
            values,
        }
    }

    /// Whether the condition holds for the request.
    pub fn holds(&self, context: &Context<'_>, substitute: bool) -> bool {
        let op = &self.operator;
        let request: &[String] = context.get(&self.key_lower).copied().unwrap_or(&[]);
        if op.comparison == Comparison::Null {
            // "true": the key must be absent; "false": present. Several values: any.
            let absent = request.is_empty();
            return self
                .values
                .iter()
                .any(|v| match v.to_ascii_lowercase().as_str() {
                    "true" => absent,
                    "false" => !absent,
                    _ => false,
                });
        }
        if request.is_empty() {
            if op.if_exists {
                return true;
            }
            return match op.qualifier {
                Some(SetQualifier::ForAllValues) => true,
                Some(SetQualifier::ForAnyValue) => false,
                None => op.negated,
            };
        }
        // Expand the policy values once per request; a value whose variable is missing
        // matches nothing.
        let expanded: Vec<Vec<Segment>> = self
            .values
            .iter()
            .filter_map(|v| matching::expand(v, context, substitute && op.takes_variables()))
            .collect();
        // Whether one request value satisfies the operator (negation included): a negated
        // operator holds when the value matches none of the policy values.
        let satisfies = |r: &String| {
            let hit = expanded.iter().any(|v| compare(op.comparison, r, v));
            hit != op.negated
        };
        match op.qualifier {
            Some(SetQualifier::ForAllValues) => request.iter().all(satisfies),
            Some(SetQualifier::ForAnyValue) => request.iter().any(satisfies),
            // A single-valued operator on several values: the positive form holds when any
            // value matches, the negated form when none does.
            None => {
                let hit = request
                    .iter()
                    .any(|r| expanded.iter().any(|v| compare(op.comparison, r, v)));
                hit != op.negated
            }
        }
    }
}

/// The positive comparison of one request value with one (expanded) policy value. Values that
/// do not parse as the operator's type do not match.
fn compare(comparison: Comparison, request: &str, policy: &[Segment]) -> bool {
    use Comparison::*;
    match comparison {
        StringEquals => matching::literal_text(policy) == request,
        StringEqualsIgnoreCase => {
            matching::literal_text(policy).to_lowercase() == request.to_lowercase()
        }
        StringLike => matching::like(policy, request, false),
        ArnLike => matching::arn_like(policy, request),
        Bool => matching::literal_text(policy).eq_ignore_ascii_case(request),
        BinaryEquals => matching::literal_text(policy) == request,
        NumericEquals
        | NumericLessThan
        | NumericLessThanEquals
        | NumericGreaterThan
        | NumericGreaterThanEquals => {
            let (Some(r), Some(p)) = (
                parse_number(request),
                parse_number(&matching::literal_text(policy)),
            ) else {
                return false;
            };
            ordered(comparison, r.partial_cmp(&p))
        }
        DateEquals
        | DateLessThan
        | DateLessThanEquals
        | DateGreaterThan
        | DateGreaterThanEquals => {
            let (Some(r), Some(p)) = (
                parse_date(request),
                parse_date(&matching::literal_text(policy)),
            ) else {
                return false;
            };
            ordered(comparison, Some(r.cmp(&p)))
        }
        IpAddress => ip_in(request, &matching::literal_text(policy)),
        Null => false,
    }
}

fn ordered(comparison: Comparison, ordering: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    use Comparison::*;
    let Some(o) = ordering else { return false };
    match comparison {
        NumericEquals | DateEquals => o == Equal,
        NumericLessThan | DateLessThan => o == Less,
        NumericLessThanEquals | DateLessThanEquals => o != Greater,
        NumericGreaterThan | DateGreaterThan => o == Greater,
        NumericGreaterThanEquals | DateGreaterThanEquals => o != Less,
        _ => false,
    }
}

fn parse_number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A date as IAM reads one: ISO 8601 (a date, or a date and time with an offset or `Z`), or
/// epoch seconds. Returned as milliseconds since the epoch.
pub(crate) fn parse_date(text: &str) -> Option<i64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i64>().ok()?.checked_mul(1000);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.fZ",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%MZ",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

/// Whether an address is in a CIDR block (or equals an address written without a prefix).
fn ip_in(address: &str, block: &str) -> bool {
    let Ok(address) = address.trim().parse::<IpAddr>() else {
        return false;
    };
    let (network, prefix) = match block.trim().split_once('/') {
        Some((n, p)) => (n, p.parse::<u32>().ok()),
        None => (block.trim(), None),
    };
    let Ok(network) = network.parse::<IpAddr>() else {
        return false;
    };
    let (a, n, bits) = match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => (u128::from(u32::from(a)), u128::from(u32::from(n)), 32),
        (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
        (IpAddr::V6(a), IpAddr::V4(n)) => match a.to_ipv4_mapped() {
            Some(a) => (u128::from(u32::from(a)), u128::from(u32::from(n)), 32),
            None => return false,
        },
        (IpAddr::V4(_), IpAddr::V6(_)) => return false,
    };
    let prefix = prefix.unwrap_or(bits);
    if prefix > bits {
        return false;
    }
    let shift = bits - prefix;
    if shift >= 128 {
        return true;
    }
    (a >> shift) == (n >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_names() {
        let op = Operator::parse("ForAllValues:StringNotLikeIfExists");
        assert_eq!(
            op,
            Some(Operator {
                comparison: Comparison::StringLike,
                negated: true,
                if_exists: true,
                qualifier: Some(SetQualifier::ForAllValues),
            })
        );
        assert!(Operator::parse("StringEqualz").is_none());
        assert!(Operator::parse("NullIfExists").is_none());
        assert!(Operator::parse("NotIpAddressIfExists").is_some());
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("2020-01-01T00:00:00Z"), Some(1_577_836_800_000));
        assert_eq!(parse_date("2020-01-01"), Some(1_577_836_800_000));
        assert_eq!(parse_date("1577836800"), Some(1_577_836_800_000));
        assert_eq!(
            parse_date("2020-01-01T01:00:00+01:00"),
            Some(1_577_836_800_000)
        );
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn cidr_blocks() {
        assert!(ip_in("203.0.113.7", "203.0.113.0/24"));
        assert!(!ip_in("203.0.114.7", "203.0.113.0/24"));
        assert!(ip_in("10.1.2.3", "0.0.0.0/0"));
        assert!(ip_in("2001:db8::1", "2001:db8::/32"));
        assert!(!ip_in("2001:db9::1", "2001:db8::/32"));
        assert!(ip_in("192.0.2.1", "192.0.2.1"));
        assert!(!ip_in("not an address", "0.0.0.0/0"));
        assert!(!ip_in("192.0.2.1", "192.0.2.0/33"));
    }
}
