//! [`Secret`]: a wrapper for passwords, tokens and keys.

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// A secret value: a password, a bearer token or a SCRAM key.
///
/// * `Debug` prints `Secret([REDACTED])`, so a secret never reaches a log
///   through `{:?}`; there is deliberately no `Display`.
/// * The value is wiped with [`zeroize`] when the `Secret` is dropped.
/// * [`Secret::ct_eq`] compares in constant time (via [`subtle`]).
///
/// ```
/// use mailwire_sasl::Secret;
/// let s = Secret::from("pencil");
/// assert_eq!(format!("{s:?}"), "Secret([REDACTED])");
/// assert!(s.ct_eq(b"pencil"));
/// assert!(!s.ct_eq(b"pencil2"));
/// ```
pub struct Secret<T: Zeroize>(T);

impl<T: Zeroize> Secret<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// Gives the secret value. Name the call site carefully: whatever reads
    /// this must not log it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: Zeroize + AsRef<[u8]>> Secret<T> {
    /// Compares the secret with `other` in constant time (for a given length;
    /// the length itself is not hidden).
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        bool::from(self.0.as_ref().ct_eq(other))
    }
}

impl<T: Zeroize> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<T: Zeroize + Clone> Clone for Secret<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: Zeroize> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl<T: Zeroize + AsRef<[u8]>> PartialEq for Secret<T> {
    /// Constant-time equality.
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other.0.as_ref())
    }
}

impl<T: Zeroize + AsRef<[u8]>> Eq for Secret<T> {}

impl From<String> for Secret<String> {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret<String> {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl From<Vec<u8>> for Secret<Vec<u8>> {
    fn from(value: Vec<u8>) -> Self {
        Self(value)
    }
}

impl From<&[u8]> for Secret<Vec<u8>> {
    fn from(value: &[u8]) -> Self {
        Self(value.to_vec())
    }
}
