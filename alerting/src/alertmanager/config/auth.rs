//! Notifiers' secrets (inline or read from a file at each use) and the authentication of an
//! `http_config`, as prometheus/common's HTTP client applies it.

use saphyr::Yaml;

use super::fields::{get, text};

/// A secret given inline or as a file read at each use (so that a rotated file takes effect).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// The secret itself.
    Inline(String),
    /// A file holding it (trailing newlines dropped).
    File(String),
}

impl Secret {
    /// The secret's value.
    pub fn read(&self) -> Result<String, String> {
        match self {
            Secret::Inline(v) => Ok(v.clone()),
            Secret::File(path) => std::fs::read_to_string(path)
                .map(|v| v.trim_end_matches(['\n', '\r']).to_string())
                .map_err(|e| format!("{path}: {e}")),
        }
    }
}

/// An `http_config`'s authentication, as prometheus/common's HTTP client applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// `authorization` (type, `Bearer` by default) or `bearer_token`: `Authorization: <type> <credentials>`.
    Credentials {
        /// The scheme.
        kind: String,
        /// The credentials.
        credentials: Secret,
    },
    /// `basic_auth`.
    Basic {
        /// The user.
        username: String,
        /// The password.
        password: Secret,
    },
}

impl Authorization {
    /// The `Authorization` header's value.
    pub fn header(&self) -> Result<String, String> {
        match self {
            Authorization::Credentials { kind, credentials } => {
                Ok(format!("{kind} {}", credentials.read()?))
            }
            Authorization::Basic { username, password } => {
                use base64_like::encode;
                Ok(format!(
                    "Basic {}",
                    encode(&format!("{username}:{}", password.read()?))
                ))
            }
        }
    }
}

/// Standard base64 (RFC 4648, with padding), for basic authentication.
mod base64_like {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub(super) fn encode(text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn encodes_as_rfc_4648() {
            // RFC 4648, section 10.
            for (plain, coded) in [
                ("", ""),
                ("f", "Zg=="),
                ("fo", "Zm8="),
                ("foo", "Zm9v"),
                ("foob", "Zm9vYg=="),
                ("fooba", "Zm9vYmE="),
                ("foobar", "Zm9vYmFy"),
            ] {
                assert_eq!(super::encode(plain), coded);
            }
        }
    }
}

/// The authentication of an `http_config` node.
pub(super) fn http_authorization(http: Option<&Yaml<'_>>) -> Option<Authorization> {
    let http = http?;
    let secret = |y: &Yaml<'_>, inline: &str, file: &str| {
        text(y, inline)
            .map(Secret::Inline)
            .or_else(|| text(y, file).map(Secret::File))
    };
    if let Some(a) = get(http, "authorization") {
        let credentials = secret(a, "credentials", "credentials_file")?;
        return Some(Authorization::Credentials {
            kind: text(a, "type").unwrap_or_else(|| "Bearer".into()),
            credentials,
        });
    }
    if let Some(b) = get(http, "basic_auth") {
        return Some(Authorization::Basic {
            username: text(b, "username").unwrap_or_default(),
            password: secret(b, "password", "password_file")
                .unwrap_or(Secret::Inline(String::new())),
        });
    }
    secret(http, "bearer_token", "bearer_token_file").map(|credentials| {
        Authorization::Credentials {
            kind: "Bearer".into(),
            credentials,
        }
    })
}
