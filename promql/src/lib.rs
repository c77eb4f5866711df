//! PromQL for Vigil: Prometheus's test-script language (`script`), the evaluator and the
//! Prometheus HTTP API come here (issue 4).

pub mod script;
