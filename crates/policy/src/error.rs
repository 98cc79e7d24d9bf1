//! Why a policy file was refused: every error names the file, line and column.

pub(crate) use errandless_standards::line_col;
use std::fmt;

/// What kind of mistake an error reports. The codes are stable: tools and tests may match them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The file could not be read.
    Io,
    /// The TOML is malformed, or a key is missing, unknown, duplicated or of the wrong shape.
    Malformed,
    /// An input names no `department.dataset.field` of the standard.
    UnknownElement,
    /// An expression names something that is neither an input nor a condition it may use.
    UnknownIdentifier,
    /// An expression does not parse as SQL, or uses SQL the policy language does not allow.
    Syntax,
    /// Values of types that cannot meet: text against a number, a malformed date, a
    /// non-boolean condition.
    Type,
    /// A literal that is not one of a coded element's codes.
    UnknownCode,
    /// A condition that no subject can meet.
    Unsatisfiable,
    /// An amount that may not be a whole number of fen.
    NonIntegerAmount,
    /// A `[[parameter]]` that is malformed, or whose dated values leave a gap, overlap or do
    /// not cover the validity.
    Parameter,
    /// A `[[test]]` example that is malformed.
    Example,
    /// A `[[test]]` example whose decision, once evaluated, is not the one it expects.
    ExampleFailed,
}

impl ErrorKind {
    /// The stable code of the kind, e.g. `unknown_element`.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Io => "io",
            ErrorKind::Malformed => "malformed",
            ErrorKind::UnknownElement => "unknown_element",
            ErrorKind::UnknownIdentifier => "unknown_identifier",
            ErrorKind::Syntax => "syntax",
            ErrorKind::Type => "type",
            ErrorKind::UnknownCode => "unknown_code",
            ErrorKind::Unsatisfiable => "unsatisfiable",
            ErrorKind::NonIntegerAmount => "non_integer_amount",
            ErrorKind::Parameter => "parameter",
            ErrorKind::Example => "example",
            ErrorKind::ExampleFailed => "example_failed",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One mistake in a policy file, at a 1-based line and column (in characters).
///
/// Other crates (the evaluator) build these for the examples they run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message} [{kind}]")]
pub struct PolicyError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub kind: ErrorKind,
    pub message: String,
}

/// A policy file's text and name, which turn byte offsets into errors.
pub(crate) struct Source<'a> {
    pub file: &'a str,
    pub text: &'a str,
}

impl Source<'_> {
    pub fn error(&self, offset: usize, kind: ErrorKind, message: impl Into<String>) -> PolicyError {
        let (line, column) = line_col(self.text, offset);
        PolicyError {
            file: self.file.to_string(),
            line,
            column,
            kind,
            message: message.into(),
        }
    }
}
