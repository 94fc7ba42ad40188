//! Integers beyond `i64`, as the External Term Format carries them: a sign and a magnitude.

use std::fmt;

/// An integer of any size: a sign and little-endian magnitude bytes (`SMALL_BIG_EXT`,
/// `LARGE_BIG_EXT`). ferrotp carries these, converts them to and from `i128`/`u128`, and prints
/// them; arithmetic is left to a bignum crate.
///
/// # Examples
///
/// ```
/// use ferrotp_dist::BigInt;
///
/// let n = BigInt::from(1i128 << 70);
/// assert_eq!(n.to_string(), "1180591620717411303424");
/// assert_eq!(n.to_i128(), Some(1 << 70));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BigInt {
    negative: bool,
    /// Little endian, without high zero bytes; empty is zero.
    magnitude: Vec<u8>,
}

impl BigInt {
    /// From a sign and little-endian magnitude bytes.
    pub fn from_parts(negative: bool, magnitude_le: &[u8]) -> BigInt {
        let mut magnitude = magnitude_le.to_vec();
        while magnitude.last() == Some(&0) {
            magnitude.pop();
        }
        let negative = negative && !magnitude.is_empty();
        BigInt {
            negative,
            magnitude,
        }
    }

    /// Whether it is below zero.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// The magnitude, little endian, without high zero bytes.
    pub fn magnitude_le(&self) -> &[u8] {
        &self.magnitude
    }

    /// The value, if it fits an `i128`.
    pub fn to_i128(&self) -> Option<i128> {
        if self.magnitude.len() > 16 {
            return None;
        }
        let mut le = [0u8; 16];
        le[..self.magnitude.len()].copy_from_slice(&self.magnitude);
        let m = u128::from_le_bytes(le);
        if self.negative {
            if m == 1u128 << 127 {
                Some(i128::MIN)
            } else {
                i128::try_from(m).ok().map(|m| -m)
            }
        } else {
            i128::try_from(m).ok()
        }
    }

    /// The value, if it fits a `u128`.
    pub fn to_u128(&self) -> Option<u128> {
        if self.negative || self.magnitude.len() > 16 {
            return None;
        }
        let mut le = [0u8; 16];
        le[..self.magnitude.len()].copy_from_slice(&self.magnitude);
        Some(u128::from_le_bytes(le))
    }

    /// The value, if it fits an `i64`.
    pub fn to_i64(&self) -> Option<i64> {
        self.to_i128().and_then(|n| i64::try_from(n).ok())
    }
}

impl From<i128> for BigInt {
    fn from(n: i128) -> BigInt {
        BigInt::from_parts(n < 0, &n.unsigned_abs().to_le_bytes())
    }
}

impl From<u128> for BigInt {
    fn from(n: u128) -> BigInt {
        BigInt::from_parts(false, &n.to_le_bytes())
    }
}

impl fmt::Display for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.magnitude.is_empty() {
            return f.write_str("0");
        }
        // Repeated division by 10 of the big-endian magnitude.
        let mut digits = Vec::new();
        let mut n: Vec<u8> = self.magnitude.iter().rev().copied().collect();
        while !n.is_empty() {
            let mut rem = 0u32;
            for byte in n.iter_mut() {
                let cur = (rem << 8) | u32::from(*byte);
                *byte = (cur / 10) as u8;
                rem = cur % 10;
            }
            digits.push(b'0' + rem as u8);
            let zeros = n.iter().take_while(|&&b| b == 0).count();
            n.drain(..zeros);
        }
        if self.negative {
            f.write_str("-")?;
        }
        digits.reverse();
        f.write_str(std::str::from_utf8(&digits).expect("ASCII digits"))
    }
}

impl fmt::Debug for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BigInt({self})")
    }
}
