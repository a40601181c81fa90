//! Lambda (REST-JSON) requests checked against the model before any handler: the input is
//! assembled from the URI labels, query string, headers and JSON body as the model's
//! `location`s say, then validated with AWS's messages. The same object is what the handlers
//! read, as the operation's generated `*Request` structure ([`Input::read`]).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};
use tributary_model::AwsError;
use tributary_service::json::{constraint, lambda_err};
use tributary_shapes::generated::lambda as model;
use tributary_shapes::model::{Labels, OperationDef};
use tributary_shapes::types::from_object;
use tributary_shapes::validate::lower_first;
use tributary_shapes::validate::{validate_object, MapStyle, Options};
use tributary_shapes::{Kind, Location, Shape};

/// Where Lambda's validator differs from a plain reading of its model.
const VALIDATION: Options<'static> = Options {
    // `Map value must satisfy constraint: [...]` at the map (recorded for
    // routingConfig.additionalVersionWeights).
    map_style: MapStyle::Bracketed,
    skip: &[
        // A bad runtime is an InvalidParameterValueException `Value X at 'runtime' failed to
        // satisfy constraint: Member must satisfy enum value set: [...] or be a valid ARN`
        // (recorded on AWS): `lambda::check_runtime` words it.
        ("CreateFunctionRequest", "Runtime"),
        ("UpdateFunctionConfigurationRequest", "Runtime"),
        // Environment variable names: AWS prints the key rule without `Member must not be
        // null` and without the (sensitive) value; `lambda::environment` words it.
        ("Environment", "Variables"),
    ],
    name_or_arn: &[],
    // The order AWS prints (recorded; the model lists TRIM_HORIZON first).
    enum_text: &[(
        "EventSourcePosition",
        "[LATEST, AT_TIMESTAMP, TRIM_HORIZON]",
    )],
    max_errors: 10,
};

/// The model's pattern for a shape, to quote in hand-written messages (the model changes it).
pub(crate) fn model_pattern(shape: &str) -> &'static str {
    model::SERVICE
        .shape_named(shape)
        .and_then(|s| s.pattern.as_ref())
        .map_or("", |p| p.source)
}

/// A routed request's input object, as the model's `location`s assemble it (the object the
/// validator checked), read as the operation's generated `*Request` structure.
pub(crate) struct Input {
    obj: Map<String, Value>,
    /// The operation's input shape; `None` when the route has no model operation.
    shape: Option<&'static Shape>,
}

impl Input {
    /// The generated input structure. The object is read plainly first; only a failure is read
    /// again to name the member of the wrong type, as the hand-written accessors named it.
    pub(crate) fn read<T: DeserializeOwned>(&self) -> Result<T, AwsError> {
        read_object(&self.obj).map_err(|path| self.type_error(&path))
    }

    /// [`Input::read`] for an operation that uploads a package: a `ZipFile` that is not
    /// base64 is left out of the structure, and its refusal (a zip that does not unzip) comes
    /// with it, for the handler to answer where it reads the package, after the checks it
    /// makes first.
    pub(crate) fn read_package<T: DeserializeOwned>(
        &self,
    ) -> Result<(T, Option<AwsError>), AwsError> {
        let path = match read_object(&self.obj) {
            Ok(v) => return Ok((v, None)),
            Err(path) => path,
        };
        let refusal = self.type_error(&path);
        if refusal.code != "InvalidParameterValueException" {
            return Err(refusal);
        }
        // The error path only: the request is read again without its package.
        let mut obj = self.obj.clone();
        remove_at(&mut obj, &path);
        let v = read_object(&obj).map_err(|path| self.type_error(&path))?;
        Ok((v, Some(refusal)))
    }

    /// The input object itself, for the few checks that look at members the model does not
    /// have (UpdateEventSourceMapping refuses `EventSourceArn` by name).
    pub(crate) fn raw(&self) -> &Map<String, Value> {
        &self.obj
    }

