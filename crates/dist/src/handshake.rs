//! The distribution handshake, version 6 (OTP 23+): names, flags and creations exchanged,
//! each side proving it knows the cookie by an MD5 digest of the other's challenge.
//!
//! Every message is framed by a 2-byte length. The initiator A and the acceptor B exchange:
//!
//! | | message | body |
//! |---|---|---|
//! | A → B | `send_name` | `'N'`, flags (8), creation (4), name length (2), name |
//! | B → A | `recv_status` | `'s'`, `ok` / `ok_simultaneous` / `nok` / `not_allowed` / `alive` |
//! | A → B | (after `alive`) | `'s'`, `true` or `false` |
//! | B → A | `send_challenge` | `'N'`, flags (8), challenge (4), creation (4), name length (2), name |
//! | A → B | `challenge_reply` | `'r'`, A's challenge (4), digest of B's challenge (16) |
//! | B → A | `challenge_ack` | `'a'`, digest of A's challenge (16) |
//!
//! The digest is `MD5(cookie ++ decimal(challenge))`. The cookie itself never crosses the
//! wire and is never logged.

use std::time::Duration;

use md5::{Digest, Md5};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::flags::DistFlags;
use crate::node::cookie::Cookie;

/// The longest handshake message accepted: a name is at most 255 characters of UTF-8.
const MAX_MESSAGE: usize = 2048;

/// Who the other side is, once the handshake succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Peer {
    /// Its full node name, `name@host`.
    pub(crate) name: String,
    /// Its flags.
    pub(crate) flags: DistFlags,
    /// Its creation.
    pub(crate) creation: u32,
}

/// This node, as the handshake presents it.
pub(crate) struct Me<'a> {
    pub(crate) name: &'a str,
    pub(crate) flags: DistFlags,
    pub(crate) creation: u32,
    pub(crate) cookie: &'a Cookie,
}

/// Why a handshake failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The other side's digest does not match: its cookie differs from ours.
    #[error("the node {peer} does not share our cookie (its digest did not match)")]
    WrongCookie {
        /// Who (as far as the handshake got).
        peer: String,
    },
    /// The other side refused us: `not_allowed`, or `nok` (it keeps its own connection
    /// attempt toward us, which will become the connection).
    #[error("the node refused the connection: {0}")]
    Refused(String),
    /// The other side lacks capabilities OTP 25 requires.
    #[error("the node lacks mandatory distribution capabilities {0:?}")]
    MissingFlags(DistFlags),
    /// A malformed or unexpected message.
    #[error("handshake protocol error: {0}")]
    Protocol(String),
    /// The node is already connected to us and the new connection was dropped.
    #[error("already connected to {0}")]
    AlreadyConnected(String),
    /// The handshake took longer than the setup time.
    #[error("the handshake did not complete within {0:?}")]
    Timeout(Duration),
    /// The connection failed.
    #[error("handshake I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// What the acceptor decides about an incoming node, by the state of its own connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// No connection or attempt: `ok`.
    Ok,
    /// We were connecting to it too and give way (our name is the smaller): `ok_simultaneous`.
    Simultaneous,
    /// We were connecting to it too and keep our attempt: `nok`.
    Nok,
    /// A connection to it is up: `alive`, and the initiator says whether that one is dead.
    Alive,
}

pub(crate) fn digest(challenge: u32, cookie: &Cookie) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update(cookie.expose().as_bytes());
    md5.update(challenge.to_string().as_bytes());
    md5.finalize().into()
}

fn challenge() -> u32 {
    let mut b = [0u8; 4];
    getrandom::getrandom(&mut b).expect("the OS random source");
    u32::from_be_bytes(b)
}

async fn write_msg<S: AsyncWrite + Unpin>(s: &mut S, body: &[u8]) -> Result<(), HandshakeError> {
    let len = u16::try_from(body.len())
        .map_err(|_| HandshakeError::Protocol("message too long".into()))?;
    let mut frame = Vec::with_capacity(body.len() + 2);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(body);
    s.write_all(&frame).await?;
    s.flush().await?;
    Ok(())
}

