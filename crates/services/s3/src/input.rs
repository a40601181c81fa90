//! Requests read as their operation's generated input structure: the bucket and key labels,
//! query parameters and headers where the model locates each member
//! (`tributary_shapes::rest`), and an XML payload by the model's XML names.
//!
//! S3 answers no `1 validation error detected` (see the crate docs): a located value that is
//! not of its member's type is refused here with S3's `InvalidArgument` for numbers, or left
//! out (a date that does not parse is ignored, as HTTP says), unless the handler words the
//! refusal itself ([`Request::input_and_unparsed`]). A payload that does not fit its shape,
//! numbers and required elements included, is `MalformedXML`.
//!
//! Read from the raw request still: the routing (the method and the subresource keys pick the
//! operation, in `lib.rs`), and what the body of every upload needs alike, whichever operation
//! it is (`objects::receive`): the `aws-chunked` framing, `x-amz-content-sha256`, and the
//! integrity checks of `Content-MD5` and the `x-amz-checksum-*` headers and trailers.

use serde::de::DeserializeOwned;
use serde_json::Map;
use tributary_model::AwsError;
use tributary_shapes::generated::s3::{Operation, SERVICE};
use tributary_shapes::rest::{self, Parts, Unparsed};
use tributary_shapes::{Kind, Location};

use super::{invalid_argument, xml, Request};

impl Request<'_> {
    /// The operation's input from its labels, query and headers; a number that is not one is
    /// S3's `InvalidArgument` (`Provided max-parts not an integer or within integer range`).
    pub fn input<T: DeserializeOwned>(&self, op: Operation) -> Result<T, AwsError> {
        let (input, unparsed) = self.input_and_unparsed(op)?;
        match unparsed.iter().find(|u| is_number(u.kind)) {
            Some(u) => Err(not_an_integer(u)),
            None => Ok(input),
        }
    }

    /// [`Request::input`], with the values that are not of their member's type, for a handler
    /// that answers them in words of its own.
    pub fn input_and_unparsed<T: DeserializeOwned>(
        &self,
        op: Operation,
    ) -> Result<(T, Vec<Unparsed>), AwsError> {
        let mut obj = Map::new();
        let mut unparsed = Vec::new();
        if let Some(id) = op.def().input {
            let mut labels = Vec::with_capacity(2);
            if let Some(b) = &self.bucket {
                labels.push(("Bucket".to_owned(), b.clone()));
            }
            if let Some(k) = &self.key {
                labels.push(("Key".to_owned(), k.clone()));
            }
            let query: Vec<(String, String)> = self
                .query
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let parts = Parts {
                labels: &labels,
                query: &query,
                headers: self.headers,
            };
            unparsed = rest::read_located(&SERVICE, SERVICE.shape(id), &parts, &mut obj);
        }
        let input = T::deserialize(&obj).map_err(|e| {
            AwsError::internal(format!("the {} input did not read: {e}", op.def().name))
        })?;
        Ok((input, unparsed))
    }

    /// The operation's XML payload (`<Tagging>…</Tagging>`) in `body`, as its generated
    /// structure ([`document`]).
    pub fn document<T: DeserializeOwned>(&self, op: Operation, body: &[u8]) -> Result<T, AwsError> {
        document(op, body)
    }
}

/// An operation's XML payload as its generated structure: `MalformedXML` when it is not
/// well-formed, has another root element than the model names, or does not fit the shape.
pub(crate) fn document<T: DeserializeOwned>(op: Operation, body: &[u8]) -> Result<T, AwsError> {
    let payload = op
        .def()
        .input_members(&SERVICE)
        .iter()
        .find(|m| m.location == Location::Body)
        .ok_or_else(|| AwsError::internal(format!("{} has no payload", op.def().name)))?;
    let root = xml::parse(body)?;
    if root.name != payload.location_name.unwrap_or(payload.name) {
        return Err(xml::malformed());
    }
    let value = rest::xml_value(&SERVICE, SERVICE.shape(payload.shape), &root)
        .map_err(|_| xml::malformed())?;
    T::deserialize(&value).map_err(|_| xml::malformed())
}

fn is_number(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Integer | Kind::Long | Kind::Float | Kind::Double
    )
}

/// S3's refusal of a query or header number that does not parse (or does not fit the model's
/// 32 or 64 bits).
pub(crate) fn not_an_integer(u: &Unparsed) -> AwsError {
    invalid_argument(
        &format!("Provided {} not an integer or within integer range", u.wire),
        u.wire,
        &u.text,
    )
}

/// A located value as it was sent, for handlers that word their own refusal.
pub(crate) fn sent<'a>(unparsed: &'a [Unparsed], member: &str) -> Option<&'a str> {
    unparsed
        .iter()
        .find(|u| u.member == member)
        .map(|u| u.text.as_str())
}