    /// The error for a member of the wrong JSON type at `path` (`Code.ZipFile`, `Tags.k`,
    /// `Layers[0]`): `Unexpected value type in payload for member <M>`, `M` the innermost
    /// structure member on the path (map keys and list indexes are not members). A blob that
    /// is not base64 is a package that does not unzip, an environment variable's value names
    /// no member, and an integer beyond the model's 32 bits is out of range, as Lambda answers
    /// them.
    fn type_error(&self, path: &str) -> AwsError {
        let mut shape = self.shape;
        let mut member: Option<&str> = None;
        let mut in_variables = false;
        // The validator's path of the member (`reservedConcurrentExecutions`).
        let mut field: Vec<String> = Vec::new();
        for seg in path_segments(path) {
            let Some(s) = shape else { break };
            in_variables = false;
            shape = match (s.kind, seg) {
                (Kind::Structure, Segment::Name(n)) => {
                    let m = s.members.iter().find(|m| m.name == n);
                    member = m.map(|m| m.name).or(Some(n));
                    field.push(lower_first(n));
                    m.map(|m| model::SERVICE.shape(m.shape))
                }
                (Kind::Map, Segment::Name(_)) => {
                    in_variables = s.name == "EnvironmentVariables";
                    s.value.map(|id| model::SERVICE.shape(id))
                }
                (Kind::List, Segment::Index) => s.member.map(|id| model::SERVICE.shape(id)),
                _ => None,
            };
        }
        let value = self.value_at(path);
        if shape.is_some_and(|s| s.kind == Kind::Blob) && value.is_some_and(Value::is_string) {
            return lambda_err::invalid_parameter(
                "Could not unzip uploaded file. Please check your file, then try to upload again.",
            );
        }
        if let (Some(Kind::Integer), Some(n)) =
            (shape.map(|s| s.kind), value.and_then(Value::as_i64))
        {
            let rule = if n > i64::from(i32::MAX) {
                format!("Member must have value less than or equal to {}", i32::MAX)
            } else {
                format!(
                    "Member must have value greater than or equal to {}",
                    i32::MIN
                )
            };
            return constraint(&Value::String(n.to_string()), &field.join("."), &rule);
        }
        match member {
            Some(m) if !in_variables => {
                AwsError::serialization(format!("Unexpected value type in payload for member {m}"))
            }
            _ => AwsError::serialization("Unexpected value type in payload"),
        }
    }

    /// The value at `path`, when the path names no list element.
    fn value_at(&self, path: &str) -> Option<&Value> {
        let mut v: Option<&Value> = None;
        let mut first = true;
        for seg in path_segments(path) {
            v = match (seg, first) {
                (Segment::Name(n), true) => self.obj.get(n),
                (Segment::Name(n), false) => v.and_then(|v| v.get(n)),
                (Segment::Index, _) => return None,
            };
            first = false;
        }
        v
    }
}

/// `T` read from `obj`; a member of the wrong type is answered with its path.
fn read_object<T: DeserializeOwned>(obj: &Map<String, Value>) -> Result<T, String> {
    T::deserialize(obj).or_else(|_| from_object::<T>(obj).map_err(|e| e.path))
}

/// Removes the member at `path` (structure members only: `Code.ZipFile`).
fn remove_at(obj: &mut Map<String, Value>, path: &str) {
    let mut names: Vec<&str> = path.split('.').collect();
    let Some(last) = names.pop() else { return };
    let mut at = obj;
    for n in names {
        match at.get_mut(n) {
            Some(Value::Object(o)) => at = o,
            _ => return,
        }
    }
    at.remove(last);
}

#[derive(Clone, Copy)]
enum Segment<'a> {
    Name(&'a str),
    Index,
}

/// The segments of a deserialization error path (`Code.ZipFile`, `Layers[0]`).
fn path_segments(path: &str) -> impl Iterator<Item = Segment<'_>> {
    path.split('.').filter(|p| !p.is_empty()).flat_map(|p| {
        let (name, rest) = p.split_once('[').map_or((p, ""), |(n, r)| (n, r));
        let name = (!name.is_empty()).then_some(Segment::Name(name));
        let indexes = rest.matches(']').map(|_| Segment::Index);
        name.into_iter().chain(indexes)
    })
}

