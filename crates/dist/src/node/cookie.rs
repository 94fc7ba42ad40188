//! The magic cookie: the shared secret two nodes prove they know in the handshake.

use std::fmt;
use std::path::{Path, PathBuf};

/// A node's cookie. It is never printed: `Debug` and `Display` show `Cookie(<redacted>)`.
#[derive(Clone, PartialEq, Eq)]
pub struct Cookie(String);

/// Why no cookie could be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CookieError {
    /// The cookie file could not be read or created.
    #[error("cookie file {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The cookie file is readable by others than its owner; `erl` refuses such a file too.
    #[error("cookie file {0} must be accessible only by its owner (chmod 400)")]
    Permissions(PathBuf),
    /// There is no home directory to find `~/.erlang.cookie` in.
    #[error("no home directory for ~/.erlang.cookie: set the cookie explicitly")]
    NoHome,
    /// A cookie must be non-empty and printable ASCII.
    #[error("a cookie must be 1 to 255 printable ASCII characters")]
    Invalid,
}

impl Cookie {
    /// A cookie from its text.
    ///
    /// # Errors
    ///
    /// [`CookieError::Invalid`] unless it is 1 to 255 printable ASCII characters.
    pub fn new(text: impl Into<String>) -> Result<Cookie, CookieError> {
        let text = text.into();
        if text.is_empty() || text.len() > 255 || !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(CookieError::Invalid);
        }
        Ok(Cookie(text))
    }

    /// `~/.erlang.cookie`, created as `erl` does (20 random capital letters, mode 0400) if it
    /// does not exist.
    ///
    /// # Errors
    ///
    /// See [`CookieError`].
    pub fn from_home() -> Result<Cookie, CookieError> {
        let home = std::env::var_os("HOME").ok_or(CookieError::NoHome)?;
        Cookie::from_file(Path::new(&home).join(".erlang.cookie"))
    }

    /// The cookie in `path` (its first line), creating the file as [`from_home`](Self::from_home)
    /// does if it does not exist.
    ///
    /// # Errors
    ///
    /// See [`CookieError`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<Cookie, CookieError> {
        let path = path.as_ref();
        let file_err = |source| CookieError::File {
            path: path.to_owned(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let mode = std::fs::metadata(path)
                        .map_err(file_err)?
                        .permissions()
                        .mode();
                    if mode & 0o077 != 0 {
                        return Err(CookieError::Permissions(path.to_owned()));
                    }
                }
                Cookie::new(text.lines().next().unwrap_or("").trim())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 20];
                getrandom::getrandom(&mut bytes)
                    .map_err(|e| file_err(std::io::Error::other(e.to_string())))?;
                let text: String = bytes.iter().map(|b| char::from(b'A' + b % 26)).collect();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    options.mode(0o400);
                }
                use std::io::Write;
                options
                    .open(path)
                    .and_then(|mut f| f.write_all(text.as_bytes()))
                    .map_err(file_err)?;
                Cookie::new(text)
            }
            Err(e) => Err(file_err(e)),
        }
    }

    /// The secret itself, for the handshake's digest.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cookie(<redacted>)")
    }
}

impl fmt::Display for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cookie(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ferrotp-cookie-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(".erlang.cookie")
    }

    #[test]
    fn a_missing_cookie_file_is_created_private_as_erl_does_and_read_back() {
        let path = scratch("create");
        let made = Cookie::from_file(&path).unwrap();
        assert_eq!(made.expose().len(), 20);
        assert!(made.expose().bytes().all(|b| b.is_ascii_uppercase()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o400);
        }
        assert_eq!(Cookie::from_file(&path).unwrap(), made);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn a_cookie_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let path = scratch("open");
        std::fs::write(&path, "SECRET\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            Cookie::from_file(&path),
            Err(CookieError::Permissions(_))
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(Cookie::from_file(&path).unwrap().expose(), "SECRET");
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn a_cookie_is_never_printed() {
        let c = Cookie::new("hunter2").unwrap();
        assert!(!format!("{c:?} {c}").contains("hunter2"));
        assert!(matches!(Cookie::new(""), Err(CookieError::Invalid)));
        assert!(matches!(
            Cookie::new("two words"),
            Err(CookieError::Invalid)
        ));
    }
}
