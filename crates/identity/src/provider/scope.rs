//! The scopes a client may ask for, the claims each releases, and how the consent screen
//! names them.

/// One scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScopeInfo {
    pub name: &'static str,
    /// The claims it releases (OpenID Connect Core §5.4; `citizen_id` is this platform's).
    pub claims: &'static [&'static str],
    pub zh: &'static str,
    pub en: &'static str,
}

/// Every scope the provider knows.
pub const SCOPES: &[ScopeInfo] = &[
    ScopeInfo {
        name: "openid",
        claims: &["sub"],
        zh: "本应用专用的化名标识（网号），不含身份证号码",
        en: "An identifier for this app only (a pairwise pseudonym), not your ID number",
    },
    ScopeInfo {
        name: "profile",
        claims: &["name"],
        zh: "姓名",
        en: "Your name",
    },
    ScopeInfo {
        name: "phone",
        claims: &["phone_number", "phone_number_verified"],
        zh: "手机号码",
        en: "Your phone number",
    },
    ScopeInfo {
        name: "citizen_id",
        claims: &["citizen_id"],
        zh: "居民身份证号码",
        en: "Your citizen ID number",
    },
];

/// The scope named `name`.
pub fn scope(name: &str) -> Option<&'static ScopeInfo> {
    SCOPES.iter().find(|s| s.name == name)
}

/// Every claim any scope releases.
pub fn all_claims() -> Vec<&'static str> {
    let mut claims: Vec<&str> = SCOPES
        .iter()
        .flat_map(|s| s.claims.iter().copied())
        .collect();
    claims.extend([
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "acr",
        "amr",
    ]);
    claims
}
