//! The service graph (Tempo's `service-graphs` processor): a client span (or producer) and the
//! server span (or consumer) it called make an edge `client → server`, found by the client's
//! span id, which is the server span's parent id. Each half waits a while for the other; an
//! edge is counted when both are in (`traces_service_graph_request_total`, `_failed_total`
//! when either side failed, the server's and the client's latency histograms). A client span
//! that names a database completes an edge alone (`connection_type="database"`); halves that
//! wait in vain become edges to or from a virtual node where Tempo makes one (a root server
//! span is called by `user`; a client span naming its peer calls that peer).

use std::collections::{HashMap, VecDeque};

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::Span;

use super::histogram::{Histogram, GRAPH_BUCKETS};
use super::spans::text;

/// Attributes whose presence on a client span makes its edge a database call.
const DATABASE_ATTRIBUTES: [&str; 3] = ["db.namespace", "db.name", "db.system"];

/// Attributes naming the peer of a client span (a virtual server node).
const PEER_ATTRIBUTES: [&str; 3] = ["peer.service", "db.name", "db.system"];

/// Attributes naming a database server, in order of preference.
const DATABASE_SERVER_ATTRIBUTES: [&str; 3] =
    ["peer.service", "server.address", "network.peer.address"];

/// Which side of a call a span is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Client,
    Server,
}

/// Half of an edge: one span, waiting for its other side under `key` (trace id and the
/// client's span id).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Half {
    pub(crate) key: EdgeKey,
    pub(crate) side: Side,
    pub(crate) service: String,
    pub(crate) seconds: f64,
    pub(crate) failed: bool,
    pub(crate) messaging: bool,
    /// A server span without a parent (the key's span id is zero).
    pub(crate) root: bool,
    /// The first peer attribute of the span, if any.
    pub(crate) peer: Option<String>,
}

/// A complete call: `client`, `server`, the connection type (empty for a plain call).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    pub(crate) client: String,
    pub(crate) server: String,
    pub(crate) connection: &'static str,
    pub(crate) failed: bool,
    pub(crate) server_seconds: f64,
    pub(crate) client_seconds: f64,
    pub(crate) trace: [u8; 16],
}

/// The half a span of `service` is, or the call it makes alone (a database client span);
/// `None` for spans that are neither client nor server.
pub(crate) fn half(
    service: &str,
    resource: &[KeyValue],
    span: &Span,
) -> Option<Result<Half, Call>> {
    let (side, messaging) = match span.kind {
        3 => (Side::Client, false),
        4 => (Side::Client, true),
        2 => (Side::Server, false),
        5 => (Side::Server, true),
        _ => return None,
    };
    let trace = <[u8; 16]>::try_from(&span.trace_id[..]).ok()?;
    let seconds = span
        .end_time_unix_nano
        .saturating_sub(span.start_time_unix_nano) as f64
        / 1e9;
    let failed = span.status.as_ref().is_some_and(|s| s.code == 2);
    let attr = |key: &str| {
        resource
            .iter()
            .chain(&span.attributes)
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .map(text)
            .filter(|v| !v.is_empty())
    };
    if side == Side::Client && !messaging {
        if let Some(db) = DATABASE_ATTRIBUTES.iter().find_map(|k| attr(k)) {
            let server = DATABASE_SERVER_ATTRIBUTES
                .iter()
                .find_map(|k| attr(k))
                .unwrap_or(db);
            return Some(Err(Call {
                client: service.to_string(),
                server,
                connection: "database",
                failed,
                server_seconds: seconds,
                client_seconds: seconds,
                trace,
            }));
        }
    }
    let id = match side {
        Side::Client => &span.span_id,
        Side::Server => &span.parent_span_id,
    };
    let id: [u8; 8] = <[u8; 8]>::try_from(&id[..]).unwrap_or_default();
    let peer = PEER_ATTRIBUTES.iter().find_map(|k| {
        span.attributes
            .iter()
            .find(|kv| kv.key == *k)
            .and_then(|kv| kv.value.as_ref())
            .map(text)
            .filter(|v| !v.is_empty())
    });
    Some(Ok(Half {
        key: (trace, id),
        side,
        service: service.to_string(),
        seconds,
        failed,
        messaging,
        root: side == Side::Server && id == [0; 8],
        peer,
    }))
}

/// Where a half waits: the trace id and the client span's id.
pub(crate) type EdgeKey = ([u8; 16], [u8; 8]);

/// Halves waiting for their other side, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Store {
    waiting: HashMap<EdgeKey, (Half, i64)>,
    order: VecDeque<(EdgeKey, i64)>,
}