async fn read_msg<S: AsyncRead + Unpin>(s: &mut S) -> Result<Vec<u8>, HandshakeError> {
    let len = usize::from(s.read_u16().await?);
    if len == 0 || len > MAX_MESSAGE {
        return Err(HandshakeError::Protocol(format!("message of {len} bytes")));
    }
    let mut body = vec![0; len];
    s.read_exact(&mut body).await?;
    Ok(body)
}

/// A cursor over a handshake message.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], HandshakeError> {
        if self.0.len() < n {
            return Err(HandshakeError::Protocol("message cut short".into()));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u16(&mut self) -> Result<u16, HandshakeError> {
        Ok(u16::from_be_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }
    fn u32(&mut self) -> Result<u32, HandshakeError> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64, HandshakeError> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn name(&mut self) -> Result<String, HandshakeError> {
        let n = usize::from(self.u16()?);
        let bytes = self.take(n)?;
        let name = std::str::from_utf8(bytes)
            .map_err(|_| HandshakeError::Protocol("node name is not UTF-8".into()))?;
        if !valid_node_name(name) {
            return Err(HandshakeError::Protocol(format!(
                "invalid node name {name:?}"
            )));
        }
        Ok(name.to_owned())
    }
}

/// `name@host`, both parts non-empty, at most 255 characters.
pub(crate) fn valid_node_name(name: &str) -> bool {
    match name.split_once('@') {
        Some((n, h)) => {
            !n.is_empty() && !h.is_empty() && !h.contains('@') && name.chars().count() <= 255
        }
        None => false,
    }
}

/// A peer's flags as OTP reads them: `MANDATORY_25_DIGEST` stands for the whole OTP 25
/// mandatory set (`dist_util:expand_mandatory_25_flag`).
fn expand(flags: DistFlags) -> DistFlags {
    if flags.contains(DistFlags::MANDATORY_25_DIGEST) {
        flags | DistFlags::MANDATORY_25
    } else {
        flags
    }
}

fn check_flags(flags: DistFlags) -> Result<(), HandshakeError> {
    let missing = flags.missing(DistFlags::MANDATORY_25);
    if missing != DistFlags::default() {
        return Err(HandshakeError::MissingFlags(missing));
    }
    Ok(())
}

/// Connect as A to the node `peer_name` over `s`.
pub(crate) async fn initiate<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    me: &Me<'_>,
    peer_name: &str,
    still_wanted: impl Fn() -> bool,
) -> Result<Peer, HandshakeError> {
    let mut send_name = vec![b'N'];
    send_name.extend_from_slice(&me.flags.bits().to_be_bytes());
    send_name.extend_from_slice(&me.creation.to_be_bytes());
    send_name.extend_from_slice(&(me.name.len() as u16).to_be_bytes());
    send_name.extend_from_slice(me.name.as_bytes());
    write_msg(s, &send_name).await?;

    let status = read_msg(s).await?;
    match status.split_first() {
        Some((b's', status)) => match status {
            b"ok" | b"ok_simultaneous" => {}
            b"alive" => {
                // It believes a connection from us is up; we are connecting, so ours is not.
                let answer: &[u8] = if still_wanted() { b"strue" } else { b"sfalse" };
                write_msg(s, answer).await?;
                if answer == b"sfalse" {
                    return Err(HandshakeError::AlreadyConnected(peer_name.to_owned()));
                }
            }
            other => {
                return Err(HandshakeError::Refused(
                    String::from_utf8_lossy(other).into_owned(),
                ))
            }
        },
        _ => return Err(HandshakeError::Protocol("expected a status message".into())),
    }

    let msg = read_msg(s).await?;
    let mut f = Fields(&msg);
    if f.take(1)? != b"N" {
        return Err(HandshakeError::Protocol(
            "expected a version 6 challenge ('N')".into(),
        ));
    }
    let flags = expand(DistFlags::from_bits(f.u64()?));
    let their_challenge = f.u32()?;
    let creation = f.u32()?;
    let name = f.name()?;
    check_flags(flags)?;
    if creation == 0 {
        return Err(HandshakeError::Protocol("a creation of 0".into()));
    }
    if name != peer_name {
        return Err(HandshakeError::Protocol(format!(
            "connected to {peer_name} but the node calls itself {name}"
        )));
    }

    let mine = challenge();
    let mut reply = vec![b'r'];
    reply.extend_from_slice(&mine.to_be_bytes());
    reply.extend_from_slice(&digest(their_challenge, me.cookie));
    write_msg(s, &reply).await?;

    let ack = read_msg(s).await.map_err(|e| match e {
        // The acceptor closes the connection on a wrong digest.
        HandshakeError::Io(_) => HandshakeError::WrongCookie { peer: name.clone() },
        e => e,
    })?;
    let mut f = Fields(&ack);
    if f.take(1)? != b"a" {
        return Err(HandshakeError::Protocol(
            "expected a challenge ack ('a')".into(),
        ));
    }
    if f.take(16)? != digest(mine, me.cookie) {
        return Err(HandshakeError::WrongCookie { peer: name });
    }
    Ok(Peer {
        name,
        flags,
        creation,
    })
}

