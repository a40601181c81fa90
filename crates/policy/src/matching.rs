//! Wildcard matching (`*` any run, `?` one character) and policy variables (`${aws:username}`),
//! as `Action`, `Resource`, `StringLike` and `ArnLike` use them.
//!
//! A pattern is first expanded into [`Segment`]s: text written in the policy, where `*` and `?`
//! are wildcards, and text a variable brought in, which always matches literally (as do the
//! special variables `${*}`, `${?}` and `${$}`, which stand for those characters themselves;
//! IAM user guide, "IAM policy elements: Variables and tags").

use std::collections::HashMap;

/// The request context with lower-cased key names: condition keys and variables are
/// case-insensitive.
pub(crate) type Context<'a> = HashMap<String, &'a [String]>;

/// A piece of an expanded pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// Written in the policy: `*` and `?` are wildcards where the operator allows them.
    Pattern(String),
    /// Brought in by a variable: matched character for character.
    Literal(String),
}

/// Expands the policy variables of `text`. `None` when a variable names a key the request
/// does not have (and gives no default): the value then matches nothing. Without
/// substitution (`2008-10-17` documents) the text is returned as written.
pub(crate) fn expand(text: &str, context: &Context<'_>, substitute: bool) -> Option<Vec<Segment>> {
    if !substitute || !text.contains("${") {
        return Some(vec![Segment::Pattern(text.to_owned())]);
    }
    let mut segments = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start + 2..].find('}') else {
            break; // an unclosed `${` is plain text
        };
        if start > 0 {
            segments.push(Segment::Pattern(rest[..start].to_owned()));
        }
        let inner = &rest[start + 2..start + 2 + len];
        segments.push(Segment::Literal(variable(inner, context)?));
        rest = &rest[start + 3 + len..];
    }
    if !rest.is_empty() {
        segments.push(Segment::Pattern(rest.to_owned()));
    }
    Some(segments)
}

/// The value of one `${...}`: a special character, a key of the request, or the default a
/// policy gives after a comma (`${aws:PrincipalTag/team, 'company-wide'}`).
fn variable(inner: &str, context: &Context<'_>) -> Option<String> {
    match inner {
        "*" => return Some("*".to_owned()),
        "?" => return Some("?".to_owned()),
        "$" => return Some("$".to_owned()),
        _ => {}
    }
    let (key, default) = match inner.split_once(',') {
        Some((key, default)) => {
            let default = default.trim();
            let default = default
                .strip_prefix('\'')
                .and_then(|d| d.strip_suffix('\''))
                .map(str::to_owned);
            (key.trim(), default)
        }
        None => (inner.trim(), None),
    };
    // A multivalued key cannot stand for one value; only a single value substitutes.
    match context.get(&key.to_lowercase()) {
        Some([value]) => Some(value.clone()),
        _ => default,
    }
}

