//! OAuth 2.0 errors (RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1).

/// An OAuth error: a registered code and a description for the developer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {description}")]
pub struct OAuthError {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `unauthorized_client`,
    /// `unsupported_grant_type`, `invalid_scope`, `access_denied`,
    /// `unsupported_response_type`, `invalid_token`, `login_required`, `server_error`.
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(error: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError {
            error,
            description: description.into(),
        }
    }

    pub fn invalid_request(d: impl Into<String>) -> OAuthError {
        OAuthError::new("invalid_request", d)
    }

    pub fn invalid_client(d: impl Into<String>) -> OAuthError {
        OAuthError::new("invalid_client", d)
    }

    pub fn invalid_grant(d: impl Into<String>) -> OAuthError {
        OAuthError::new("invalid_grant", d)
    }

    pub fn invalid_token(d: impl Into<String>) -> OAuthError {
        OAuthError::new("invalid_token", d)
    }

    /// Whether the fault is the provider's.
    pub fn is_internal(&self) -> bool {
        self.error == "server_error"
    }
}

impl From<crate::IdentityError> for OAuthError {
    fn from(e: crate::IdentityError) -> OAuthError {
        if e.is_internal() {
            tracing::warn!(error = %e, "provider failed");
            OAuthError::new("server_error", "the provider failed; try again")
        } else {
            OAuthError::invalid_request(e.to_string())
        }
    }
}

impl From<sqlx::Error> for OAuthError {
    fn from(e: sqlx::Error) -> OAuthError {
        OAuthError::from(crate::IdentityError::from(e))
    }
}
