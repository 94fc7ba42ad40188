//! An EPMD-compatible server, for hosts where no EPMD runs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::*;

/// A registered node.
struct Entry {
    port: u16,
    node_type: u8,
    protocol: u8,
    highest: u16,
    lowest: u16,
    extra: Vec<u8>,
}

#[derive(Default)]
struct Table {
    nodes: HashMap<String, Entry>,
    /// The next creation handed out.
    next_creation: u32,
}

/// An EPMD-compatible server: ALIVE2 (the registration lasts as long as its connection),
/// PORT_PLEASE2 and NAMES. Stopped when dropped.
#[derive(Debug)]
pub struct EpmdServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

/// How long a client may take to send its request; a silent connection is closed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

impl EpmdServer {
    /// Listen on `addr` (loopback, in practice: `127.0.0.1:4369`).
    ///
    /// # Errors
    ///
    /// If the address cannot be bound (typically: an EPMD already runs there).
    pub async fn bind(addr: SocketAddr) -> std::io::Result<EpmdServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        // Creations start at a random point, as epmd's do, so that a restarted host does not
        // hand a node the creation its previous incarnation had.
        let mut seed = [0u8; 4];
        let _ = getrandom::getrandom(&mut seed);
        let table = Arc::new(Mutex::new(Table {
            nodes: HashMap::new(),
            next_creation: u32::from_be_bytes(seed).max(4),
        }));
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, peer)) = listener.accept().await else {
                    continue;
                };
                let table = table.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve(socket, &table).await {
                        tracing::debug!(%peer, error = %e, "EPMD request failed");
                    }
                });
            }
        });
        tracing::info!(%addr, "started an EPMD server (no EPMD was running)");
        Ok(EpmdServer { addr, task })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for EpmdServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut s: TcpStream, table: &Mutex<Table>) -> std::io::Result<()> {
    let request = tokio::time::timeout(REQUEST_TIMEOUT, async {
        let len = s.read_u16().await?;
        let mut body = vec![0; len.into()];
        s.read_exact(&mut body).await?;
        Ok::<_, std::io::Error>(body)
    })
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no request"))??;
    let Some((&tag, rest)) = request.split_first() else {
        return Ok(());
    };
    match tag {
        ALIVE2_REQ => alive2(s, rest, table).await,
        PORT_PLEASE2_REQ => {
            let name = String::from_utf8_lossy(rest);
            let reply = match table.lock().nodes.get(&*name) {
                Some(e) => {
                    let mut r = vec![PORT2_RESP, 0];
                    r.extend_from_slice(&e.port.to_be_bytes());
                    r.push(e.node_type);
                    r.push(e.protocol);
                    r.extend_from_slice(&e.highest.to_be_bytes());
                    r.extend_from_slice(&e.lowest.to_be_bytes());
                    r.extend_from_slice(&(name.len() as u16).to_be_bytes());
                    r.extend_from_slice(name.as_bytes());
                    r.extend_from_slice(&(e.extra.len() as u16).to_be_bytes());
                    r.extend_from_slice(&e.extra);
                    r
                }
                None => vec![PORT2_RESP, 1],
            };
            s.write_all(&reply).await
        }
        NAMES_REQ => {
            let port = s.local_addr()?.port();
            let mut reply = u32::from(port).to_be_bytes().to_vec();
            for (name, e) in table.lock().nodes.iter() {
                reply.extend_from_slice(format!("name {name} at port {}\n", e.port).as_bytes());
            }
            s.write_all(&reply).await
        }
        // Requests this server does not implement (KILL, STOP, DUMP...) are closed unanswered,
        // as epmd does for requests it refuses.
        _ => Ok(()),
    }
}

/// Parse an ALIVE2 request; register; answer; hold the registration until the connection
/// closes.
async fn alive2(mut s: TcpStream, body: &[u8], table: &Mutex<Table>) -> std::io::Result<()> {
    let parsed = (|| {
        let port = u16::from_be_bytes(body.get(0..2)?.try_into().ok()?);
        let node_type = *body.get(2)?;
        let protocol = *body.get(3)?;
        let highest = u16::from_be_bytes(body.get(4..6)?.try_into().ok()?);
        let lowest = u16::from_be_bytes(body.get(6..8)?.try_into().ok()?);
        let nlen = usize::from(u16::from_be_bytes(body.get(8..10)?.try_into().ok()?));
        let name = std::str::from_utf8(body.get(10..10 + nlen)?)
            .ok()?
            .to_owned();
        let at = 10 + nlen;
        let elen = usize::from(u16::from_be_bytes(body.get(at..at + 2)?.try_into().ok()?));
        let extra = body.get(at + 2..at + 2 + elen)?.to_vec();
        Some((
            name,
            Entry {
                port,
                node_type,
                protocol,
                highest,
                lowest,
                extra,
            },
        ))
    })();
    let Some((name, entry)) = parsed else {
        return Ok(());
    };
    // Version 6 nodes get the 32-bit creation (ALIVE2_X_RESP), older ones 16 bits.
    let extended = entry.highest >= 6;
    let registered = {
        let mut t = table.lock();
        if name.is_empty() || t.nodes.contains_key(&name) {
            None
        } else {
            let creation = t.next_creation;
            t.next_creation = t.next_creation.wrapping_add(1).max(4);
            t.nodes.insert(name.clone(), entry);
            Some(creation)
        }
    };
    let mut reply = vec![if extended { ALIVE2_X_RESP } else { ALIVE2_RESP }];
    match registered {
        Some(creation) => {
            reply.push(0);
            if extended {
                reply.extend_from_slice(&creation.to_be_bytes());
            } else {
                reply.extend_from_slice(&((creation % 3 + 1) as u16).to_be_bytes());
            }
        }
        None => {
            reply.push(1);
            reply.extend_from_slice(if extended { &[0; 4] } else { &[0; 2] });
        }
    }
    s.write_all(&reply).await?;
    let Some(_) = registered else {
        return Ok(());
    };
    // The registration lasts while the node keeps this connection and sends nothing more:
    // EOF, an error or any byte ends it, as with epmd.
    let mut sink = [0u8; 1];
    let _ = s.read(&mut sink).await;
    table.lock().nodes.remove(&name);
    tracing::debug!(node = %name, "unregistered from EPMD");
    Ok(())
}
