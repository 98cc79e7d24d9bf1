//! Levels of assurance: how strongly a login proved who the citizen is.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A level of assurance. Services state the level they need; a session carries the level its
/// login reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Level {
    /// The phone number is confirmed by a one-time code.
    L1,
    /// L1, and the name and ID number match household registration.
    L2,
    /// L2, and the login used a second factor.
    L3,
}

impl Level {
    /// The stable code, also the `acr` value in ID tokens.
    pub fn code(self) -> &'static str {
        match self {
            Level::L1 => "L1",
            Level::L2 => "L2",
            Level::L3 => "L3",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A level code that is not one of `L1`, `L2`, `L3`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a level of assurance (L1, L2 or L3)")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;
    fn from_str(s: &str) -> Result<Level, UnknownLevel> {
        match s {
            "L1" => Ok(Level::L1),
            "L2" => Ok(Level::L2),
            "L3" => Ok(Level::L3),
            other => Err(UnknownLevel(other.to_owned())),
        }
    }
}
