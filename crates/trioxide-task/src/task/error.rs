//! `JoinError`: why a task produced no value — it was cancelled, or it panicked.

use std::any::Any;
use std::fmt;

/// Why awaiting a `JoinHandle` gave no value (asyncio's `CancelledError`, or the exception
/// a task raised).
#[derive(thiserror::Error)]
pub enum JoinError {
    /// The task was cancelled (`JoinHandle::cancel`, a scope, or runtime shutdown) before
    /// it finished.
    #[error("task was cancelled")]
    Cancelled,
    /// The task panicked; the payload is what `panic!` was given.
    #[error("task panicked: {0}")]
    Panicked(PanicPayload),
}

impl JoinError {
    pub(crate) fn panicked(payload: Box<dyn Any + Send>) -> JoinError {
        JoinError::Panicked(PanicPayload(payload))
    }

    /// Whether the task was cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, JoinError::Cancelled)
    }

    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, JoinError::Panicked(_))
    }

    /// The panic payload, to re-raise it with `std::panic::resume_unwind`; the error back
    /// if the task was cancelled.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, JoinError> {
        match self {
            JoinError::Panicked(p) => Ok(p.0),
            other => Err(other),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Cancelled => f.write_str("Cancelled"),
            JoinError::Panicked(p) => write!(f, "Panicked({p:?})"),
        }
    }
}

/// The value a task panicked with. It is `Sync` (so `JoinError` works with `anyhow` and
/// `Box<dyn Error + Send + Sync>`) because it only hands the payload out by value.
pub struct PanicPayload(Box<dyn Any + Send>);

// SAFETY: no `&self` method reaches the payload except to read it as `&str`/`String`, which
// are `Sync`; the payload itself is only moved out by value (`into_inner`).
unsafe impl Sync for PanicPayload {}

impl PanicPayload {
    /// The panic message, when the payload is a string (the usual `panic!("..")` case).
    pub fn message(&self) -> Option<&str> {
        if let Some(s) = self.0.downcast_ref::<&'static str>() {
            Some(s)
        } else {
            self.0.downcast_ref::<String>().map(String::as_str)
        }
    }

    /// The payload, for `std::panic::resume_unwind`.
    pub fn into_inner(self) -> Box<dyn Any + Send> {
        self.0
    }
}

impl fmt::Display for PanicPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message().unwrap_or("<non-string panic payload>"))
    }
}

impl fmt::Debug for PanicPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?}",
            self.message().unwrap_or("<non-string panic payload>")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_are_readable() {
        let err = JoinError::panicked(Box::new("boom"));
        assert_eq!(err.to_string(), "task panicked: boom");
        let err = JoinError::panicked(Box::new(String::from("owned")));
        assert!(err.is_panic() && !err.is_cancelled());
        assert_eq!(format!("{err:?}"), "Panicked(\"owned\")");
        assert_eq!(JoinError::Cancelled.to_string(), "task was cancelled");
    }

    #[test]
    fn join_error_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<JoinError>();
    }
}
