//! `ScopeError`: every failure of a scope's children, in the order they happened —
//! asyncio's `ExceptionGroup` / Trio's `MultiError`.

use std::error::Error;
use std::fmt;

/// A boxed error, as children return it.
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// One child's failure.
#[derive(Debug)]
pub enum Failure {
    /// A fallible child returned `Err`.
    Error(BoxError),
    /// A child panicked; the message if the payload was a string.
    Panic(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Error(e) => write!(f, "error: {e}"),
            Failure::Panic(msg) => write!(f, "panic: {msg}"),
        }
    }
}

/// Why a scope did not produce its body's value.
#[derive(Debug)]
pub struct ScopeError {
    pub(crate) failures: Vec<Failure>,
    pub(crate) cancelled: bool,
}

impl ScopeError {
    /// The failures, in the order they happened. Empty when the scope was only cancelled.
    pub fn failures(&self) -> &[Failure] {
        &self.failures
    }

    /// Takes the failures out.
    pub fn into_failures(self) -> Vec<Failure> {
        self.failures
    }

    /// Whether the scope was cancelled (`Scope::cancel`) before its body finished, with no
    /// child failing.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled && self.failures.is_empty()
    }
}

impl fmt::Display for ScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.failures.is_empty() {
            return f.write_str("the scope was cancelled before its body finished");
        }
        write!(f, "{} child task(s) failed", self.failures.len())?;
        for (i, failure) in self.failures.iter().enumerate() {
            write!(f, "; [{i}] {failure}")?;
        }
        Ok(())
    }
}

impl Error for ScopeError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.failures.iter().find_map(|f| match f {
            Failure::Error(e) => Some(&**e as &(dyn Error + 'static)),
            Failure::Panic(_) => None,
        })
    }
}

/// Why a child's handle has no value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChildError {
    /// The child was cancelled (a sibling failed, the scope was cancelled or dropped).
    #[error("the child task was cancelled")]
    Cancelled,
    /// The child failed (returned `Err` or panicked); the scope's `ScopeError` holds the
    /// error itself.
    #[error("the child task failed; see the scope's ScopeError")]
    Failed,
}

pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}
