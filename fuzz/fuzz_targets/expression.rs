//! Every expression parser, and the evaluation of what parses, on arbitrary text: errors are
//! fine, panics are not. Placeholders `#a`..`#c` and `:a`..`:c` are defined so that deep parts
//! of the grammar are reached.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use tributary_expr::{
    parse_condition, parse_key_condition, parse_projection, parse_update_expression, ExprKind,
    Placeholders,
};
use tributary_model::attr::{AttributeValue, Item};

fuzz_target!(|data: &[u8]| {
    let Ok(expr) = std::str::from_utf8(data) else {
        return;
    };
    let names: BTreeMap<String, String> = [("#a", "pk"), ("#b", "list"), ("#c", "map")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let values: BTreeMap<String, AttributeValue> = [
        (":a", AttributeValue::N("1".into())),
        (":b", AttributeValue::S("x".into())),
        (":c", AttributeValue::L(vec![AttributeValue::N("2".into())])),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut item = Item::new();
    item.insert("pk".into(), AttributeValue::S("k".into()));
    item.insert(
        "list".into(),
        AttributeValue::L(vec![
            AttributeValue::N("1".into()),
            AttributeValue::S("s".into()),
        ]),
    );
    item.insert(
        "map".into(),
        AttributeValue::M(
            [("n".to_owned(), AttributeValue::N("3".into()))]
                .into_iter()
                .collect(),
        ),
    );

    if let Ok(c) = parse_condition(
        expr,
        ExprKind::Condition,
        &mut Placeholders::new(&names, &values),
    ) {
        let _ = c.eval(&item);
        let _ = c.eval_opt(None);
    }
    let _ = parse_key_condition(expr, &mut Placeholders::new(&names, &values));
    if let Ok(u) = parse_update_expression(expr, &mut Placeholders::new(&names, &values)) {
        let mut copy = item.clone();
        let _ = u.apply(&mut copy);
        let _ = u.apply_to_new_item(&mut Item::new());
    }
    let _ = parse_projection(expr, &mut Placeholders::new(&names, &values));
});
