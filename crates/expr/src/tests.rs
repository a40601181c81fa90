//! Table-driven tests. Expected messages come from DynamoDB itself as recorded by dynalite's and
//! ScyllaDB Alternator's suites (both run against real DynamoDB) and from DynamoDB Local.

use std::collections::BTreeMap;

use tributary_model::attr::{AttributeValue, Item};

use super::*;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}
fn n(v: &str) -> AttributeValue {
    AttributeValue::N(v.into())
}
fn b(v: &[u8]) -> AttributeValue {
    AttributeValue::B(v.to_vec())
}
fn l(v: Vec<AttributeValue>) -> AttributeValue {
    AttributeValue::L(v)
}
fn m(v: &[(&str, AttributeValue)]) -> AttributeValue {
    AttributeValue::M(v.iter().map(|(k, x)| (k.to_string(), x.clone())).collect())
}
fn ss(v: &[&str]) -> AttributeValue {
    AttributeValue::Ss(v.iter().map(|x| x.to_string()).collect())
}
fn ns(v: &[&str]) -> AttributeValue {
    AttributeValue::Ns(v.iter().map(|x| x.to_string()).collect())
}
fn item(v: &[(&str, AttributeValue)]) -> Item {
    v.iter().map(|(k, x)| (k.to_string(), x.clone())).collect()
}

/// The placeholders most tests use.
fn values() -> BTreeMap<String, AttributeValue> {
    BTreeMap::from([
        (":s".to_string(), s("abc")),
        (":t".to_string(), s("S")),
        (":n".to_string(), n("1")),
        (":n2".to_string(), n("2")),
        (":b".to_string(), b(b"ab")),
        (":l".to_string(), l(vec![n("1")])),
        (":m".to_string(), m(&[("x", n("1"))])),
        (":ss".to_string(), ss(&["a"])),
        (":ns".to_string(), ns(&["1"])),
        (":bool".to_string(), AttributeValue::Bool(true)),
        (":null".to_string(), AttributeValue::Null),
        (":dog".to_string(), s("DOG")),
    ])
}

fn names() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("#a".to_string(), "a".to_string()),
        ("#c".to_string(), "c".to_string()),
        ("#d".to_string(), "[3]".to_string()),
        ("#1".to_string(), "1".to_string()),
        ("#dot".to_string(), "x.y".to_string()),
    ])
}

fn cond(expr: &str) -> Result<Condition, String> {
    let (nm, vs) = (names(), values());
    let mut ph = Placeholders::new(&nm, &vs);
    parse_condition(expr, ExprKind::Condition, &mut ph).map_err(|e| {
        assert_eq!(e.code, "ValidationException");
        e.message
    })
}

fn cond_err(expr: &str) -> String {
    match cond(expr) {
        Ok(_) => panic!("{expr} parsed"),
        Err(e) => e,
    }
}

fn upd(expr: &str) -> Result<Update, String> {
    let (nm, vs) = (names(), values());
    let mut ph = Placeholders::new(&nm, &vs);
    parse_update_expression(expr, &mut ph).map_err(|e| e.message)
}

fn upd_err(expr: &str) -> String {
    match upd(expr) {
        Ok(_) => panic!("{expr} parsed"),
        Err(e) => e,
    }
}

fn proj(expr: &str) -> Result<Vec<Path>, String> {
    let (nm, vs) = (names(), values());
    let mut ph = Placeholders::new(&nm, &vs);
    parse_projection(expr, &mut ph).map_err(|e| e.message)
}

fn check_table(table: &[(&str, &str)], f: impl Fn(&str) -> String) {
    for (expr, want) in table {
        assert_eq!(f(expr), *want, "expression: {expr}");
    }
}

// ----- syntax -----

#[test]
fn syntax_errors_quote_the_token_and_its_neighbours() {
    check_table(
        &[
            ("a", "Syntax error; token: \"<EOF>\", near: \"a\""),
            ("a b", "Syntax error; token: \"b\", near: \"a b\""),
            ("a IN ()", "Syntax error; token: \")\", near: \"()\""),
            (
                "attribute_type()",
                "Syntax error; token: \")\", near: \"()\"",
            ),
            (
                "a = :s AND",
                "Syntax error; token: \"<EOF>\", near: \"AND\"",
            ),
            ("a != :s", "Syntax error; token: \"!\", near: \"a !=\""),
            ("((a))", "Syntax error; token: \"<EOF>\", near: \")\""),
            ("(a)", "Syntax error; token: \"<EOF>\", near: \")\""),
            (
                "(a) AND b = :s",
                "Syntax error; token: \"AND\", near: \") AND b\"",
            ),
            ("a = :s b", "Syntax error; token: \"b\", near: \":s b\""),
            (
                "(size(a))[0] > a",
                "Syntax error; token: \"[\", near: \")[0\"",
            ),
            ("NOT a", "Syntax error; token: \"<EOF>\", near: \"a\""),
            (
                "a = \"x\"",
                "Syntax error; token: \"\"x\"\", near: \"= \"x\"\"",
            ),
            ("set = :s", "Syntax error; token: \"set\", near: \"set =\""),
            (
                "a BETWEEN :n OR :n2",
                "Syntax error; token: \"OR\", near: \":n OR :n2\"",
            ),
            ("#f(a) = :s", "Syntax error; token: \"(\", near: \"#f(a\""),
            ("a[01] = :s", "Syntax error; token: \"1\", near: \"01]\""),
            ("   ", "Syntax error; token: \"<EOF>\", near: \"   \""),
        ],
        |e| {
            cond_err(e)
                .trim_start_matches("Invalid ConditionExpression: ")
                .to_owned()
        },
    );
    check_table(
        &[
            ("SET", "Syntax error; token: \"<EOF>\", near: \"SET\""),
            ("SET a = ", "Syntax error; token: \"<EOF>\", near: \"= \""),
            (
                "SET _123 = :s",
                "Syntax error; token: \"_\", near: \"SET _123\"",
            ),
            (
                "SET path = VALUE 1",
                "Syntax error; token: \"1\", near: \"VALUE 1\"",
            ),
            (
                "HELLO b = :s",
                "Syntax error; token: \"HELLO\", near: \"HELLO b\"",
            ),
            (
                "SET a = b + c + d",
                "Syntax error; token: \"+\", near: \"c + d\"",
            ),
            (
                "SET c = if_not_exists(c, :s+:n)",
                "Syntax error; token: \"+\", near: \":s+:n\"",
            ),
            (
                "set a = (b.c).d + e",
                "Syntax error; token: \".\", near: \").d\"",
            ),
            (
                "set (a = (b + c))",
                "Syntax error; token: \"(\", near: \"set (a\"",
            ),
            (
                "remove a = b",
                "Syntax error; token: \"=\", near: \"a = b\"",
            ),
            (
                "add abort b",
                "Syntax error; token: \"b\", near: \"abort b\"",
            ),
            (
                "set :s = b",
                "Syntax error; token: \":s\", near: \"set :s =\"",
            ),
            (
                "set a[:n] = :s",
                "Syntax error; token: \":n\", near: \"[:n]\"",
            ),
            (
                "set a[#a] = :s",
                "Syntax error; token: \"#a\", near: \"[#a]\"",
            ),
            (
                "SET a = _f(b)",
                "Syntax error; token: \"_\", near: \"= _f\"",
            ),
            (
                "SET a = b * c",
                "Syntax error; token: \"*\", near: \"b * c\"",
            ),
            (
                "SET a = (b + c) + d",
                "Syntax error; token: \"+\", near: \") + d\"",
            ),
        ],
        |e| {
            upd_err(e)
                .trim_start_matches("Invalid UpdateExpression: ")
                .to_owned()
        },
    );
    check_table(
        &[
            ("!!!", "Syntax error; token: \"!\", near: \"!!\""),
            ("a,", "Syntax error; token: \"<EOF>\", near: \",\""),
            ("l[a]", "Syntax error; token: \"a\", near: \"[a]\""),
            ("a.", "Syntax error; token: \"<EOF>\", near: \".\""),
            ("(a)", "Syntax error; token: \"(\", near: \"(a\""),
        ],
        |e| {
            proj(e)
                .unwrap_err()
                .trim_start_matches("Invalid ProjectionExpression: ")
                .to_owned()
        },
    );
}

