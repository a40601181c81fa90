//! The lexer shared by every expression kind. It follows DynamoDB's token rules: whitespace
//! separates tokens and is otherwise ignored; keywords (`AND`, `OR`, `NOT`, `IN`, `BETWEEN`, `SET`,
//! `ADD`, `DELETE`, `REMOVE`) are case-insensitive and win over identifiers of the same length;
//! identifiers start with a letter; `#name` and `:value` placeholders take letters, digits and
//! `_`; list indexes are `0` or a number without leading zeros; quoted strings are a token of
//! their own (which no rule accepts); any other character is a one-character token.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    LParen,
    RParen,
    Comma,
    Dot,
    LBracket,
    RBracket,
    In,
    Between,
    Not,
    And,
    Or,
    Set,
    Add,
    Delete,
    Remove,
    Index,
    Id,
    NameSub,
    ValueSub,
    Str,
    Unknown,
    Eof,
}

/// One token: its kind and byte range in the source.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    pub kind: Tok,
    pub start: usize,
    pub end: usize,
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn keyword(word: &str) -> Option<Tok> {
    const KEYWORDS: [(&str, Tok); 9] = [
        ("IN", Tok::In),
        ("BETWEEN", Tok::Between),
        ("NOT", Tok::Not),
        ("AND", Tok::And),
        ("OR", Tok::Or),
        ("SET", Tok::Set),
        ("ADD", Tok::Add),
        ("DELETE", Tok::Delete),
        ("REMOVE", Tok::Remove),
    ];
    KEYWORDS
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(word))
        .map(|(_, t)| *t)
}

/// Splits `src` into tokens; the last one is always `Eof` at `src.len()`.
pub(crate) fn tokenize(src: &str) -> Vec<Token> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let scan_while = |mut j: usize, f: fn(char) -> bool| {
        while j < bytes.len() && f(char::from(bytes[j])) {
            j += 1;
        }
        j
    };
    while i < bytes.len() {
        let c = char::from(bytes[i]);
        let start = i;
        let (kind, end) = match c {
            ' ' | '\t' | '\n' | '\r' => {
                i += 1;
                continue;
            }
            '<' => match bytes.get(i + 1) {
                Some(b'>') => (Tok::Ne, i + 2),
                Some(b'=') => (Tok::Le, i + 2),
                _ => (Tok::Lt, i + 1),
            },
            '>' => match bytes.get(i + 1) {
                Some(b'=') => (Tok::Ge, i + 2),
                _ => (Tok::Gt, i + 1),
            },
            '=' => (Tok::Eq, i + 1),
            '+' => (Tok::Plus, i + 1),
            '-' => (Tok::Minus, i + 1),
            '(' => (Tok::LParen, i + 1),
            ')' => (Tok::RParen, i + 1),
            ',' => (Tok::Comma, i + 1),
            '.' => (Tok::Dot, i + 1),
            '[' => (Tok::LBracket, i + 1),
            ']' => (Tok::RBracket, i + 1),
            '0' => (Tok::Index, i + 1),
            '1'..='9' => (Tok::Index, scan_while(i + 1, |c| c.is_ascii_digit())),
            'a'..='z' | 'A'..='Z' => {
                let end = scan_while(i + 1, is_id_char);
                (keyword(&src[i..end]).unwrap_or(Tok::Id), end)
            }
            '#' | ':' => {
                let end = scan_while(i + 1, is_id_char);
                if end > i + 1 {
                    (
                        if c == '#' {
                            Tok::NameSub
                        } else {
                            Tok::ValueSub
                        },
                        end,
                    )
                } else {
                    (Tok::Unknown, i + 1)
                }
            }
            '"' | '\'' => match src[i + 1..].find(c) {
                Some(off) => (Tok::Str, i + 1 + off + 1),
                None => (Tok::Unknown, i + 1),
            },
            _ => {
                // One (possibly multi-byte) character.
                let ch_len = src[i..].chars().next().map_or(1, char::len_utf8);
                (Tok::Unknown, i + ch_len)
            }
        };
        out.push(Token { kind, start, end });
        i = end;
    }
    out.push(Token {
        kind: Tok::Eof,
        start: src.len(),
        end: src.len(),
    });
    out
}

/// DynamoDB's syntax error: the offending token and its neighbourhood (previous token, the
/// whitespace around the offending one, next token), as DynamoDB quotes them.
pub(crate) fn syntax_error_message(src: &str, toks: &[Token], at: usize) -> String {
    let cur = toks[at];
    let token = if cur.kind == Tok::Eof {
        "<EOF>"
    } else {
        &src[cur.start..cur.end]
    };
    let near_start = if at > 0 { toks[at - 1].start } else { 0 };
    let near_end = if cur.kind == Tok::Eof || toks[at + 1].kind == Tok::Eof {
        src.len()
    } else {
        toks[at + 1].end
    };
    format!(
        "Syntax error; token: \"{token}\", near: \"{}\"",
        &src[near_start..near_end]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<Tok> {
        tokenize(s).into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn keywords_win_ties_but_not_longer_identifiers() {
        assert_eq!(kinds("aNd"), vec![Tok::And, Tok::Eof]);
        assert_eq!(kinds("andy"), vec![Tok::Id, Tok::Eof]);
        assert_eq!(kinds("set_"), vec![Tok::Id, Tok::Eof]);
    }

    #[test]
    fn indexes_have_no_leading_zeros() {
        assert_eq!(
            kinds("007"),
            vec![Tok::Index, Tok::Index, Tok::Index, Tok::Eof]
        );
        assert_eq!(kinds("120a"), vec![Tok::Index, Tok::Id, Tok::Eof]);
    }

    #[test]
    fn placeholders_and_unknowns() {
        assert_eq!(kinds("#1a :_"), vec![Tok::NameSub, Tok::ValueSub, Tok::Eof]);
        assert_eq!(kinds("# :"), vec![Tok::Unknown, Tok::Unknown, Tok::Eof]);
        assert_eq!(kinds("\"x y\" é"), vec![Tok::Str, Tok::Unknown, Tok::Eof]);
        assert_eq!(
            kinds("<><=>=!"),
            vec![Tok::Ne, Tok::Le, Tok::Ge, Tok::Unknown, Tok::Eof]
        );
    }

    #[test]
    fn near_context_spans_previous_current_and_next_token() {
        let near = |s: &str, at: usize| syntax_error_message(s, &tokenize(s), at);
        assert_eq!(near("a b", 1), "Syntax error; token: \"b\", near: \"a b\"");
        assert_eq!(near("!!!", 0), "Syntax error; token: \"!\", near: \"!!\"");
        assert_eq!(near("a,", 2), "Syntax error; token: \"<EOF>\", near: \",\"");
        assert_eq!(
            near("SET a = ", 3),
            "Syntax error; token: \"<EOF>\", near: \"= \""
        );
        assert_eq!(
            near("SET _123", 1),
            "Syntax error; token: \"_\", near: \"SET _123\""
        );
        assert_eq!(near("l[a]", 2), "Syntax error; token: \"a\", near: \"[a]\"");
    }
}
