//! End-to-end tests of Vigil: each test starts the real binary on port 0 in a temporary
//! directory and talks to it with real clients — the OpenTelemetry SDK and its OTLP exporters
//! over gRPC, HTTP/protobuf and HTTP/JSON, and plain HTTP for SQL and the operating endpoints.
//!
//! - `traces`, `logs`, `metrics`: every field sent comes back from SQL exactly.
//! - `durability`: fresh within a second of the ack, once across flushes and restarts.
//! - `crash`: acknowledged spans survive SIGKILL exactly once.
//! - `bad_input`: clear 4xx answers and partial success.
//! - `ops`: health, readiness, self-metrics, the front page and tenant isolation.
//! - `tenancy`: every read path answers each tenant with its own data only.
//! - `limits`: every limit answers as Prometheus or OTLP clients expect, and the server stays up.
//! - `rules`: `vigil rules check` answers as `promtool check rules`.
//! - `alerting`: the server evaluates rule files, lists alerts as Prometheus does, restores them
//!   after a crash and reloads.
//! - `alertmanager`: alerts routed to a webhook as Alertmanager sends them; the v2 API.
//! - `tempo`: a trace comes back from Tempo's trace-by-id API with every field it was sent with.
//! - `jaeger`: the Jaeger query API under `/jaeger` (trace by id, search, services, operations).

mod harness;
mod otlp;

mod alerting;
mod alertmanager;
mod bad_input;
mod compaction;
mod crash;
mod durability;
mod exemplars;
mod jaeger;
mod limits;
mod logs;
mod loki;
mod loki_filters;
mod loki_grafana;
mod metrics;
mod ops;
mod prometheus_api;
mod promql_reads;
mod rules;
mod tempo;
mod tempo_grafana;
mod tenancy;
mod traces;
