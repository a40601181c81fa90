//! ARNs of the resources Tributary serves, and their parsing.

/// `arn:aws:dynamodb:{region}:{account}:table/{table}`
pub fn table_arn(region: &str, account: &str, table: &str) -> String {
    format!("arn:aws:dynamodb:{region}:{account}:table/{table}")
}

/// `arn:aws:dynamodb:{region}:{account}:table/{table}/stream/{label}`
pub fn stream_arn(region: &str, account: &str, table: &str, label: &str) -> String {
    format!("arn:aws:dynamodb:{region}:{account}:table/{table}/stream/{label}")
}

/// The parts of a DynamoDB stream ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamArn {
    pub region: String,
    pub account: String,
    pub table: String,
    pub label: String,
}

/// Parses `arn:aws:dynamodb:{region}:{account}:table/{table}/stream/{label}`; `None` if malformed.
pub fn parse_stream_arn(arn: &str) -> Option<StreamArn> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let _partition = parts.next().filter(|p| p.starts_with("aws"))?;
    if parts.next()? != "dynamodb" {
        return None;
    }
    let region = parts.next()?.to_owned();
    let account = parts.next()?.to_owned();
    let resource = parts.next()?;
    let rest = resource.strip_prefix("table/")?;
    let (table, label) = rest.split_once("/stream/")?;
    if table.is_empty() || label.is_empty() || table.contains('/') {
        return None;
    }
    Some(StreamArn {
        region,
        account,
        table: table.to_owned(),
        label: label.to_owned(),
    })
}

/// `arn:aws:lambda:{region}:{account}:function:{name}`
pub fn function_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:function:{name}")
}

/// `arn:aws:lambda:{region}:{account}:event-source-mapping:{uuid}`
pub fn esm_arn(region: &str, account: &str, uuid: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:event-source-mapping:{uuid}")
}

/// A function reference as callers may give it: `name`, `name:qualifier`,
/// `account:function:name[:qualifier]`, or a full ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: String,
    pub qualifier: Option<String>,
    /// Account id when the caller gave one (partial or full ARN).
    pub account: Option<String>,
    /// Region when the caller gave a full ARN.
    pub region: Option<String>,
}

/// Parses any accepted form of `FunctionName`; `None` if it fits none.
pub fn parse_function_ref(s: &str) -> Option<FunctionRef> {
    let valid_name = |n: &str| {
        !n.is_empty()
            && n.len() <= 64
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let valid_qualifier = |q: &str| {
        !q.is_empty()
            && q.len() <= 128
            && q.bytes().all(|b| {
                b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'$' || b == b'.'
            })
    };
    let parts: Vec<&str> = s.split(':').collect();
    let (account, region, name, qualifier) = match parts.as_slice() {
        [name] => (None, None, *name, None),
        [name, q] => (None, None, *name, Some(*q)),
        [acct, "function", name] => (Some(*acct), None, *name, None),
        [acct, "function", name, q] => (Some(*acct), None, *name, Some(*q)),
        ["arn", p, "lambda", region, acct, "function", name] if p.starts_with("aws") => {
            (Some(*acct), Some(*region), *name, None)
        }
        ["arn", p, "lambda", region, acct, "function", name, q] if p.starts_with("aws") => {
            (Some(*acct), Some(*region), *name, Some(*q))
        }
        _ => return None,
    };
    if !valid_name(name) || qualifier.is_some_and(|q| !valid_qualifier(q)) {
        return None;
    }
    if account.is_some_and(|a| a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    Some(FunctionRef {
        name: name.to_owned(),
        qualifier: qualifier.map(str::to_owned),
        account: account.map(str::to_owned),
        region: region.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_arn_round_trip() {
        let a = stream_arn("us-east-1", "000000000000", "T", "2025-11-25T15:47:40.123");
        let p = parse_stream_arn(&a).unwrap();
        assert_eq!(p.table, "T");
        assert_eq!(p.label, "2025-11-25T15:47:40.123");
        assert!(parse_stream_arn("arn:aws:dynamodb:us-east-1:0:table/T").is_none());
        assert!(parse_stream_arn("garbage").is_none());
    }

    #[test]
    fn function_refs() {
        assert_eq!(parse_function_ref("fn").unwrap().name, "fn");
        let r = parse_function_ref("fn:$LATEST").unwrap();
        assert_eq!(r.qualifier.as_deref(), Some("$LATEST"));
        let r = parse_function_ref("000000000000:function:fn").unwrap();
        assert_eq!(r.account.as_deref(), Some("000000000000"));
        let r =
            parse_function_ref("arn:aws:lambda:us-east-1:000000000000:function:fn:prod").unwrap();
        assert_eq!(
            (r.name.as_str(), r.qualifier.as_deref()),
            ("fn", Some("prod"))
        );
        assert!(parse_function_ref("bad name").is_none());
        assert!(parse_function_ref("").is_none());
    }
}
