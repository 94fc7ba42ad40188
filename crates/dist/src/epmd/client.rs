//! The EPMD client.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;

/// A client of the EPMD at one address.
#[derive(Debug, Clone, Copy)]
pub struct EpmdClient {
    addr: SocketAddr,
    timeout: std::time::Duration,
}

/// A node's entry in EPMD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeEntry {
    /// The port the node accepts distribution connections on.
    pub port: u16,
    /// Whether it registered as hidden.
    pub hidden: bool,
    /// The highest distribution version it speaks.
    pub highest_version: u16,
    /// The lowest.
    pub lowest_version: u16,
}

/// A name registered with EPMD: it stays registered as long as this value lives (its socket
/// is EPMD's proof that the node runs).
#[derive(Debug)]
pub struct Registration {
    creation: u32,
    _socket: TcpStream,
}

impl Registration {
    /// The creation EPMD gave this incarnation of the node: it goes in every pid, port and
    /// reference the node sends.
    pub fn creation(&self) -> u32 {
        self.creation
    }
}

impl EpmdClient {
    /// The EPMD at `addr`.
    pub fn new(addr: SocketAddr) -> EpmdClient {
        EpmdClient {
            addr,
            timeout: std::time::Duration::from_secs(10),
        }
    }

    /// Give each exchange at most `timeout` (default 10 s): an EPMD that accepts and never
    /// answers fails it with [`EpmdError::Timeout`] instead of holding the caller.
    pub fn timeout(mut self, timeout: std::time::Duration) -> EpmdClient {
        self.timeout = timeout;
        self
    }

    async fn bounded<T>(
        &self,
        exchange: impl std::future::Future<Output = Result<T, EpmdError>>,
    ) -> Result<T, EpmdError> {
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or(Err(EpmdError::Timeout(self.timeout)))
    }

    /// The address it talks to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    async fn connect(&self) -> Result<TcpStream, EpmdError> {
        TcpStream::connect(self.addr)
            .await
            .map_err(|source| EpmdError::Unreachable {
                addr: self.addr,
                source,
            })
    }

    async fn request(&self, body: &[u8]) -> Result<TcpStream, EpmdError> {
        let mut s = self.connect().await?;
        let len = u16::try_from(body.len())
            .map_err(|_| EpmdError::Protocol("request too long".into()))?;
        let mut req = len.to_be_bytes().to_vec();
        req.extend_from_slice(body);
        s.write_all(&req).await?;
        Ok(s)
    }

    /// Register `name` (the part before `@`) listening on `port` (ALIVE2).
    /// The name stays registered while the returned [`Registration`] lives.
    ///
    /// # Errors
    ///
    /// [`EpmdError::NameTaken`] if a running node holds the name; others if EPMD cannot be
    /// reached or answers badly.
    pub async fn register(&self, name: &str, port: u16) -> Result<Registration, EpmdError> {
        self.bounded(self.alive2(name, port)).await
    }

    async fn alive2(&self, name: &str, port: u16) -> Result<Registration, EpmdError> {
        let mut body = vec![ALIVE2_REQ];
        body.extend_from_slice(&port.to_be_bytes());
        // Hidden nodes register as normal ones, as OTP's do: hiding is the handshake's
        // business.
        body.push(NODE_TYPE_NORMAL);
        body.push(0); // protocol: TCP/IPv4
        body.extend_from_slice(&6u16.to_be_bytes()); // highest version
        body.extend_from_slice(&6u16.to_be_bytes()); // lowest version
        body.extend_from_slice(&(name.len() as u16).to_be_bytes());
        body.extend_from_slice(name.as_bytes());
        body.extend_from_slice(&0u16.to_be_bytes()); // no extra
        let mut s = self.request(&body).await?;
        let tag = s.read_u8().await?;
        let result = s.read_u8().await?;
        let creation = match tag {
            ALIVE2_X_RESP => s.read_u32().await?,
            ALIVE2_RESP => s.read_u16().await?.into(),
            other => {
                return Err(EpmdError::Protocol(format!(
                    "ALIVE2 answered with tag {other}"
                )))
            }
        };
        if result != 0 {
            return Err(EpmdError::NameTaken(name.to_owned()));
        }
        Ok(Registration {
            creation,
            _socket: s,
        })
    }

    /// The port of node `name` (the part before `@`), if it is registered (PORT_PLEASE2).
    ///
    /// # Errors
    ///
    /// If EPMD cannot be reached or answers badly.
    pub async fn port_please(&self, name: &str) -> Result<Option<NodeEntry>, EpmdError> {
        self.bounded(self.port_please2(name)).await
    }

    async fn port_please2(&self, name: &str) -> Result<Option<NodeEntry>, EpmdError> {
        let mut body = vec![PORT_PLEASE2_REQ];
        body.extend_from_slice(name.as_bytes());
        let mut s = self.request(&body).await?;
        let tag = s.read_u8().await?;
        if tag != PORT2_RESP {
            return Err(EpmdError::Protocol(format!(
                "PORT_PLEASE2 answered with tag {tag}"
            )));
        }
        if s.read_u8().await? != 0 {
            return Ok(None);
        }
        let port = s.read_u16().await?;
        let node_type = s.read_u8().await?;
        let _protocol = s.read_u8().await?;
        let highest_version = s.read_u16().await?;
        let lowest_version = s.read_u16().await?;
        Ok(Some(NodeEntry {
            port,
            hidden: node_type == NODE_TYPE_HIDDEN,
            highest_version,
            lowest_version,
        }))
    }

    /// The registered names and their ports (NAMES).
    ///
    /// # Errors
    ///
    /// If EPMD cannot be reached or answers badly.
    pub async fn names(&self) -> Result<Vec<(String, u16)>, EpmdError> {
        self.bounded(self.names_req()).await
    }

    async fn names_req(&self) -> Result<Vec<(String, u16)>, EpmdError> {
        let mut s = self.request(&[NAMES_REQ]).await?;
        let _epmd_port = s.read_u32().await?;
        let mut text = String::new();
        // EPMD closes the connection after the list; a hostile one is cut off at 1 MiB.
        (&mut s).take(1 << 20).read_to_string(&mut text).await?;
        Ok(text
            .lines()
            .filter_map(|line| {
                // "name NAME at port PORT"
                let rest = line.strip_prefix("name ")?;
                let (name, port) = rest.rsplit_once(" at port ")?;
                Some((name.to_owned(), port.trim().parse().ok()?))
            })
            .collect())
    }
}
