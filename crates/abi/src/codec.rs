//! How messages, replies, arguments and states cross the boundary: `postcard`, a compact
//! serde format. Both sides encode with this module, so they agree by construction.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A value did not encode or decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError(pub String);

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for CodecError {}

/// Encode `value`.
///
/// # Errors
///
/// If its `Serialize` impl fails.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    postcard::to_allocvec(value).map_err(|e| CodecError(format!("cannot encode: {e}")))
}

/// Decode a `T` from `bytes`.
///
/// # Errors
///
/// If `bytes` is not a `T` in this format (for instance a state of another version).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    postcard::from_bytes(bytes)
        .map_err(|e| CodecError(format!("cannot decode {}: {e}", std::any::type_name::<T>())))
}
