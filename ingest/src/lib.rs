//! OTLP receivers of Vigil: export requests for traces, logs and metrics flow in over OTLP/gRPC
//! ([`grpc_routes`], [`serve_grpc`]) and OTLP/HTTP with protobuf or JSON bodies
//! ([`http_router`]); each is checked against the size and in-flight limits of [`IngestLimits`],
//! converted into Arrow rows and handed, with its protobuf encoding for the WAL, to the
//! `storage::Sink` in [`IngestState`]. Out flow OTLP responses: success, partial success naming
//! the rejected items, or a status that tells the client whether to retry.

mod body;
pub mod convert;
mod error;
pub mod generator;
mod grpc;
mod http;
mod loki_push;
mod metrics;
mod otlp_json;
pub mod remote_write;
mod service;

pub use error::{Error, Result};
pub use grpc::{grpc_routes, serve_grpc};
pub use http::http_router;
pub use loki_push::{
    loki_push_router, EntryAdapter, LabelPairAdapter, PushRequest, StreamAdapter, Timestamp,
    LOKI_PUSH_PATH,
};
pub use remote_write::{remote_write_router, write_request};
pub use service::{IngestLimits, IngestState};