#[test]
fn keywords_are_case_insensitive_and_names_are_tokens() {
    for ok in [
        "a < :n aNd a > :n2",
        "a < :n oR a > :n2",
        "nOt a < :n",
        "a between :n and :n2",
        "a in (:n, :n2)",
        "NOT NOT NOT NOT a < :n",
        "Alpha_Numeric_123 = :s",
        "attribute_exists (a)",
        "#1 = :s",
        "(a < :n OR b < :n) AND (c < :n AND (a < :n OR c < :n))",
        "(a) = :s",
        "(size(a)) = :n",
        "(begins_with(a, :s))",
        "(begins_with(a, :s)) AND a = :s",
        "(begins_with(a, :s) OR a = :s)",
        "((a) = :s)",
        "size(a)=:n",
    ] {
        cond(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for ok in [
        "set b = :s",
        "sEt b = :s",
        "  set   b=:s  ",
        "SET a = :s, b = :n REMOVE c ADD d :n DELETE e :ss",
        "REMOVE c SET b = :n",
        "SET a = (b + c)",
        "SET a = (b) + (c)",
        "SET a = ((b) + c)",
        "SET a = (b)",
        "set b.c=((c[1])+(b.a)),b.a = a",
        "SET b = if_not_exists(b, :n)+:n2",
        "SET a = list_append(if_not_exists(a, :l), :l)",
        "SET a = if_not_exists(b, if_not_exists(c, :n))",
        "SET #1 = :s",
    ] {
        upd(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
}

#[test]
fn empty_and_oversized_expressions() {
    assert_eq!(
        cond_err(""),
        "Invalid ConditionExpression: The expression can not be empty;"
    );
    assert_eq!(
        upd_err(""),
        "Invalid UpdateExpression: The expression can not be empty;"
    );
    assert_eq!(
        proj("").unwrap_err(),
        "Invalid ProjectionExpression: The expression can not be empty;"
    );
    let (nm, vs) = (names(), values());
    let mut ph = Placeholders::new(&nm, &vs);
    let e = parse_condition("", ExprKind::Filter, &mut ph).unwrap_err();
    assert_eq!(
        e.message,
        "Invalid FilterExpression: The expression can not be empty;"
    );
    let e = parse_key_condition("", &mut ph).unwrap_err();
    assert_eq!(
        e.message,
        "Invalid KeyConditionExpression: The expression can not be empty;"
    );

    let long = format!("a = :s{}", " ".repeat(4091));
    assert_eq!(
        cond_err(&long),
        "Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; expression size: 4097"
    );
    cond(&long[..4096]).unwrap();
    assert_eq!(
        upd_err(&format!("SET a = :s{}", " ".repeat(4090))),
        "Invalid UpdateExpression: Expression size has exceeded the maximum allowed size;"
    );
}

#[test]
fn redundant_parentheses() {
    let msg = "The expression has redundant parentheses;";
    for e in [
        "((a = :s))",
        "((a)) = :s",
        "a = ((:s))",
        "(((a = :s)) AND b = :s)",
        "((begins_with(a, :s)))",
        "a IN (((:s)))",
        "size(((a))) = :n",
    ] {
        assert_eq!(
            cond_err(e),
            format!("Invalid ConditionExpression: {msg}"),
            "{e}"
        );
    }
    for e in [
        "SET a = ((b))",
        "SET a = ((b + c))",
        "SET a = ((b)) + c",
        "SET a = list_append(((a)), :l)",
    ] {
        assert_eq!(
            upd_err(e),
            format!("Invalid UpdateExpression: {msg}"),
            "{e}"
        );
    }
    // A syntax error DynamoDB meets while still deciding what the parentheses hold wins.
    assert_eq!(
        cond_err("((a)) b"),
        "Invalid ConditionExpression: Syntax error; token: \"b\", near: \") b\""
    );
    // Once decided, the parentheses complaint comes first.
    assert_eq!(
        cond_err("((a = :s)) b"),
        format!("Invalid ConditionExpression: {msg}")
    );
}

// ----- the syntax-tree walk -----

#[test]
fn reserved_words_are_rejected_unless_escaped() {
    check_table(
        &[
            (" set #c = :s set abOrt = true ", "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: abOrt"),
            (" remove Absolute ", "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: Absolute"),
            ("SET a.name = :s", "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: name"),
        ],
        upd_err,
    );
    assert_eq!(
        cond_err("size = :n"),
        "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: size"
    );
    assert_eq!(
        cond_err("dog(a) = :n AND size = :n"),
        "Invalid ConditionExpression: Invalid function name; function: dog"
    );
    assert_eq!(
        proj("a, Data").unwrap_err(),
        "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: Data"
    );
    // Function names are not attribute names.
    cond("size(a) > :n").unwrap();
    assert_eq!(reserved::RESERVED_WORDS.len(), 573);
}

#[test]
fn function_names_and_placement() {
    check_table(
        &[
            ("dog(a) = :n", "Invalid function name; function: dog"),
            ("size(a)", "The function is not allowed to be used this way in an expression; function: size"),
            ("attribute_exists(a) < :n", "The function is not allowed to be used this way in an expression; function: attribute_exists"),
            ("begins_with(a, :s) = :bool", "The function is not allowed to be used this way in an expression; function: begins_with"),
            ("contains(attribute_exists(a), :s)", "The function is not allowed to be used this way in an expression; function: attribute_exists"),
            ("if_not_exists(a, a) = :n", "The function is not allowed in a condition expression; function: if_not_exists"),
            ("list_append(a, a) = :n", "The function is not allowed in a condition expression; function: list_append"),
            ("Size(a) = :n", "Invalid function name; function: Size"),
        ],
        |e| cond_err(e).trim_start_matches("Invalid ConditionExpression: ").to_owned(),
    );
    check_table(
        &[
            ("SET a = f(b,c,d)", "Invalid function name; function: f"),
            ("SET a = f123_hi(b,c,d)", "Invalid function name; function: f123_hi"),
            ("SET a = LIST_APPEND(:l, :l)", "Invalid function name; function: LIST_APPEND"),
            ("SET a = size(b)", "The function is not allowed in an update expression; function: size"),
            ("SET a = attribute_exists(b)", "The function is not allowed in an update expression; function: attribute_exists"),
            ("SET a = list_append(list_append(:l, :l), :l)", "The function is not allowed to be used this way in an expression; function: list_append"),
            ("SET a = list_append(:l, :l) + :n", "The function is not allowed to be used this way in an expression; function: list_append"),
            ("SET a = if_not_exists(a, list_append(:l, :l))", "The function is not allowed to be used this way in an expression; function: list_append"),
            ("set #c = if_not_exist(:s) set c = d", "Invalid function name; function: if_not_exist"),
        ],
        |e| upd_err(e).trim_start_matches("Invalid UpdateExpression: ").to_owned(),
    );
}

#[test]
fn update_sections_can_be_used_once() {
    check_table(
        &[
            ("set a = #c set c = :s", "SET"),
            ("remove #d set a = b remove e", "REMOVE"),
            ("add #d :n set a = b add e :n", "ADD"),
            ("delete #d :ss set a = b delete #c :ss", "DELETE"),
            ("SET a = :s REMOVE b SET c = :s", "SET"),
        ],
        |e| {
            let msg = upd_err(e);
            let want_prefix = "Invalid UpdateExpression: The \"";
            assert!(msg.starts_with(want_prefix), "{e}: {msg}");
            assert!(
                msg.ends_with("\" section can only be used once in an update expression;"),
                "{msg}"
            );
            msg[want_prefix.len()..]
                .split('"')
                .next()
                .unwrap_or("")
                .to_owned()
        },
    );
}

#[test]
fn list_indexes_must_fit() {
    assert_eq!(
        cond_err("a[2147483648] = :s"),
        "Invalid ConditionExpression: List index is not within the allowable range; index: [2147483648]"
    );
    cond("a[2147483647] = :s").unwrap();
}

// ----- placeholders and operators -----

#[test]
fn undefined_placeholders() {
    assert_eq!(
        cond_err("#x = :s"),
        "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #x"
    );
    assert_eq!(
        cond_err("a = :x"),
        "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :x"
    );
    // Children are checked left to right.
    assert!(cond_err(":x = #x").ends_with("attribute value: :x"));
    check_table(
        &[
            ("SET #x = if_not_exists(:x)", "An expression attribute name used in the document path is not defined; attribute name: #x"),
            ("SET #a = if_not_exists(:x)", "An expression attribute value used in expression is not defined; attribute value: :x"),
            ("SET a = :x, #x = :s", "An expression attribute name used in the document path is not defined; attribute name: #x"),
        ],
        |e| upd_err(e).trim_start_matches("Invalid UpdateExpression: ").to_owned(),
    );
    assert_eq!(
        proj("a, #zz").unwrap_err(),
        "Invalid ProjectionExpression: An expression attribute name used in the document path is not defined; attribute name: #zz"
    );
}

#[test]
fn operand_counts_and_types() {
    check_table(
        &[
            ("begins_with(a)", "Incorrect number of operands for operator or function; operator or function: begins_with, number of operands: 1"),
            ("begins_with(a, :s, :s)", "Incorrect number of operands for operator or function; operator or function: begins_with, number of operands: 3"),
            ("size(a, a) = :n", "Incorrect number of operands for operator or function; operator or function: size, number of operands: 2"),
            ("attribute_exists(a, b)", "Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2"),
            ("begins_with(a, :n)", "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"),
            ("a < :l", "Incorrect operand type for operator or function; operator or function: <, operand type: L"),
            (":bool >= a", "Incorrect operand type for operator or function; operator or function: >=, operand type: BOOL"),
            ("a BETWEEN :l AND :l", "Incorrect operand type for operator or function; operator or function: BETWEEN, operand type: L"),
            ("size(:n) = :n", "Incorrect operand type for operator or function; operator or function: size, operand type: N"),
            ("size(size(a)) = :n", "Incorrect operand type for operator or function; operator or function: size, operand type: N"),
            ("begins_with(size(a), :s)", "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"),
            ("attribute_type(a, b)", "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: {NS,SS,L,BS,N,M,B,BOOL,NULL,S}"),
            ("attribute_type(a, :n)", "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: N"),
            ("attribute_type(a, :dog)", "Invalid attribute type name found; type: DOG, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}"),
            ("attribute_exists(:s)", "Operator or function requires a document path; operator or function: attribute_exists"),
            ("attribute_not_exists(size(a))", "Operator or function requires a document path; operator or function: attribute_not_exists"),
        ],
        |e| cond_err(e).trim_start_matches("Invalid ConditionExpression: ").to_owned(),
    );
    // Lists, maps, sets and NULL compare for equality without complaint.
    for e in [
        "a = :l",
        "a <> :m",
        "a = :ss",
        "a IN (:null, :bool, :ns)",
        "attribute_type(:n, :t)",
        "contains(a, :m)",
    ] {
        cond(e).unwrap_or_else(|m| panic!("{e}: {m}"));
    }
    check_table(
        &[
            ("set a = if_not_exists(c)", "Incorrect number of operands for operator or function; operator or function: if_not_exists, number of operands: 1"),
            ("set a = list_append(c)", "Incorrect number of operands for operator or function; operator or function: list_append, number of operands: 1"),
            ("set a = if_not_exists(:s, c)", "Operator or function requires a document path; operator or function: if_not_exists"),
            ("set a = if_not_exists(if_not_exists(a, b), c)", "Operator or function requires a document path; operator or function: if_not_exists"),
            ("set a = list_append(:s, a)", "Incorrect operand type for operator or function; operator or function: list_append, operand type: S"),
            ("set a = list_append(a, :n)", "Incorrect operand type for operator or function; operator or function: list_append, operand type: N"),
            ("set a = list_append(:m, a)", "Incorrect operand type for operator or function; operator or function: list_append, operand type: M"),
            ("set a = a + :s", "Incorrect operand type for operator or function; operator or function: +, operand type: S"),
            ("set a = :b + a", "Incorrect operand type for operator or function; operator or function: +, operand type: B"),
            ("set a = a - :ss", "Incorrect operand type for operator or function; operator or function: -, operand type: SS"),
            ("set a = a - :l", "Incorrect operand type for operator or function; operator or function: -, operand type: L"),
            ("set a = a + :null", "Incorrect operand type for operator or function; operator or function: +, operand type: NULL"),
            ("add a.b :s", "Incorrect operand type for operator or function; operator: ADD, operand type: STRING"),
            ("delete a.b :s", "Incorrect operand type for operator or function; operator: DELETE, operand type: STRING"),
            ("add a.b :null", "Incorrect operand type for operator or function; operator: ADD, operand type: NULL"),
            ("add a.b :bool", "Incorrect operand type for operator or function; operator: ADD, operand type: BOOLEAN"),
            ("delete a.b :b", "Incorrect operand type for operator or function; operator: DELETE, operand type: BINARY"),
            ("add a.b :m", "Incorrect operand type for operator or function; operator: ADD, operand type: MAP"),
            ("add a.b :l", "Incorrect operand type for operator or function; operator: ADD, operand type: LIST"),
            ("delete a.b :n", "Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER"),
            // Actions are validated last to first, after every path.
            ("set b = list_append(:s, a), c = if_not_exists(a) add a.b :s", "Incorrect operand type for operator or function; operator: ADD, operand type: STRING"),
        ],
        |e| upd_err(e).trim_start_matches("Invalid UpdateExpression: ").to_owned(),
    );
}

#[test]
fn repeated_first_operand_is_rejected() {
    check_table(
        &[
            ("a = a", "operator: =, first operand: [a]"),
            ("#a <> a", "operator: <>, first operand: [a]"),
            ("contains(a, a)", "operator: contains, first operand: [a]"),
            (
                "a.b[1] BETWEEN c AND a.b[1]",
                "operator: BETWEEN, first operand: [a, b, [1]]",
            ),
            ("a IN (b, a)", "operator: IN, first operand: [a]"),
        ],
        |e| {
            cond_err(e)
                .trim_start_matches("Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator or function; ")
                .to_owned()
        },
    );
    cond("contains(a, a1)").unwrap();
    cond("a = a.b").unwrap();
}

#[test]
fn between_and_in_limits() {
    let vs = BTreeMap::from([
        (":a".to_string(), s("a")),
        (":b".to_string(), n("1")),
        (":c".to_string(), s("b")),
    ]);
    let nm = BTreeMap::new();
    let key = |e: &str| {
        let mut ph = Placeholders::new(&nm, &vs);
        parse_key_condition(e, &mut ph).unwrap_err().message
    };
    assert_eq!(
        key("a between :b and :a"),
        "Invalid KeyConditionExpression: The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {N:1}, upper bound operand: AttributeValue: {S:a}"
    );
    assert_eq!(
        key("a between :c and :a"),
        "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {S:b}, upper bound operand: AttributeValue: {S:a}"
    );
    // Bounds read from the item are not checked up front.
    cond("a BETWEEN b AND :n").unwrap();

    let many: BTreeMap<String, AttributeValue> = (0..101)
        .map(|i| (format!(":v{i}"), n(&i.to_string())))
        .collect();
    let list = |k: usize| {
        (0..k)
            .map(|i| format!(":v{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut ph = Placeholders::new(&nm, &many);
    parse_condition(&format!("a IN ({})", list(100)), ExprKind::Filter, &mut ph).unwrap();
    let e =
        parse_condition(&format!("a IN ({})", list(101)), ExprKind::Filter, &mut ph).unwrap_err();
    assert_eq!(
        e.message,
        "Invalid FilterExpression: The IN operator is provided with too many operands; number of operands: 101"
    );
}

#[test]
fn path_depth_and_operator_count_limits() {
    let deep = |k: usize| format!("a{}", ".b".repeat(k - 1));
    cond(&format!("attribute_exists({})", deep(32))).unwrap();
    assert_eq!(
        cond_err(&format!("attribute_exists({})", deep(33))),
        "Invalid ConditionExpression: The document path has too many nesting levels; nesting levels: 33"
    );
    // 150 comparisons and 149 ANDs: 299 operators.
    let ok = vec!["a = :n"; 150].join(" AND ");
    cond(&ok).unwrap();
    let too_many = vec!["a = :n"; 151].join(" AND ");
    assert_eq!(
        cond_err(&too_many),
        "Invalid ConditionExpression: The expression contains too many operators; operator count: 301"
    );
}

#[test]
fn overlapping_and_conflicting_update_paths() {
    let overlap = "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; ";
    let conflict = "Invalid UpdateExpression: Two document paths conflict with each other; must remove or rewrite one of these paths; ";
    check_table(
        &[
            (
                "set d[1] = a, d.b = a, c[1].a = a, #c = if_not_exists(a)",
                "O path one: [c, [1], a], path two: [c]",
            ),
            (
                "set c.b.#c = a, c = a, #d = a",
                "O path one: [c, b, c], path two: [c]",
            ),
            (
                "set a = b remove a, #c, #d",
                "O path one: [a], path two: [a]",
            ),
            (
                "set #c[3].#d = a, #c[3] = a",
                "O path one: [c, [3], [3]], path two: [c, [3]]",
            ),
            ("remove c, #c.a, #d", "O path one: [c], path two: [c, a]"),
            ("remove a, #c, a, #d", "O path one: [a], path two: [a]"),
            ("SET #a = :s, a = :n", "O path one: [a], path two: [a]"),
            (
                "SET a[1][1][1][1] = :n, a[1][1] = :s",
                "O path one: [a, [1], [1], [1], [1]], path two: [a, [1], [1]]",
            ),
            (
                "set #c[3].#d = a, #c.#d[3] = if_not_exists(a)",
                "C path one: [c, [3], [3]], path two: [c, [3], [3]]",
            ),
            (
                "remove a.#c set a[1] = #d",
                "C path one: [a, c], path two: [a, [1]]",
            ),
            (
                "SET a.b = :s, a[1] = :n",
                "C path one: [a, b], path two: [a, [1]]",
            ),
        ],
        |e| {
            let msg = upd_err(e);
            if let Some(rest) = msg.strip_prefix(overlap) {
                format!("O {rest}")
            } else if let Some(rest) = msg.strip_prefix(conflict) {
                format!("C {rest}")
            } else {
                msg
            }
        },
    );
    upd("SET a.b = :s, a.c.d = :n, b.x = :n REMOVE a.x, b.y").unwrap();
    assert_eq!(
        proj("a, a.b").unwrap_err(),
        "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]"
    );
    assert_eq!(
        proj("a.b, a[0]").unwrap_err(),
        "Invalid ProjectionExpression: Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a, [0]]"
    );
}

// ----- condition evaluation -----

fn eval(expr: &str, it: &Item) -> bool {
    cond(expr)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
        .eval(it)
}

#[test]
fn comparisons_follow_dynamodb() {
    let it = item(&[
        ("a", n("1")),
        ("s", s("abc")),
        ("bin", b(b"ab")),
        ("l", l(vec![n("1")])),
        ("one", n("1.0")),
        ("x", ss(&["a"])),
        ("mm", m(&[("x", n("1"))])),
    ]);
    let table: &[(&str, bool)] = &[
        ("a = :n", true),
        ("a = one", true),
        ("a = :s", false),
        ("a <> :s", true),
        ("a <> :n", false),
        ("q = :n", false),
        ("q <> :n", true),
        ("q = z", false),
        ("q <> z", true),
        ("q < z", false),
        ("q >= z", false),
        ("q BETWEEN z AND y", false),
        ("a < :n2", true),
        ("a <= :n", true),
        ("a > :n", false),
        ("a >= :n", true),
        (":n2 > a", true),
        ("s < :s", false),
        ("s >= :s", true),
        ("s < :t", false),
        ("bin <= :b", true),
        ("bin < :b", false),
        ("a < :s", false),
        ("l < a", false),
        ("l = :l", true),
        ("x = :ss", true),
        ("mm = :m", true),
        ("a BETWEEN :n AND :n2", true),
        ("a BETWEEN :n2 AND :n2", false),
        ("a BETWEEN s AND :n2", false),
        ("a IN (:s, :n)", true),
        ("a IN (:s, :n2)", false),
        ("q IN (:s, :n2)", false),
        ("l IN (:l)", true),
        ("NOT a = :n", false),
        ("NOT a = :n OR a = :n", true),
        ("a = :n2 OR a = :n AND s = :t", false),
        ("(a = :n2 OR a = :n) AND s = :s", true),
        ("a = :n2 AND s = :s OR a = :n", true),
        ("NOT a = :n AND s = :s", false),
        ("NOT (a = :n AND s = :t)", true),
    ];
    for (e, want) in table {
        assert_eq!(eval(e, &it), *want, "{e}");
    }
}

#[test]
fn functions_follow_dynamodb() {
    let it = item(&[
        ("a", s("hello")),
        ("uni", s("é𝄞")),
        ("bin", b(b"hi there")),
        ("nums", ns(&["2", "4", "7"])),
        ("lst", l(vec![n("2"), s("dog"), n("7"), ss(&["a"])])),
        ("mp", m(&[("x", n("2")), ("y", m(&[]))])),
        ("num", n("5")),
        ("t", AttributeValue::Bool(true)),
        ("nul", AttributeValue::Null),
        ("two", n("2")),
    ]);
    let vs: BTreeMap<String, AttributeValue> = [
        (":ell", s("ell")),
        (":he", s("he")),
        (":hi", b(b"hi")),
        (":here", b(b"here")),
        (":dog", s("dog")),
        (":four", n("4.0")),
        (":two", n("2")),
        (":three", n("3")),
        (":five", n("5")),
        (":eight", n("8")),
        (":one", n("1")),
        (":ssa", ss(&["a"])),
        (":S", s("S")),
        (":N", s("N")),
        (":NS", s("NS")),
        (":L", s("L")),
        (":M", s("M")),
        (":B", s("B")),
        (":BOOL", s("BOOL")),
        (":NULL", s("NULL")),
        (":empty", s("")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let nm = BTreeMap::new();
    let table: &[(&str, bool)] = &[
        ("begins_with(a, :he)", true),
        ("begins_with(a, :ell)", false),
        ("begins_with(bin, :hi)", true),
        ("begins_with(a, :hi)", false),
        ("begins_with(num, :he)", false),
        ("begins_with(q, :he)", false),
        ("contains(a, :ell)", true),
        ("contains(a, :empty)", true),
        ("contains(bin, :here)", true),
        ("contains(nums, :four)", true),
        ("contains(nums, :three)", false),
        ("contains(lst, :dog)", true),
        ("contains(lst, :two)", true),
        ("contains(lst, :ssa)", true),
        ("contains(mp, :two)", false),
        ("contains(num, :five)", false),
        ("contains(q, :dog)", false),
        ("size(a) = :five", true),
        ("size(uni) = :three", true),
        ("size(bin) = :eight", true),
        ("size(nums) = :three", true),
        ("size(lst) = :four", true),
        ("size(mp) = :two", true),
        ("size(num) = :one", false),
        ("size(t) = :one", false),
        ("size(nul) = :one", false),
        ("size(q) = :one", false),
        ("size(a) <> :one", true),
        ("size(num) <> :one", true),
        ("size(a) > two", true),
        ("size(a) = num", true),
        ("size(:dog) = :three", true),
        ("attribute_exists(a)", true),
        ("attribute_exists(mp.x)", true),
        ("attribute_exists(mp.z)", false),
        ("attribute_exists(lst[3])", true),
        ("attribute_exists(lst[4])", false),
        ("attribute_exists(a.b)", false),
        ("attribute_not_exists(q)", true),
        ("attribute_not_exists(mp.y)", false),
        ("attribute_type(a, :S)", true),
        ("attribute_type(num, :N)", true),
        ("attribute_type(nums, :NS)", true),
        ("attribute_type(lst, :L)", true),
        ("attribute_type(mp, :M)", true),
        ("attribute_type(bin, :B)", true),
        ("attribute_type(t, :BOOL)", true),
        ("attribute_type(nul, :NULL)", true),
        ("attribute_type(a, :N)", false),
        ("attribute_type(q, :S)", false),
        ("attribute_type(:two, :N)", true),
        ("lst[1] = :dog AND mp.x = two", true),
    ];
    for (e, want) in table {
        let mut ph = Placeholders::new(&nm, &vs);
        let c = parse_condition(e, ExprKind::Filter, &mut ph)
            .unwrap_or_else(|err| panic!("{e}: {err}"));
        assert_eq!(c.eval(&it), *want, "{e}");
    }
}

#[test]
fn missing_item_is_an_empty_item() {
    let c = cond("attribute_not_exists(a)").unwrap();
    assert!(c.eval_opt(None));
    let c = cond("a = :s").unwrap();
    assert!(!c.eval_opt(None));
    let c = cond("a <> :s").unwrap();
    assert!(c.eval_opt(None));
}

#[test]
fn condition_paths_and_names() {
    let c = cond("attribute_exists(#a.b) AND c[1] = :s OR size(#dot) > :n").unwrap();
    let paths: Vec<String> = c.paths().iter().map(ToString::to_string).collect();
    assert_eq!(paths, vec!["[a, b]", "[c, [1]]", "[x.y]"]);
    assert_eq!(
        c.top_level_names().into_iter().collect::<Vec<_>>(),
        vec!["a", "c", "x.y"]
    );
}

// ----- updates -----

fn apply(expr: &str, it: &Item) -> Result<Item, String> {
    let u = upd(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
    let mut out = it.clone();
    u.apply(&mut out).map(|()| out).map_err(|e| {
        assert_eq!(e.code, "ValidationException");
        e.message
    })
}

fn apply_vals(
    expr: &str,
    vs: &[(&str, AttributeValue)],
    nm: &[(&str, &str)],
    it: &Item,
) -> Result<Item, String> {
    let vs: BTreeMap<String, AttributeValue> =
        vs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let nm: BTreeMap<String, String> = nm
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut ph = Placeholders::new(&nm, &vs);
    let u =
        parse_update_expression(expr, &mut ph).unwrap_or_else(|e| panic!("{expr}: {}", e.message));
    let mut out = it.clone();
    u.apply(&mut out).map(|()| out).map_err(|e| e.message)
}

#[test]
fn set_remove_add_delete() {
    let base = item(&[
        ("p", s("k")),
        ("a", s("hi")),
        ("n", n("2")),
        ("tags", ss(&["cat", "dog", "mouse"])),
    ]);
    assert_eq!(apply("SET b = :s", &base).unwrap()["b"], s("abc"));
    assert_eq!(apply("SET b = a", &base).unwrap()["b"], s("hi"));
    assert_eq!(apply("SET a = a", &base).unwrap(), base);
    assert_eq!(apply("SET n = n + :n", &base).unwrap()["n"], n("3"));
    assert_eq!(apply("SET n = :n - n", &base).unwrap()["n"], n("-1"));
    assert_eq!(apply("SET m = :n2 + :n2", &base).unwrap()["m"], n("4"));
    assert!(!apply("REMOVE a", &base).unwrap().contains_key("a"));
    assert_eq!(apply("REMOVE zz", &base).unwrap(), base);
    assert_eq!(apply("REMOVE a SET b = a", &base).unwrap()["b"], s("hi"));
    assert_eq!(apply("ADD n :n", &base).unwrap()["n"], n("3"));
    assert_eq!(apply("ADD fresh :n2", &base).unwrap()["fresh"], n("2"));
    assert_eq!(
        apply("ADD tags :ss", &base).unwrap()["tags"],
        ss(&["a", "cat", "dog", "mouse"])
    );
    assert_eq!(
        apply("ADD newset :ss", &base).unwrap()["newset"],
        ss(&["a"])
    );
    let del = |v: AttributeValue| apply_vals("DELETE tags :v", &[(":v", v)], &[], &base);
    assert_eq!(del(ss(&["cat", "mouse"])).unwrap()["tags"], ss(&["dog"]));
    assert_eq!(
        del(ss(&["pig"])).unwrap()["tags"],
        ss(&["cat", "dog", "mouse"])
    );
    assert!(!del(ss(&["cat", "dog", "mouse"]))
        .unwrap()
        .contains_key("tags"));
    assert_eq!(apply("DELETE nothing :ss", &base).unwrap(), base);
    // Numbers stay exact and canonical.
    let big = item(&[("x", n("0.1"))]);
    let r = apply_vals("SET x = x + :v", &[(":v", n("0.2"))], &[], &big).unwrap();
    assert_eq!(r["x"], n("0.3"));
    let r = apply_vals("ADD x :v", &[(":v", n("-0.1"))], &[], &big).unwrap();
    assert_eq!(r["x"], n("0"));
    let r = apply_vals(
        "ADD s :v",
        &[(":v", ns(&["10", "2"]))],
        &[],
        &item(&[("s", ns(&["2", "9"]))]),
    )
    .unwrap();
    assert_eq!(r["s"], ns(&["2", "9", "10"]));
    // A placeholder name is a whole attribute name, dots included.
    assert_eq!(apply("SET #dot = :n", &base).unwrap()["x.y"], n("1"));
}

#[test]
fn update_runtime_errors() {
    let base = item(&[
        ("p", s("k")),
        ("a", s("hi")),
        ("b", m(&[])),
        ("l", l(vec![s("x")])),
        ("n", n("1")),
        ("tags", ss(&["a"])),
    ]);
    let missing = "The provided expression refers to an attribute that does not exist in the item";
    let bad_type = "An operand in the update expression has an incorrect data type";
    let bad_path = "The document path provided in the update expression is invalid for update";
    check_table(
        &[
            ("SET c = z", missing),
            ("SET x = :s, y = x", missing),
            ("SET z = z", missing),
            ("SET e = list_append(zz, :l)", missing),
            ("SET e = list_append(:l, zz)", missing),
            ("SET e = zz + :n", missing),
            ("SET e = if_not_exists(zz, yy)", missing),
            ("SET e = a + :n", bad_type),
            ("SET e = :n - a", bad_type),
            ("SET e = list_append(a, :l)", bad_type),
            ("ADD a :n", bad_type),
            ("ADD tags :ns", bad_type),
            ("ADD n :ss", bad_type),
            ("DELETE tags :ns", bad_type),
            ("DELETE n :ns", bad_type),
            ("SET a.c = :s", bad_path),
            ("SET l.c = :s", bad_path),
            ("SET zz.c = :s", bad_path),
            ("SET zz[0] = :s", bad_path),
            ("SET a[0] = :s", bad_path),
            ("SET b[0] = :s", bad_path),
            ("SET l.x = :s", bad_path),
            ("REMOVE a.c", bad_path),
            ("REMOVE zz.c", bad_path),
            ("REMOVE zz[0]", bad_path),
            ("REMOVE b[1]", bad_path),
            ("ADD zz.c :n", bad_path),
            ("DELETE a[1] :ss", bad_path),
        ],
        |e| apply(e, &base).unwrap_err(),
    );
    // When the item did not exist, removing below a missing attribute is ignored.
    let u = upd("REMOVE x.y, z[0]").unwrap();
    let mut fresh = item(&[("p", s("k"))]);
    u.apply_to_new_item(&mut fresh).unwrap();
    assert_eq!(fresh, item(&[("p", s("k"))]));
    let u = upd("SET x.y = :s").unwrap();
    assert_eq!(
        u.apply_to_new_item(&mut fresh).unwrap_err().message,
        bad_path
    );
    // Number limits surface as DynamoDB's number errors.
    let huge = item(&[("x", n("9.9999999999999999999999999999999999999E+125"))]);
    let e = apply_vals(
        "SET x = x + :v",
        &[(":v", n("9.9999999999999999999999999999999999999E+125"))],
        &[],
        &huge,
    )
    .unwrap_err();
    assert!(e.starts_with("Number overflow"), "{e}");
}

#[test]
fn nested_updates_and_list_positions() {
    let base = item(&[
        ("p", s("k")),
        (
            "a",
            m(&[
                ("b", n("3")),
                (
                    "c",
                    l(vec![
                        s("hi"),
                        m(&[
                            ("x", m(&[("y", l(vec![n("3"), n("5"), n("7")]))])),
                            ("q", n("2")),
                        ]),
                    ]),
                ),
            ]),
        ),
    ]);
    let r = apply("REMOVE a.c[1].x.y[1], a.c[1].q", &base).unwrap();
    assert_eq!(
        r["a"],
        m(&[
            ("b", n("3")),
            (
                "c",
                l(vec![
                    s("hi"),
                    m(&[("x", m(&[("y", l(vec![n("3"), n("7")]))]))])
                ])
            )
        ])
    );
    let r = apply_vals(
        "SET a.c[1].#name.y[1] = :v",
        &[(":v", n("9"))],
        &[("#name", "x")],
        &base,
    )
    .unwrap();
    assert_eq!(
        Path(vec![
            PathElem::Attr("a".into()),
            PathElem::Attr("c".into()),
            PathElem::Index(1),
            PathElem::Attr("x".into()),
            PathElem::Attr("y".into())
        ])
        .resolve(&r),
        Some(&l(vec![n("3"), n("9"), n("7")]))
    );

    let list = item(&[("a", l(vec![n("2"), n("3"), n("4"), n("5"), n("6"), n("7")]))]);
    for e in ["REMOVE a[1] SET a[3] = :v", "SET a[3] = :v REMOVE a[1]"] {
        let r = apply_vals(e, &[(":v", n("17"))], &[], &list).unwrap();
        assert_eq!(
            r["a"],
            l(vec![n("2"), n("4"), n("17"), n("6"), n("7")]),
            "{e}"
        );
    }
    let three = item(&[("a", l(vec![s("one"), s("two"), s("three")]))]);
    let r = apply_vals("SET a[7] = :v", &[(":v", s("hello"))], &[], &three).unwrap();
    assert_eq!(r["a"], l(vec![s("one"), s("two"), s("three"), s("hello")]));
    let r = apply_vals(
        "SET a[84] = :v1, a[37] = :v2, a[17] = :v3, a[50] = :v4",
        &[
            (":v1", s("a1")),
            (":v2", s("a2")),
            (":v3", s("a3")),
            (":v4", s("a4")),
        ],
        &[],
        &three,
    )
    .unwrap();
    assert_eq!(
        r["a"],
        l(vec![
            s("one"),
            s("two"),
            s("three"),
            s("a3"),
            s("a2"),
            s("a4"),
            s("a1")
        ])
    );
    assert_eq!(apply("REMOVE a[17]", &three).unwrap(), three);
    assert_eq!(
        apply("REMOVE a[0], a[1], a[2]", &three).unwrap()["a"],
        l(vec![])
    );
    let single = item(&[("a", m(&[("b", n("1"))]))]);
    assert_eq!(apply("REMOVE a.b", &single).unwrap()["a"], m(&[]));
    assert_eq!(apply("REMOVE a.zz", &single).unwrap(), single);
}

#[test]
fn list_append_and_if_not_exists() {
    let base = item(&[("a", l(vec![s("hi"), n("2")])), ("x", n("5"))]);
    let r = apply_vals(
        "SET a = list_append(a, :v)",
        &[(":v", l(vec![n("4")]))],
        &[],
        &base,
    )
    .unwrap();
    assert_eq!(r["a"], l(vec![s("hi"), n("2"), n("4")]));
    let r = apply_vals(
        "SET a = list_append(:v, a)",
        &[(":v", l(vec![s("dog")]))],
        &[],
        &base,
    )
    .unwrap();
    assert_eq!(r["a"], l(vec![s("dog"), s("hi"), n("2")]));
    let r = apply_vals(
        "SET c = list_append(if_not_exists(c, :e), :v)",
        &[(":v", l(vec![n("1")])), (":e", l(vec![]))],
        &[],
        &base,
    )
    .unwrap();
    assert_eq!(r["c"], l(vec![n("1")]));
    let r = apply_vals(
        "SET y = if_not_exists(y, :v), x = if_not_exists(x, :v)",
        &[(":v", n("9"))],
        &[],
        &base,
    )
    .unwrap();
    assert_eq!((r["y"].clone(), r["x"].clone()), (n("9"), n("5")));
    let r = apply_vals(
        "SET b = if_not_exists(b, :v) + :w",
        &[(":v", n("2")), (":w", n("3"))],
        &[],
        &base,
    )
    .unwrap();
    assert_eq!(r["b"], n("5"));
    let r = apply_vals(
        "SET b = if_not_exists(q, if_not_exists(x, :v))",
        &[(":v", n("1"))],
        &[],
        &base,
    )
    .unwrap();
    assert_eq!(r["b"], n("5"));
}

/// dynalite's "should update nested attributes", recorded against DynamoDB: values are read
/// from the old item, list positions are old positions, and UPDATED_NEW projects the paths.
#[test]
fn updated_new_projects_the_update_paths() {
    let key = s("k");
    let old = item(&[
        ("a", key.clone()),
        ("b", m(&[("a", n("1")), ("b", n("2")), ("c", n("3"))])),
        ("c", l(vec![n("1"), n("3")])),
    ]);
    let vs = BTreeMap::from([(":a".to_string(), n("2")), (":b".to_string(), ss(&["a"]))]);
    let nm = BTreeMap::new();
    let mut ph = Placeholders::new(&nm, &vs);
    let u = parse_update_expression(
        "set b.c=((c[1])+(b.a)),b.a = a,c[1] = a, c[4] = b.a - b.b, c[2] = b.c add c[8] :b, c[6] :a",
        &mut ph,
    )
    .unwrap();
    ph.check_unused().unwrap();
    let mut new = old.clone();
    u.apply(&mut new).unwrap();
    assert_eq!(
        new,
        item(&[
            ("a", key.clone()),
            ("b", m(&[("a", key.clone()), ("b", n("2")), ("c", n("4"))])),
            (
                "c",
                l(vec![
                    n("1"),
                    key.clone(),
                    n("3"),
                    n("-1"),
                    n("2"),
                    ss(&["a"])
                ])
            ),
        ])
    );
    assert_eq!(
        project(&new, &u.paths()),
        item(&[
            ("b", m(&[("a", key.clone()), ("c", n("4"))])),
            ("c", l(vec![key.clone(), n("3"), n("2")]))
        ])
    );
    assert_eq!(
        project(&old, &u.paths()),
        item(&[
            ("b", m(&[("a", n("1")), ("c", n("3"))])),
            ("c", l(vec![n("3")]))
        ])
    );
    assert_eq!(u.top_level_names(), vec!["b", "c"]);
    assert_eq!(u.nested_top_level_names(), vec!["b", "c"]);
}

#[test]
fn nesting_limit() {
    // 31 maps around a number is as deep as DynamoDB stores (the attribute is level 1).
    let mut deep = n("1");
    for _ in 0..31 {
        deep = m(&[("x", deep)]);
    }
    let it = item(&[("a", m(&[]))]);
    apply_vals("SET b = :v", &[(":v", deep.clone())], &[], &it).unwrap();
    assert_eq!(
        apply_vals("SET a.b = :v", &[(":v", deep.clone())], &[], &it).unwrap_err(),
        "Nesting Levels have exceeded supported limits"
    );
    assert_eq!(
        apply_vals(
            "SET b = list_append(:l, :v)",
            &[(":v", l(vec![deep])), (":l", l(vec![]))],
            &[],
            &it
        )
        .unwrap_err(),
        "Nesting Levels have exceeded supported limits"
    );
}

// ----- projection -----

#[test]
fn projection_keeps_structure() {
    let it = item(&[
        ("a", m(&[("b", n("1")), ("c", n("2"))])),
        (
            "l",
            l(vec![s("x"), m(&[("y", n("1")), ("z", n("2"))]), s("w")]),
        ),
        ("s", s("v")),
        ("sv", s("v")),
        ("x.y", n("7")),
    ]);
    let paths = proj("a.b, l[2], l[1].z, s, absent, a.zz, sv.q, #dot").unwrap();
    assert_eq!(
        project(&it, &paths),
        item(&[
            ("a", m(&[("b", n("1"))])),
            ("l", l(vec![m(&[("z", n("2"))]), s("w")])),
            ("s", s("v")),
            ("x.y", n("7")),
        ])
    );
    assert_eq!(project(&it, &proj("nothing").unwrap()), Item::new());
}

// ----- key conditions -----

fn key_values() -> BTreeMap<String, AttributeValue> {
    BTreeMap::from([
        (":a".to_string(), s("1")),
        (":b".to_string(), s("1")),
        (":n".to_string(), n("1")),
        (":n2".to_string(), n("3")),
        (":t".to_string(), s("S")),
    ])
}

fn key_shape(e: &str) -> Result<KeyConditions, String> {
    let vs = key_values();
    let nm = BTreeMap::new();
    let mut ph = Placeholders::new(&nm, &vs);
    parse_key_condition(e, &mut ph).map_err(|e| e.message)
}

#[test]
fn key_condition_shape_errors() {
    check_table(
        &[
            ("a > b and size(b) > c or a > c", "Invalid operator used in KeyConditionExpression: OR"),
            ("a in (b, size(c), d)", "Invalid operator used in KeyConditionExpression: IN"),
            ("attribute_exists(a)", "Invalid operator used in KeyConditionExpression: attribute_exists"),
            ("attribute_not_exists(a)", "Invalid operator used in KeyConditionExpression: attribute_not_exists"),
            ("contains(a.d, b)", "Invalid operator used in KeyConditionExpression: contains"),
            ("not a > b", "Invalid operator used in KeyConditionExpression: NOT"),
            ("a <> b", "Invalid operator used in KeyConditionExpression: <>"),
            ("attribute_type(a, :t)", "Invalid operator used in KeyConditionExpression: attribute_type"),
            (":a between size(b) and size(a) and b > :b", "Invalid condition in KeyConditionExpression: BETWEEN operator must have the key attribute as its first operand"),
            ("begins_with(:a, b) and a > :b", "Invalid condition in KeyConditionExpression: begins_with operator must have the key attribute as its first operand"),
            ("size(b) > a AND a.b > b AND b > c", "KeyConditionExpressions cannot contain nested operations"),
            ("a > size(b.d)", "KeyConditionExpressions cannot contain nested operations"),
            ("a between size(b) and size(a)", "KeyConditionExpressions cannot contain nested operations"),
            ("b > a.b", "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"),
            ("b between c[1] and d", "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"),
            ("a between b and size(a)", "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"),
            ("begins_with(a, b)", "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"),
            ("b.d > a AND c.d > e.f", "KeyConditionExpressions cannot have conditions on nested attributes"),
            ("a.d > c", "KeyConditionExpressions cannot have conditions on nested attributes"),
            ("b[0] > a", "KeyConditionExpressions cannot have conditions on nested attributes"),
            (":b > :a AND a < :b", "Invalid condition in KeyConditionExpression: No key attribute specified"),
            (":a > b AND :a < :b", "Invalid condition in KeyConditionExpression: No key attribute specified"),
            ("b > :a AND b < :a and c = :a and d = :a", "KeyConditionExpressions must only contain one condition per key"),
            ("(a > :a and b > :a) and (b > :a and c > :a)", "KeyConditionExpressions must only contain one condition per key"),
            (":a = a and b = :a and :a = c", "Conditions can be of length 1 or 2 only"),
            ("(a > :a and b > :a) and (c > :a and d > :a) and (e > :a and f > :a)", "Conditions can be of length 1 or 2 only"),
            ("attribute_type(a, b)", "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: attribute_type, operand type: {NS,SS,L,BS,N,M,B,BOOL,NULL,S}"),
            ("begins_with(a, :n)", "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"),
            ("a > 4", "Invalid KeyConditionExpression: Syntax error; token: \"4\", near: \"> 4\""),
        ],
        |e| key_shape(e).unwrap_err(),
    );
}

#[test]
fn key_condition_against_schema() {
    let hash = KeyAttr {
        name: "a",
        attr_type: "S",
    };
    let range = KeyAttr {
        name: "b",
        attr_type: "S",
    };
    let resolve = |e: &str, r: Option<KeyAttr<'_>>| {
        key_shape(e)
            .unwrap()
            .resolve(hash, r)
            .map_err(|e| e.message)
    };
    let unsupported = "Query key condition not supported";
    for e in [
        "a > :a",
        "a < :a",
        ":a <= a",
        ":a >= a",
        "begins_with(a, :a)",
        "a between :a and :a",
        "a = :a AND b = :a",
        "y = :a and z = :a",
    ] {
        assert_eq!(resolve(e, None).unwrap_err(), unsupported, "{e}");
    }
    assert_eq!(
        resolve(":n > a", None).unwrap_err(),
        "One or more parameter values were invalid: Condition parameter type does not match schema type"
    );
    assert_eq!(
        resolve("z between :a and :b", Some(range)).unwrap_err(),
        "Query condition missed key schema element: a"
    );
    assert_eq!(
        resolve("z = :a", None).unwrap_err(),
        "Query condition missed key schema element: a"
    );
    let idx_hash = KeyAttr {
        name: "c",
        attr_type: "S",
    };
    let idx_range = KeyAttr {
        name: "d",
        attr_type: "S",
    };
    assert_eq!(
        key_shape("c = :a and b = :b")
            .unwrap()
            .resolve(idx_hash, Some(idx_range))
            .unwrap_err()
            .message,
        "Query condition missed key schema element: d"
    );
    assert_eq!(
        resolve("b = :a", Some(range)).unwrap_err(),
        "Query condition missed key schema element: a"
    );
    assert_eq!(
        resolve("a > :a AND b = :a", Some(range)).unwrap_err(),
        unsupported
    );

    let kc = resolve("a = :a", Some(range)).unwrap();
    assert_eq!(
        (kc.hash_key.as_str(), kc.hash.clone(), kc.range.clone()),
        ("a", s("1"), None)
    );
    let kc = resolve(":b < b AND a = :a", Some(range)).unwrap();
    assert_eq!(kc.range, Some(("b".to_string(), RangeCond::Gt(s("1")))));
    let kc = resolve("a = :a AND begins_with(b, :b)", Some(range)).unwrap();
    assert_eq!(
        kc.range,
        Some(("b".to_string(), RangeCond::BeginsWith(s("1"))))
    );

    let num = KeyAttr {
        name: "b",
        attr_type: "N",
    };
    let kc = resolve("a = :a AND b BETWEEN :n AND :n2", Some(num)).unwrap();
    let (_, rc) = kc.range.unwrap();
    assert!(rc.matches(&n("1")) && rc.matches(&n("2.5")) && rc.matches(&n("3")));
    assert!(!rc.matches(&n("3.01")) && !rc.matches(&s("2")));
    assert_eq!(
        resolve("a = :a AND b = :a", Some(num)).unwrap_err(),
        "One or more parameter values were invalid: Condition parameter type does not match schema type"
    );
}

#[test]
fn range_conditions_match() {
    let table: &[(RangeCond, AttributeValue, bool)] = &[
        (RangeCond::Eq(n("1")), n("1.0"), true),
        (RangeCond::Lt(n("10")), n("9"), true),
        (RangeCond::Lt(n("10")), n("10"), false),
        (RangeCond::Le(s("b")), s("b"), true),
        (RangeCond::Gt(s("b")), s("ba"), true),
        (RangeCond::Ge(b(b"\x80")), b(b"\x7f"), false),
        (RangeCond::BeginsWith(s("ab")), s("abc"), true),
        (RangeCond::BeginsWith(s("ab")), s("a"), false),
        (RangeCond::BeginsWith(b(b"a")), b(b"ab"), true),
        (RangeCond::Eq(s("1")), n("1"), false),
    ];
    for (c, v, want) in table {
        assert_eq!(c.matches(v), *want, "{c:?} {v:?}");
    }
}

// ----- placeholders -----

#[test]
fn usage_spans_every_expression_of_a_request() {
    let nm = BTreeMap::from([
        ("#a".to_string(), "a".to_string()),
        ("#b".to_string(), "b".to_string()),
    ]);
    let vs = BTreeMap::from([
        (":a".to_string(), s("a")),
        (":b".to_string(), s("b")),
        (":c".to_string(), s("c")),
    ]);
    let mut ph = Placeholders::new(&nm, &vs);
    parse_update_expression(
        "remove a set b = list_append(b, if_not_exists(a, :a))",
        &mut ph,
    )
    .unwrap();
    parse_condition("a = :b", ExprKind::Condition, &mut ph).unwrap();
    assert_eq!(
        ph.check_unused().unwrap_err().message,
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a, #b}"
    );
    parse_projection("#a, #b", &mut ph).unwrap();
    assert_eq!(
        ph.check_unused().unwrap_err().message,
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:c}"
    );
    parse_condition("a = :c", ExprKind::Filter, &mut ph).unwrap();
    ph.check_unused().unwrap();
}

#[test]
fn placeholder_map_keys() {
    let bad_names = BTreeMap::from([("a".to_string(), "a".to_string())]);
    assert_eq!(
        check_names_map(&bad_names).unwrap_err().message,
        "ExpressionAttributeNames contains invalid key: Syntax error; key: \"a\""
    );
    assert_eq!(
        check_names_map(&BTreeMap::new()).unwrap_err().message,
        "ExpressionAttributeNames must not be empty"
    );
    let bad_values = BTreeMap::from([(":b".to_string(), s("a")), ("b".to_string(), s("a"))]);
    assert_eq!(
        check_values_map(&bad_values).unwrap_err().message,
        "ExpressionAttributeValues contains invalid key: Syntax error; key: \"b\""
    );
    assert_eq!(
        check_values_map(&BTreeMap::new()).unwrap_err().message,
        "ExpressionAttributeValues must not be empty"
    );
    check_names_map(&names()).unwrap();
    check_values_map(&values()).unwrap();
}

// ----- the legacy SET-only entry points -----

#[test]
fn legacy_entry_points_still_work() {
    let nm = BTreeMap::from([("#n".to_string(), "name".to_string())]);
    let vs = BTreeMap::from([(":a".to_string(), s("x")), (":b".to_string(), s("y"))]);
    let mut usage = Usage::default();
    let acts = parse_update("SET #n = :a, m.deep = :b", &nm, &vs, &mut usage).unwrap();
    let mut it = item(&[("m", m(&[]))]);
    apply_set(&mut it, &acts).unwrap();
    assert_eq!(it["name"], s("x"));
    assert_eq!(it["m"], m(&[("deep", s("y"))]));
    assert!(usage.names.contains("#n") && usage.values.contains(":b"));
    let e = parse_update(
        "SET a = :zz",
        &BTreeMap::new(),
        &BTreeMap::new(),
        &mut Usage::default(),
    )
    .unwrap_err();
    assert!(e.message.contains("attribute value: :zz"));
    let acts = parse_update("SET m.x = :a", &nm, &vs, &mut Usage::default()).unwrap();
    assert!(apply_set(&mut Item::new(), &acts).is_err());
}

// ----- nesting limits -----
//
// Each nesting shape is tried at the limit (accepted, or failing for another reason only once
// parsed), one past it, and pathologically deep. All of it runs on a 256 KiB stack, so a change
// that makes parsing, validating or evaluating recurse deeper or with bigger frames overflows
// here (`cargo test` builds without optimisations, where frames are largest) instead of aborting
// a server.

const SMALL_STACK: usize = 256 * 1024;

fn on_small_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(SMALL_STACK)
            .spawn_scoped(s, f)
            .expect("spawn a test thread")
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

const LIMIT: usize = parser::MAX_NESTING;

fn too_deep(kind: &str) -> String {
    format!(
        "Invalid {kind}: The expression has too many nesting levels; maximum nesting levels: {LIMIT}"
    )
}

/// `(a = :n AND (a = :n AND ... a = :n))`, `levels` parentheses deep: the shape that costs the
/// parser the most stack per level.
fn right_nested(levels: usize) -> String {
    let mut e = "a = :n".to_owned();
    for _ in 0..levels {
        e = format!("(a = :n AND {e})");
    }
    e
}

/// `((a = :n AND a = :n) AND a = :n)`: what boto3 writes for `c1 & c2 & c3`.
fn left_nested(levels: usize) -> String {
    let mut e = "a = :n".to_owned();
    for _ in 0..levels {
        e = format!("({e} AND a = :n)");
    }
    e
}

fn nots(levels: usize) -> String {
    format!("{}a = :n", "NOT ".repeat(levels))
}

/// `NOT (NOT (... a = :n))`: each `NOT (` is two levels.
fn not_groups(pairs: usize) -> String {
    format!("{}a = :n{}", "NOT (".repeat(pairs), ")".repeat(pairs))
}

fn if_not_exists_chain(levels: usize) -> String {
    format!(
        "SET a = {}:n{}",
        "if_not_exists(a, ".repeat(levels),
        ")".repeat(levels)
    )
}

#[test]
fn conditions_nested_up_to_the_limit_parse_and_evaluate() {
    on_small_stack(|| {
        let it = item(&[("a", n("1"))]);
        for (e, holds) in [
            (right_nested(LIMIT), true),
            (left_nested(LIMIT), true),
            // An even number of NOTs cancels out.
            (nots(LIMIT), LIMIT % 2 != 1),
            (not_groups(LIMIT / 2), LIMIT / 2 % 2 != 1),
        ] {
            let c = cond(&e).unwrap_or_else(|m| panic!("{e}: {m}"));
            assert_eq!(c.eval(&it), holds, "{e}");
            assert_eq!(
                c.clone().eval(&Item::new()),
                !holds && e.starts_with("NOT"),
                "{e}"
            );
        }
    });
}

#[test]
fn conditions_nested_past_the_limit_are_rejected() {
    on_small_stack(|| {
        for e in [
            right_nested(LIMIT + 1),
            left_nested(LIMIT + 1),
            nots(LIMIT + 1),
            not_groups(LIMIT / 2 + 1),
            format!("a = {}:n{}", "(".repeat(LIMIT + 1), ")".repeat(LIMIT + 1)),
            format!("size({}a{}) = :n", "(".repeat(LIMIT), ")".repeat(LIMIT)),
        ] {
            assert_eq!(cond_err(&e), too_deep("ConditionExpression"), "{e}");
        }
        // Right at the limit those two parse, then fail DynamoDB's redundant-parentheses rule.
        for e in [
            format!("a = {}:n{}", "(".repeat(LIMIT), ")".repeat(LIMIT)),
            format!(
                "size({}a{}) = :n",
                "(".repeat(LIMIT - 1),
                ")".repeat(LIMIT - 1)
            ),
        ] {
            assert_eq!(
                cond_err(&e),
                "Invalid ConditionExpression: The expression has redundant parentheses;"
            );
        }
    });
}

#[test]
fn every_condition_parameter_reports_deep_nesting_under_its_own_name() {
    on_small_stack(|| {
        let (nm, vs) = (names(), values());
        let deep = right_nested(LIMIT + 1);
        let mut ph = Placeholders::new(&nm, &vs);
        let e = parse_condition(&deep, ExprKind::Filter, &mut ph).unwrap_err();
        assert_eq!(
            (e.code, e.message),
            ("ValidationException", too_deep("FilterExpression"))
        );
        let e = parse_key_condition(&deep, &mut ph).unwrap_err();
        assert_eq!(
            (e.code, e.message),
            ("ValidationException", too_deep("KeyConditionExpression"))
        );
    });
}

#[test]
fn pathological_nesting_fails_without_recursing() {
    on_small_stack(|| {
        // The public entry points refuse anything over 4 KB before parsing...
        let huge = format!("{}a = :n{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(cond_err(&huge).contains("Expression size has exceeded the maximum allowed size"));
        // ...and the parser itself stops at the limit however deep the input goes.
        for src in [
            huge.clone(),
            format!("{}a = :n", "NOT ".repeat(100_000)),
            format!("a = {}:n", "(".repeat(100_000)),
            format!("size({}a) = :n", "size(".repeat(100_000)),
        ] {
            let mut p = parser::Parser::new(&src);
            assert_eq!(p.parse_condition(), Err(parser::ParseFail::TooDeep));
        }
        for src in [
            format!("SET a = {}", "if_not_exists(a, ".repeat(100_000)),
            format!("SET a = {}:n", "(".repeat(100_000)),
            format!("SET a = :n + {}:n", "(".repeat(100_000)),
        ] {
            let mut p = parser::Parser::new(&src);
            assert_eq!(p.parse_update(), Err(parser::ParseFail::TooDeep));
        }
        // Within 4 KB: thousands of parentheses, and the longest AND chain that fits.
        let e = format!("{}a = :n{}", "(".repeat(2000), ")".repeat(2000));
        assert_eq!(cond_err(&e), too_deep("ConditionExpression"));
        let chain = vec!["a = :n"; 370].join(" AND ");
        assert_eq!(
            cond_err(&chain),
            "Invalid ConditionExpression: The expression contains too many operators; operator count: 301"
        );
    });
}

#[test]
fn long_and_or_chains_are_flat() {
    on_small_stack(|| {
        // 150 comparisons and 149 ORs: 299 operators, the most a chain like this may have.
        let chain = vec!["a = :n"; 150].join(" OR ");
        let c = cond(&chain).unwrap();
        assert!(c.eval(&item(&[("a", n("1"))])));
        assert!(!c.eval(&item(&[("a", n("2"))])));
        let mixed = vec!["a = :n AND a <> :n2"; 75].join(" OR ");
        assert!(cond(&mixed).unwrap().eval(&item(&[("a", n("1"))])));
    });
}

#[test]
fn update_values_nested_up_to_the_limit_apply() {
    on_small_stack(|| {
        let it = item(&[("a", n("5"))]);
        let e = if_not_exists_chain(LIMIT);
        assert_eq!(apply(&e, &it).unwrap()["a"], n("5"));
        assert_eq!(apply(&e, &Item::new()).unwrap()["a"], n("1"));
        assert_eq!(
            upd_err(&if_not_exists_chain(LIMIT + 1)),
            too_deep("UpdateExpression")
        );
        // Parenthesised SET values: redundant at the limit (so parsed), too deep past it.
        for (levels, want) in [
            (
                LIMIT,
                "Invalid UpdateExpression: The expression has redundant parentheses;".to_owned(),
            ),
            (LIMIT + 1, too_deep("UpdateExpression")),
        ] {
            let e = format!(
                "SET a = {}:n + :n{}",
                "(".repeat(levels),
                ")".repeat(levels)
            );
            assert_eq!(upd_err(&e), want, "{e}");
            let e = format!(
                "SET a = :n + {}:n{}",
                "(".repeat(levels),
                ")".repeat(levels)
            );
            assert_eq!(upd_err(&e), want, "{e}");
        }
        // list_append may not nest at all, however deep it is written.
        let e = format!(
            "SET l = {}:l{}",
            "list_append(:l, ".repeat(LIMIT),
            ")".repeat(LIMIT)
        );
        assert_eq!(
            upd_err(&e),
            "Invalid UpdateExpression: The function is not allowed to be used this way in an expression; function: list_append"
        );
    });
}

#[test]
fn long_document_paths_are_rejected_without_recursing() {
    on_small_stack(|| {
        let dotted = |n: usize| vec!["a"; n].join(".");
        let indexed = |n: usize| format!("a{}", "[0]".repeat(n - 1));
        for path in [dotted(32), indexed(32)] {
            assert_eq!(proj(&path).unwrap()[0].elems().len(), 32);
            cond(&format!("attribute_exists({path})")).unwrap();
            upd(&format!("SET {path} = :n")).unwrap();
        }
        for path in [dotted(33), indexed(33)] {
            let msg = "The document path has too many nesting levels; nesting levels: 33";
            assert_eq!(
                proj(&path).unwrap_err(),
                format!("Invalid ProjectionExpression: {msg}")
            );
            assert_eq!(
                cond_err(&format!("attribute_exists({path})")),
                format!("Invalid ConditionExpression: {msg}")
            );
            assert_eq!(
                upd_err(&format!("REMOVE {path}")),
                format!("Invalid UpdateExpression: {msg}")
            );
        }
        // Paths are read in a loop: 100,000 steps cost no stack (only the size check stops them).
        let long = format!("a{}", "[0]".repeat(100_000));
        let mut p = parser::Parser::new(&long);
        assert_eq!(p.parse_projection().unwrap()[0].0.len(), 100_001);
        assert!(proj(&long)
            .unwrap_err()
            .contains("Expression size has exceeded the maximum allowed size"));
    });
}