/// The values of `key` in a raw query string (`tagKeys=a&tagKeys=b`), each decoded.
pub(crate) fn query_values(raw: &str, key: &str) -> Vec<String> {
    raw.split('&')
        .filter_map(|p| p.split_once('=').or(Some((p, ""))))
        .filter(|(k, _)| tributary_service::percent_decode(k) == key)
        .map(|(_, v)| tributary_service::percent_decode(&v.replace('+', " ")))
        .collect()
}

/// Percent-encodes the characters of a decoded path segment that would change the path's
/// shape (`/`) or its decoding (`%`).
fn encode_segment(seg: &str) -> Cow<'_, str> {
    if seg.contains(['%', '/']) {
        Cow::Owned(seg.replace('%', "%25").replace('/', "%2F"))
    } else {
        Cow::Borrowed(seg)
    }
}

/// Validates a routed Lambda request and answers its input object. `segments` is the whole
/// request path (`2015-03-31`, `functions`, `f`, `aliases`), each segment percent-decoded;
/// `query` the decoded query string, `raw_query` the undecoded one (a list member repeats its
/// key).
pub(crate) fn check(
    method: &str,
    segments: &[String],
    query: &BTreeMap<String, String>,
    raw_query: &str,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<Input, AwsError> {
    let keys: Vec<&str> = query.keys().map(String::as_str).collect();
    let request = Located {
        query,
        headers,
        body,
    };
    // What is validated is what always was: the operation the decoded path names. A label
    // with an encoded `/` makes that another route, or none (then the handler words its
    // refusal); the input read is always that of the route served.
    let slashed = segments.iter().any(|s| s.contains('/'));
    if slashed {
        let decoded = format!("/{}", segments.join("/"));
        if let Some((op, labels)) = model::SERVICE.match_rest(method, &decoded, &keys) {
            // Those labels are the decoded path's, as they are: `assemble` decodes them.
            let labels: Labels = labels
                .into_iter()
                .map(|(l, v)| (l, encode_segment(&v).into_owned()))
                .collect();
            if let Some(validated) = request.assemble(op, &labels)? {
                validate_object(&model::SERVICE, op, &validated.obj, &VALIDATION)
                    .map_err(|v| AwsError::validation(v.message()))?;
            }
        }
    }
    // Segments stay whole: a label holding an encoded `/` is one label, as the router saw it.
    let mut path = String::new();
    for s in segments {
        path.push('/');
        path.push_str(&encode_segment(s));
    }
    let assembled = match model::SERVICE.match_rest(method, &path, &keys) {
        Some((op, labels)) => request.assemble(op, &labels)?.map(|a| (op, a)),
        None => None,
    };
    let Some((
        op,
        Input {
            mut obj,
            shape: Some(input),
        },
    )) = assembled
    else {
        return Ok(Input {
            obj: Map::new(),
            shape: None,
        });
    };
    if !slashed {
        validate_object(&model::SERVICE, op, &obj, &VALIDATION)
            .map_err(|v| AwsError::validation(v.message()))?;
    }
    // What the generated structure reads: a repeated query member as its list of values, and
    // no URI, query or header value that is not of its member's type (the handlers quote
    // those from the route or the query string with their own messages).
    for m in input.members {
        if m.location == Location::Body {
            continue;
        }
        let shape = model::SERVICE.shape(m.shape);
        if shape.kind == Kind::List && m.location == Location::Querystring {
            let values = query_values(raw_query, m.location_name.unwrap_or(m.name));
            if !values.is_empty() {
                let list = values.into_iter().map(Value::String).collect();
                obj.insert(m.name.to_owned(), Value::Array(list));
            }
        } else if shape.kind != Kind::String
            && shape.kind != Kind::Timestamp
            && obj.get(m.name).is_some_and(Value::is_string)
        {
            obj.remove(m.name);
        }
    }
    Ok(Input {
        obj,
        shape: Some(input),
    })
}

/// The parts of a request an input object is assembled from.
struct Located<'a> {
    query: &'a BTreeMap<String, String>,
    headers: &'a http::HeaderMap,
    body: &'a [u8],
}

