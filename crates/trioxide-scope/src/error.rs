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
    /// A child panicked: its message, and the payload to re-raise it.
    Panic(ChildPanic),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Error(e) => write!(f, "error: {e}"),
            Failure::Panic(panic) => write!(f, "panic: {}", panic.message()),
        }
    }
}

/// A child's panic: the message (when the payload was a string) and the payload itself,
/// so that the panic can be carried on with [`std::panic::resume_unwind`] as it was
/// raised (asyncio's `ExceptionGroup` keeps the exception objects, not their text).
///
/// ```
/// use trioxide_scope::{Failure, scope_with};
/// use trioxide_task::LocalExecutor;
///
/// let outcome = LocalExecutor::new().block_on(scope_with(None, |s| async move {
///     let _ = s.spawn(async { std::panic::panic_any(7u32) });
/// }));
/// let failure = outcome.unwrap_err().into_failures().into_iter().next();
/// let Some(Failure::Panic(panic)) = failure else { unreachable!() };
/// assert_eq!(panic.message(), "<non-string panic payload>");
/// // `std::panic::resume_unwind(panic.into_payload())` would carry it on.
/// assert_eq!(panic.into_payload().downcast_ref::<u32>(), Some(&7));
/// ```
pub struct ChildPanic {
    message: String,
    /// In a `Mutex` only so that the failure (and the `ScopeError`) is `Sync`, as errors
    /// passed to `anyhow` or boxed as `dyn Error + Send + Sync` must be; the payload is
    /// only ever moved out by value.
    payload: std::sync::Mutex<Box<dyn std::any::Any + Send>>,
}

impl ChildPanic {
    pub(crate) fn new(payload: Box<dyn std::any::Any + Send>) -> ChildPanic {
        ChildPanic {
            message: panic_message(&*payload),
            payload: std::sync::Mutex::new(payload),
        }
    }

    /// The panic message: the payload if it was a `&str` or a `String`, else
    /// `"<non-string panic payload>"`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The value the child panicked with, for [`std::panic::resume_unwind`].
    pub fn into_payload(self) -> Box<dyn std::any::Any + Send> {
        self.payload
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl fmt::Debug for ChildPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ChildPanic").field(&self.message).finish()
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