/// Accept as B a connection on `s`. `admit` decides, from the initiator's name, what to answer.
pub(crate) async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    me: &Me<'_>,
    admit: impl FnOnce(&str) -> Admission,
) -> Result<Peer, HandshakeError> {
    let msg = read_msg(s).await?;
    let mut f = Fields(&msg);
    let (flags, creation, name) = match f.take(1)? {
        b"N" => {
            let flags = expand(DistFlags::from_bits(f.u64()?));
            let creation = f.u32()?;
            if creation == 0 {
                return Err(HandshakeError::Protocol("a creation of 0".into()));
            }
            (flags, creation, f.name()?)
        }
        b"n" => {
            // The pre-OTP 23 handshake: refused, as OTP 25 refuses it.
            write_msg(s, b"snot_allowed").await?;
            return Err(HandshakeError::Protocol(
                "the node speaks the pre-OTP 23 handshake (version 5)".into(),
            ));
        }
        _ => return Err(HandshakeError::Protocol("expected send_name".into())),
    };
    if let Err(e) = check_flags(flags) {
        write_msg(s, b"snot_allowed").await?;
        return Err(e);
    }
    match admit(&name) {
        Admission::Ok => write_msg(s, b"sok").await?,
        Admission::Simultaneous => write_msg(s, b"sok_simultaneous").await?,
        Admission::Nok => {
            write_msg(s, b"snok").await?;
            return Err(HandshakeError::Refused(
                "simultaneous connect, ours goes on".into(),
            ));
        }
        Admission::Alive => {
            write_msg(s, b"salive").await?;
            let answer = read_msg(s).await?;
            if answer != b"strue" {
                return Err(HandshakeError::AlreadyConnected(name));
            }
        }
    }

    let mine = challenge();
    let mut send = vec![b'N'];
    send.extend_from_slice(&me.flags.bits().to_be_bytes());
    send.extend_from_slice(&mine.to_be_bytes());
    send.extend_from_slice(&me.creation.to_be_bytes());
    send.extend_from_slice(&(me.name.len() as u16).to_be_bytes());
    send.extend_from_slice(me.name.as_bytes());
    write_msg(s, &send).await?;

    let reply = read_msg(s).await?;
    let mut f = Fields(&reply);
    if f.take(1)? != b"r" {
        return Err(HandshakeError::Protocol(
            "expected a challenge reply ('r')".into(),
        ));
    }
    let their_challenge = f.u32()?;
    if f.take(16)? != digest(mine, me.cookie) {
        // Closed without an answer, as OTP does.
        return Err(HandshakeError::WrongCookie { peer: name });
    }
    let mut ack = vec![b'a'];
    ack.extend_from_slice(&digest(their_challenge, me.cookie));
    write_msg(s, &ack).await?;
    Ok(Peer {
        name,
        flags,
        creation,
    })
}