impl Store {
    /// Pairs `half` with its waiting other side into a call, or makes it wait until
    /// `expires_ms`; `Err` when `max_items` halves wait already (the span is dropped).
    pub(crate) fn offer(
        &mut self,
        half: Half,
        expires_ms: i64,
        max_items: usize,
    ) -> Result<Option<Call>, ()> {
        if let Some((other, _)) = self.waiting.get(&half.key) {
            if other.side != half.side {
                let (other, _) = self.waiting.remove(&half.key).ok_or(())?;
                let (client, server) = match half.side {
                    Side::Client => (half, other),
                    Side::Server => (other, half),
                };
                return Ok(Some(Call {
                    connection: if client.messaging || server.messaging {
                        "messaging_system"
                    } else {
                        ""
                    },
                    failed: client.failed || server.failed,
                    server_seconds: server.seconds,
                    client_seconds: client.seconds,
                    trace: client.key.0,
                    client: client.service,
                    server: server.service,
                }));
            }
        }
        if self.waiting.len() >= max_items {
            return Err(());
        }
        self.order.push_back((half.key, expires_ms));
        self.waiting.insert(half.key, (half, expires_ms));
        Ok(None)
    }

    /// Takes the halves that waited until `now_ms` in vain; returns the virtual-node calls
    /// they make and how many made none.
    pub(crate) fn expire(&mut self, now_ms: i64) -> (Vec<Call>, u64) {
        let mut calls = Vec::new();
        let mut lost = 0;
        while let Some(&(key, expires)) = self.order.front() {
            if expires > now_ms {
                break;
            }
            self.order.pop_front();
            // A half paired (or replaced) since it was queued is not this entry's.
            if self.waiting.get(&key).is_none_or(|(_, e)| *e != expires) {
                continue;
            }
            let Some((half, _)) = self.waiting.remove(&key) else {
                continue;
            };
            let call = |client: String, server: String| Call {
                client,
                server,
                connection: "virtual_node",
                failed: half.failed,
                server_seconds: half.seconds,
                client_seconds: half.seconds,
                trace: half.key.0,
            };
            match half.side {
                Side::Server if half.root => calls.push(call(
                    half.peer.clone().unwrap_or_else(|| "user".to_string()),
                    half.service.clone(),
                )),
                Side::Client => match &half.peer {
                    Some(peer) => calls.push(call(half.service.clone(), peer.clone())),
                    None => lost += 1,
                },
                Side::Server => lost += 1,
            }
        }
        (calls, lost)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.waiting.len()
    }
}

/// What the calls of one edge added.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EdgeStats {
    pub(crate) total: u64,
    pub(crate) failed: u64,
    pub(crate) server: Histogram,
    pub(crate) client: Histogram,
}

impl EdgeStats {
    pub(crate) fn new() -> Self {
        Self {
            total: 0,
            failed: 0,
            server: Histogram::new(&GRAPH_BUCKETS),
            client: Histogram::new(&GRAPH_BUCKETS),
        }
    }

    pub(crate) fn add(&mut self, call: &Call) {
        self.total += 1;
        self.failed += u64::from(call.failed);
        self.server.observe(call.server_seconds, call.trace);
        self.client.observe(call.client_seconds, call.trace);
    }
}

/// The series key of a call's edge: client, server and connection type joined with `\0`.
pub(crate) fn edge_key(call: &Call) -> String {
    let mut key = String::new();
    for part in [call.client.as_str(), call.server.as_str(), call.connection] {
        key.extend(part.chars().filter(|c| *c != '\0'));
        key.push('\0');
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn half(side: Side, service: &str, key: u8, root: bool, peer: Option<&str>) -> Half {
        Half {
            key: ([1; 16], [key; 8]),
            side,
            service: service.into(),
            seconds: 0.5,
            failed: side == Side::Server,
            messaging: false,
            root,
            peer: peer.map(str::to_string),
        }
    }

    #[test]
    fn halves_pair_into_calls_and_expire_into_virtual_nodes() {
        let mut store = Store::default();
        assert_eq!(
            store.offer(half(Side::Client, "web", 1, false, None), 10, 10),
            Ok(None)
        );
        let call = store
            .offer(half(Side::Server, "api", 1, false, None), 10, 10)
            .unwrap()
            .unwrap();
        assert_eq!(
            (call.client.as_str(), call.server.as_str(), call.connection),
            ("web", "api", "")
        );
        assert!(call.failed);
        assert_eq!(store.len(), 0);
        // Waiting halves: a root server, a client naming its peer, a client naming none.
        store
            .offer(half(Side::Server, "api", 0, true, None), 10, 10)
            .unwrap();
        store
            .offer(half(Side::Client, "web", 2, false, Some("redis")), 10, 10)
            .unwrap();
        store
            .offer(half(Side::Client, "web", 3, false, None), 20, 10)
            .unwrap();
        assert_eq!(
            store.offer(half(Side::Client, "x", 4, false, None), 20, 3),
            Err(())
        );
        let (calls, lost) = store.expire(10);
        let edges: Vec<(&str, &str, &str)> = calls
            .iter()
            .map(|c| (c.client.as_str(), c.server.as_str(), c.connection))
            .collect();
        assert_eq!(
            edges,
            [
                ("user", "api", "virtual_node"),
                ("web", "redis", "virtual_node")
            ]
        );
        assert_eq!(lost, 0);
        assert_eq!(store.expire(20), (Vec::new(), 1));
        assert_eq!(store.len(), 0);
    }
}