impl Located<'_> {
    /// The input object of `op` (`None` when it has no input): the parsed JSON body (unless
    /// the body is the operation's one blob member, Invoke's Payload, sent raw) with the URI
    /// labels (percent-decoded), query and header members, each as its shape's JSON type.
    fn assemble(&self, op: &OperationDef, labels: &Labels) -> Result<Option<Input>, AwsError> {
        let Some(input_id) = op.input else {
            return Ok(None);
        };
        let input = model::SERVICE.shape(input_id);
        let mut obj = Map::new();
        let body_members: Vec<_> = input
            .members
            .iter()
            .filter(|m| m.location == Location::Body)
            .collect();
        let raw_payload = body_members.len() == 1
            && model::SERVICE.shape(body_members[0].shape).kind == Kind::Blob;
        if !raw_payload && !body_members.is_empty() {
            // A body is parsed before it is validated: a malformed one is a
            // SerializationException.
            obj = tributary_service::json::parse_body(self.body)?;
        }
        for m in input.members {
            let wire = m.location_name.unwrap_or(m.name);
            let text = match m.location {
                Location::Uri => labels
                    .iter()
                    .find(|(l, _)| l == wire)
                    .map(|(_, v)| tributary_service::percent_decode(v)),
                Location::Querystring => self.query.get(wire).cloned(),
                Location::Header => self
                    .headers
                    .get(wire)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                _ => None,
            };
            if let Some(t) = text {
                obj.insert(m.name.to_owned(), typed(model::SERVICE.shape(m.shape), t));
            }
        }
        Ok(Some(Input {
            obj,
            shape: Some(input),
        }))
    }
}

