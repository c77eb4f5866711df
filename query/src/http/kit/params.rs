//! What a request says besides its path: parameters from the query string and a form body (in
//! order, repeated keys kept), its tenant, and the `timeout` it asks for.

use std::time::Duration;

use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use common::{Tenant, TENANT_HEADER};

use super::time::parse_duration;
use crate::{Error, Result};

/// Request parameters from the query string and a form body.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// The parameters of `query` (the raw query string) and of `body` when it is a form.
    pub fn from(query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Self {
        let mut out = Vec::new();
        if let Some(q) = query {
            out.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
        }
        let form = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if form {
            out.extend(form_urlencoded::parse(body).into_owned());
        }
        Params(out)
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value of `key`, or Prometheus's error for a missing parameter.
    pub(crate) fn required(&self, key: &str) -> Result<&str> {
        self.get(key)
            .ok_or_else(|| Error::BadData(format!("invalid parameter \"{key}\": missing")))
    }

    /// The time a request gives its query (`timeout`, a duration), no longer than `limit`.
    pub(crate) fn timeout(&self, limit: Duration) -> Result<Duration> {
        match self.get("timeout") {
            None | Some("") => Ok(limit),
            Some(s) => {
                let ms = parse_duration("timeout", s)?;
                let asked = Duration::from_millis(u64::try_from(ms).unwrap_or(0));
                Ok(asked.min(limit))
            }
        }
    }
}

/// The tenant of a request: its `X-Scope-OrgID` header, or the default tenant.
pub fn tenant(headers: &HeaderMap) -> Result<Tenant> {
    Ok(Tenant::from_header(
        headers.get(TENANT_HEADER).map(|v| v.as_bytes()),
    )?)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use common::ErrorCode;

    use super::*;

    #[test]
    fn query_string_and_form_body_in_order() {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let p = Params::from(
            Some("match%5B%5D=up&match[]=a+b&x=%zz"),
            &headers,
            b"match[]=c&timeout=5s",
        );
        assert_eq!(p.all("match[]"), ["up", "a b", "c"]);
        assert_eq!(p.get("x"), Some("%zz"));
        assert_eq!(
            p.timeout(Duration::from_secs(60)).unwrap(),
            Duration::from_secs(5)
        );
        assert_eq!(
            p.timeout(Duration::from_secs(2)).unwrap(),
            Duration::from_secs(2)
        );
        assert!(p
            .required("query")
            .unwrap_err()
            .to_string()
            .contains("\"query\": missing"));
        // A body that is not a form is not read as one.
        let plain = Params::from(None, &HeaderMap::new(), b"query=up");
        assert_eq!(plain.get("query"), None);
    }

    #[test]
    fn tenant_comes_from_the_header_or_defaults() {
        let mut headers = HeaderMap::new();
        assert_eq!(tenant(&headers).unwrap(), Tenant::default_tenant());
        headers.insert(TENANT_HEADER, HeaderValue::from_static("team-a"));
        assert_eq!(tenant(&headers).unwrap().as_str(), "team-a");
        headers.insert(TENANT_HEADER, HeaderValue::from_static("../etc"));
        assert_eq!(
            tenant(&headers).unwrap_err().code(),
            ErrorCode::InvalidArgument
        );
    }
}
