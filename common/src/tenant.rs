use std::fmt;
use std::sync::Arc;

/// The tenant used when a request carries no `X-Scope-OrgID` header.
pub const DEFAULT_TENANT: &str = "default";

/// The header (HTTP) and metadata key (gRPC) that names the tenant of a request, as Grafana,
/// Mimir, Loki and Tempo send it.
pub const TENANT_HEADER: &str = "X-Scope-OrgID";

/// A tenant id: the value of `X-Scope-OrgID`. It becomes a path component of the store, so it is
/// restricted to `[A-Za-z0-9_.-]`, 1 to 150 bytes, and may not be `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tenant(Arc<str>);

/// Why a tenant id was refused.
#[derive(Debug, thiserror::Error)]
#[error("invalid tenant id {0:?}: use 1 to 150 characters of [A-Za-z0-9_.-]")]
pub struct TenantError(pub String);

impl Tenant {
    /// Validates and wraps a tenant id.
    pub fn new(id: &str) -> Result<Self, TenantError> {
        let ok = !id.is_empty()
            && id.len() <= 150
            && id != "."
            && id != ".."
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
        if ok {
            Ok(Tenant(Arc::from(id)))
        } else {
            Err(TenantError(id.to_string()))
        }
    }

    /// The tenant a request names with the value of its [`TENANT_HEADER`], or the default
    /// tenant when it has none. The one parser every API uses.
    pub fn from_header(value: Option<&[u8]>) -> Result<Self, TenantError> {
        match value {
            None => Ok(Self::default_tenant()),
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(id) => Self::new(id),
                Err(_) => Err(TenantError(String::from_utf8_lossy(bytes).into_owned())),
            },
        }
    }

    /// The default tenant.
    pub fn default_tenant() -> Self {
        Tenant(Arc::from(DEFAULT_TENANT))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_path_safe() {
        assert!(Tenant::new("team-a_1.prod").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", &"x".repeat(151)] {
            assert!(Tenant::new(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(Tenant::from_header(None).unwrap(), Tenant::default_tenant());
        assert_eq!(
            Tenant::from_header(Some(b"team-a")).unwrap().as_str(),
            "team-a"
        );
        assert!(Tenant::from_header(Some(b"../etc")).is_err());
        assert!(Tenant::from_header(Some(&[0xff, b'a'])).is_err());
    }
}