/// A URI, query or header value as the JSON value of its shape's type; a value that does not
/// parse stays a string (the handlers reject it).
fn typed(shape: &Shape, text: String) -> Value {
    match shape.kind {
        Kind::Integer | Kind::Long => match text.parse::<i64>() {
            Ok(n) => Value::Number(n.into()),
            Err(_) => Value::String(text),
        },
        Kind::Float | Kind::Double => match text.parse::<f64>().ok().and_then(Number::from_f64) {
            Some(n) => Value::Number(n),
            None => Value::String(text),
        },
        Kind::Boolean => match text.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text),
        },
        _ => Value::String(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(method: &str, path: &str, query: &[(&str, &str)], body: &str) -> Result<(), String> {
        let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let segments: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let raw = q.join("&");
        check(
            method,
            &segments,
            &tributary_service::parse_query(&raw),
            &raw,
            &http::HeaderMap::new(),
            body.as_bytes(),
        )
        .map(|_| ())
        .map_err(|e| e.message)
    }

    #[test]
    fn path_query_and_body_members_are_validated() {
        assert!(run("GET", "/2015-03-31/functions/my-fn", &[], "").is_ok());
        let e = run("GET", "/2015-03-31/functions/bad name", &[], "").unwrap_err();
        assert!(e.starts_with("1 validation error detected: Value 'bad name' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:"), "{e}");
        let e = run("GET", "/2015-03-31/functions/", &[("MaxItems", "0")], "").unwrap_err();
        assert_eq!(e, "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1");
        let e = run(
            "PUT",
            "/2017-10-31/functions/f/concurrency",
            &[],
            r#"{"ReservedConcurrentExecutions": -1}"#,
        )
        .unwrap_err();
        assert_eq!(e, "1 validation error detected: Value '-1' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0");
    }

    #[test]
    fn invoke_payloads_are_not_members() {
        assert!(run(
            "POST",
            "/2015-03-31/functions/f/invocations",
            &[],
            r#"{"Qualifier": ""}"#
        )
        .is_ok());
    }

    #[test]
    fn starting_position_enum_in_aws_order() {
        let e = run(
            "POST",
            "/2015-03-31/event-source-mappings/",
            &[],
            r#"{"FunctionName": "f", "EventSourceArn": "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x", "StartingPosition": "invalid"}"#,
        )
        .unwrap_err();
        assert_eq!(e, "1 validation error detected: Value 'invalid' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]");
    }

    fn input(method: &str, path: &str, query: &str, body: &str) -> Input {
        let segments: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(tributary_service::percent_decode)
            .collect();
        check(
            method,
            &segments,
            &tributary_service::parse_query(query),
            query,
            &http::HeaderMap::new(),
            body.as_bytes(),
        )
        .unwrap_or_else(|e| panic!("{}", e.message))
    }

    fn type_error<T: DeserializeOwned>(i: &Input) -> (&'static str, String) {
        let e = i.read::<T>().err().expect("a type error");
        (e.code, e.message)
    }

    #[test]
    fn typed_inputs_take_labels_query_and_body() {
        let i = input(
            "PUT",
            "/2015-03-31/functions/f/aliases/live",
            "",
            r#"{"FunctionVersion": "2", "RoutingConfig": {"AdditionalVersionWeights": {"3": 0.5}}}"#,
        );
        let r: crate::types::UpdateAliasRequest = i.read().unwrap();
        assert_eq!((r.function_name.as_str(), r.name.as_str()), ("f", "live"));
        assert_eq!(r.function_version.as_deref(), Some("2"));
        let weights = r
            .routing_config
            .unwrap()
            .additional_version_weights
            .unwrap();
        assert_eq!(weights.get("3"), Some(&0.5));

        let i = input(
            "DELETE",
            "/2017-03-31/tags/arn:aws:lambda:us-east-1:000000000000:function:f",
            "tagKeys=a&tagKeys=b%20c",
            "",
        );
        let r: crate::types::UntagResourceRequest = i.read().unwrap();
        assert_eq!(r.tag_keys, vec!["a".to_owned(), "b c".to_owned()]);
    }

    #[test]
    fn values_not_of_their_type_are_left_to_the_handlers() {
        let i = input("GET", "/2015-03-31/functions/", "MaxItems=abc&Marker=m", "");
        let r: crate::types::ListFunctionsRequest = i.read().unwrap();
        assert_eq!((r.max_items, r.marker.as_deref()), (None, Some("m")));
        let i = input("GET", "/2018-10-31/layers/l/versions/x", "", "");
        let r: crate::types::GetLayerVersionRequest = i.read().unwrap();
        assert_eq!((r.layer_name.as_str(), r.version_number), ("l", 0));
    }

    #[test]
    fn a_label_with_an_encoded_slash_is_one_label() {
        // The decoded path names no operation: nothing is validated (the handler refuses the
        // name), and the label is read whole.
        let i = input("GET", "/2015-03-31/functions/a%2Fb", "", "");
        let r: crate::types::GetFunctionRequest = i.read().unwrap();
        assert_eq!(r.function_name, "a/b");
        let i = input("GET", "/2015-03-31/functions/a%2Fb/aliases/x", "", "");
        let r: crate::types::GetAliasRequest = i.read().unwrap();
        assert_eq!((r.function_name.as_str(), r.name.as_str()), ("a/b", "x"));
    }

    #[test]
    fn integers_beyond_32_bits_are_out_of_range() {
        let i = input(
            "PUT",
            "/2017-10-31/functions/f/concurrency",
            "",
            r#"{"ReservedConcurrentExecutions": 3000000000}"#,
        );
        assert_eq!(
            type_error::<crate::types::PutFunctionConcurrencyRequest>(&i),
            ("ValidationException", "1 validation error detected: Value '3000000000' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value less than or equal to 2147483647".into())
        );
    }

    #[test]
    fn wrong_types_name_the_member_as_the_handlers_did() {
        use crate::types::{CreateFunctionRequest, PutFunctionConcurrencyRequest};
        let create = |body: &str| input("POST", "/2015-03-31/functions/", "", body);
        let base = r#""FunctionName": "f", "Role": "arn:aws:iam::000000000000:role/r", "Code": {}"#;
        let i = create(&format!(r#"{{{base}, "Timeout": "3"}}"#));
        assert_eq!(
            type_error::<CreateFunctionRequest>(&i),
            (
                "SerializationException",
                "Unexpected value type in payload for member Timeout".into()
            )
        );
        let i = create(&format!(r#"{{{base}, "Tags": {{"k": 1}}}}"#));
        assert_eq!(
            type_error::<CreateFunctionRequest>(&i).1,
            "Unexpected value type in payload for member Tags"
        );
        let i = create(&format!(
            r#"{{{base}, "Environment": {{"Variables": {{"K1": 1}}}}}}"#
        ));
        assert_eq!(
            type_error::<CreateFunctionRequest>(&i).1,
            "Unexpected value type in payload"
        );
        let i = create(&format!(r#"{{{base}, "Environment": {{"Variables": 1}}}}"#));
        assert_eq!(
            type_error::<CreateFunctionRequest>(&i).1,
            "Unexpected value type in payload for member Variables"
        );
        let i = create(&format!(r#"{{{base}, "Layers": [1]}}"#));
        assert_eq!(
            type_error::<CreateFunctionRequest>(&i).1,
            "Unexpected value type in payload for member Layers"
        );
        let i = create(&format!(
            r#"{{{base}, "LoggingConfig": {{"LogFormat": 1}}}}"#
        ));
        assert_eq!(
            type_error::<CreateFunctionRequest>(&i).1,
            "Unexpected value type in payload for member LogFormat"
        );
        let i = input(
            "PUT",
            "/2017-10-31/functions/f/concurrency",
            "",
            r#"{"ReservedConcurrentExecutions": "5"}"#,
        );
        assert_eq!(
            type_error::<PutFunctionConcurrencyRequest>(&i).1,
            "Unexpected value type in payload for member ReservedConcurrentExecutions"
        );
    }

    #[test]
    fn a_package_that_is_not_base64_does_not_unzip() {
        let i = input(
            "POST",
            "/2015-03-31/functions/",
            "",
            r#"{"FunctionName": "f", "Role": "arn:aws:iam::000000000000:role/r", "Code": {"ZipFile": "%%"}}"#,
        );
        assert_eq!(
            type_error::<crate::types::CreateFunctionRequest>(&i),
            (
                "InvalidParameterValueException",
                "Could not unzip uploaded file. Please check your file, then try to upload again."
                    .into()
            )
        );
        let i = input(
            "PUT",
            "/2015-03-31/functions/f/code",
            "",
            r#"{"ZipFile": "%%"}"#,
        );
        assert_eq!(
            type_error::<crate::types::UpdateFunctionCodeRequest>(&i).0,
            "InvalidParameterValueException"
        );
        // Read for the handler: the rest of the request, and the refusal to answer later.
        let (r, refusal) = i
            .read_package::<crate::types::UpdateFunctionCodeRequest>()
            .unwrap();
        assert_eq!((r.function_name.as_str(), r.zip_file), ("f", None));
        assert_eq!(
            refusal.map(|e| e.code),
            Some("InvalidParameterValueException")
        );
        let i = input(
            "POST",
            "/2018-10-31/layers/l/versions",
            "",
            r#"{"Content": {"ZipFile": "%%"}, "Description": "d"}"#,
        );
        let (r, refusal) = i
            .read_package::<crate::types::PublishLayerVersionRequest>()
            .unwrap();
        assert_eq!(r.description.as_deref(), Some("d"));
        assert!(r.content.zip_file.is_none() && refusal.is_some());
        let i = input(
            "PUT",
            "/2015-03-31/functions/f/code",
            "",
            r#"{"ZipFile": 1}"#,
        );
        assert_eq!(
            type_error::<crate::types::UpdateFunctionCodeRequest>(&i).1,
            "Unexpected value type in payload for member ZipFile"
        );
    }
}