/// The expanded text with every character literal, for the `...Equals` operators.
pub(crate) fn literal_text(segments: &[Segment]) -> String {
    segments
        .iter()
        .map(|s| match s {
            Segment::Pattern(t) | Segment::Literal(t) => t.as_str(),
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Char(char),
    Any,
    One,
}

fn tokens(segments: &[Segment], fold: bool) -> Vec<Token> {
    let mut out = Vec::new();
    for segment in segments {
        match segment {
            Segment::Pattern(t) => out.extend(t.chars().map(|c| match c {
                '*' => Token::Any,
                '?' => Token::One,
                c => Token::Char(fold_char(c, fold)),
            })),
            Segment::Literal(t) => out.extend(t.chars().map(|c| Token::Char(fold_char(c, fold)))),
        }
    }
    out
}

fn fold_char(c: char, fold: bool) -> char {
    if fold {
        c.to_lowercase().next().unwrap_or(c)
    } else {
        c
    }
}

/// Whether `text` matches the wildcard pattern; `fold` compares case-insensitively.
pub(crate) fn like(segments: &[Segment], text: &str, fold: bool) -> bool {
    let pattern = tokens(segments, fold);
    let text: Vec<char> = text.chars().map(|c| fold_char(c, fold)).collect();
    glob(&pattern, &text)
}

/// Iterative wildcard match with one backtrack point: linear in practice, never recursive, so
/// no document can make it blow the stack.
fn glob(pattern: &[Token], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Token::Any) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Token::One) => {
                p += 1;
                t += 1;
            }
            Some(Token::Char(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|tok| *tok == Token::Any)
}

/// Splits segments at the first five colons written in the policy (a colon a variable brought
/// in stays inside its component), for component-wise ARN matching.
fn split_arn_pattern(segments: &[Segment]) -> Vec<Vec<Segment>> {
    let mut parts: Vec<Vec<Segment>> = vec![Vec::new()];
    for segment in segments {
        match segment {
            Segment::Literal(_) => {
                if let Some(last) = parts.last_mut() {
                    last.push(segment.clone());
                }
            }
            Segment::Pattern(text) => {
                let mut rest = text.as_str();
                while parts.len() < 6 {
                    let Some(i) = rest.find(':') else { break };
                    if let Some(last) = parts.last_mut() {
                        last.push(Segment::Pattern(rest[..i].to_owned()));
                    }
                    parts.push(Vec::new());
                    rest = &rest[i + 1..];
                }
                if !rest.is_empty() {
                    if let Some(last) = parts.last_mut() {
                        last.push(Segment::Pattern(rest.to_owned()));
                    }
                }
            }
        }
    }
    parts
}

/// ARN matching, for `Resource` and the `Arn...` operators: each of the six colon-separated
/// components is matched on its own, so a `*` in the region does not swallow the account (IAM
/// user guide, "IAM JSON policy elements: Condition operators", ARN condition operators). A
/// pattern with fewer components lets its last one match the rest of the ARN
/// (`arn:aws:sqs:*`). A pattern that is not an ARN (`*`) is matched as a whole.
pub(crate) fn arn_like(segments: &[Segment], arn: &str) -> bool {
    let starts_arn = matches!(segments.first(), Some(Segment::Pattern(t)) if t.starts_with("arn:"));
    if !starts_arn || !arn.starts_with("arn:") {
        return like(segments, arn, false);
    }
    let pattern = split_arn_pattern(segments);
    let text: Vec<&str> = arn.splitn(6, ':').collect();
    if pattern.len() > text.len() {
        return false;
    }
    for (i, part) in pattern.iter().enumerate() {
        let last = i + 1 == pattern.len();
        let target = if last {
            // The rest of the ARN, from this component on.
            let offset: usize = text[..i].iter().map(|t| t.len() + 1).sum();
            &arn[offset.min(arn.len())..]
        } else {
            text[i]
        };
        if !like(part, target, false) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(s: &str) -> Vec<Segment> {
        vec![Segment::Pattern(s.to_owned())]
    }

    #[test]
    fn wildcards() {
        assert!(like(&pat("*"), "", false));
        assert!(like(&pat("a*c"), "abbbc", false));
        assert!(like(&pat("a?c"), "abc", false));
        assert!(!like(&pat("a?c"), "ac", false));
        assert!(like(&pat("*Item"), "PutItem", false));
        assert!(!like(&pat("*Item"), "putitem", false));
        assert!(like(&pat("*Item"), "putitem", true));
        assert!(like(&pat("a*b*c"), "a-b-b-c", false));
        assert!(!like(&pat("a*b*c"), "a-b-b-d", false));
    }

    #[test]
    fn arn_components_are_matched_one_by_one() {
        let table = "arn:aws:dynamodb:us-east-1:111122223333:table/Books";
        assert!(arn_like(&pat("arn:aws:dynamodb:*:*:table/Books"), table));
        assert!(arn_like(&pat("arn:aws:dynamodb:*:*:table/*"), table));
        assert!(arn_like(&pat("arn:aws:dynamodb:*"), table));
        assert!(!arn_like(&pat("arn:aws:dynamodb:*:table/Books"), table));
        assert!(arn_like(&pat("*"), table));
        // A resource part keeps its colons: Lambda versions, log streams.
        let version = "arn:aws:lambda:us-east-1:111122223333:function:f:3";
        assert!(arn_like(&pat("arn:aws:lambda:*:*:function:f:*"), version));
        assert!(!arn_like(&pat("arn:aws:lambda:*:*:function:f"), version));
        assert!(arn_like(&pat("arn:aws:lambda:*:*:function:f*"), version));
    }

    #[test]
    fn variables_are_literal_and_absent_ones_match_nothing() {
        let values = [vec!["a*b".to_owned()], vec!["x".to_owned(), "y".to_owned()]];
        let mut ctx: Context<'_> = HashMap::new();
        ctx.insert("aws:username".into(), values[0].as_slice());
        ctx.insert("multi".into(), values[1].as_slice());
        let s = expand("home/${aws:UserName}/*", &ctx, true).unwrap_or_default();
        assert!(like(&s, "home/a*b/file", false));
        assert!(!like(&s, "home/aXXb/file", false));
        assert_eq!(expand("${aws:userid}", &ctx, true), None);
        assert_eq!(expand("${multi}", &ctx, true), None);
        let d = expand("${aws:userid, 'none'}", &ctx, true).unwrap_or_default();
        assert_eq!(literal_text(&d), "none");
        let special = expand("a${*}b${?}${$}", &ctx, true).unwrap_or_default();
        assert_eq!(literal_text(&special), "a*b?$");
        assert!(!like(&special, "aXXb?$", false));
        let plain = expand("${aws:username}", &ctx, false).unwrap_or_default();
        assert_eq!(literal_text(&plain), "${aws:username}");
    }
}
