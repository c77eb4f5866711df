//! Prometheus's rule APIs over the [`RuleManager`], through `query`'s HTTP kit:
//! `GET /api/v1/rules` (groups with their rules' health, last error, evaluation time and
//! alerts; filters `type`, `rule_name[]`, `rule_group[]`, `file[]`, `exclude_alerts`) and
//! `GET /api/v1/alerts` (pending and firing alerts), in Prometheus's shapes, which Grafana's
//! alert list reads. Tenant by `X-Scope-OrgID`.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use query::kit::{error_response, instrument, success, tenant, Params};
use query::Error;
use serde_json::{json, Map, Value as Json};

use crate::alerts::Alert;
use crate::group::{Group, RuleState};
use crate::manager::RuleManager;
use crate::timefmt::rfc3339;
use common::template::go_exp;

/// The API name in request metrics.
const API: &str = "prometheus";

/// `/api/v1/rules` and `/api/v1/alerts` over `manager`.
pub fn rules_router(manager: Arc<RuleManager>) -> Router {
    instrument(
        API,
        Router::new()
            .route("/api/v1/rules", get(rules).post(rules))
            .route("/api/v1/alerts", get(alerts).post(alerts))
            .with_state(manager),
    )
}

fn string_map<'a>(pairs: impl Iterator<Item = (&'a String, &'a String)>) -> Json {
    Json::Object(
        pairs
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect::<Map<_, _>>(),
    )
}

fn alert_json(a: &Alert) -> Json {
    let mut o = json!({
        "labels": string_map(a.labels.pairs().iter().map(|(k, v)| (k, v))),
        "annotations": string_map(a.annotations.iter()),
        "state": a.state.as_str(),
        "activeAt": rfc3339(Some(a.active_at)),
        "value": go_exp(a.value),
    });
    if let Some(since) = a.keep_firing_since {
        o["keepFiringSince"] = Json::String(rfc3339(Some(since)));
    }
    o
}

fn rule_json(r: &RuleState, with_alerts: bool) -> Json {
    let mut o = Map::new();
    let rule = &r.rule;
    if let Some(a) = &r.alerting {
        o.insert("state".into(), r.state().as_str().into());
        o.insert("name".into(), a.name().into());
        o.insert("query".into(), r.query.clone().into());
        o.insert("duration".into(), json!(a.hold().as_secs_f64()));
        o.insert(
            "keepFiringFor".into(),
            json!(a.keep_firing_for().as_secs_f64()),
        );
        o.insert("labels".into(), string_map(r.labels.iter()));
        o.insert("annotations".into(), string_map(rule.annotations.iter()));
        if with_alerts {
            o.insert(
                "alerts".into(),
                Json::Array(r.active_alerts().map(alert_json).collect()),
            );
        }
    } else {
        o.insert("name".into(), rule.name().into());
        o.insert("query".into(), r.query.clone().into());
        if !r.labels.is_empty() {
            o.insert("labels".into(), string_map(r.labels.iter()));
        }
    }
    o.insert("health".into(), r.health.as_str().into());
    if let Some(e) = &r.last_error {
        o.insert("lastError".into(), e.clone().into());
    }
    o.insert(
        "evaluationTime".into(),
        json!(r.evaluation_time.as_secs_f64()),
    );
    o.insert("lastEvaluation".into(), rfc3339(r.last_evaluation).into());
    o.insert(
        "type".into(),
        if r.alerting.is_some() {
            "alerting"
        } else {
            "recording"
        }
        .into(),
    );
    if r.language != crate::rules::Language::PromQl {
        o.insert("language".into(), r.language.as_str().into());
    }
    Json::Object(o)
}

/// Which rules a `/api/v1/rules` request asks for.
struct Filter<'a> {
    alerting: bool,
    recording: bool,
    names: HashSet<&'a str>,
    groups: HashSet<&'a str>,
    files: HashSet<&'a str>,
    with_alerts: bool,
}

impl<'a> Filter<'a> {
    fn from(params: &'a Params) -> Result<Self, Error> {
        let (alerting, recording) = match params.get("type").unwrap_or("") {
            "" => (true, true),
            "alert" => (true, false),
            "record" => (false, true),
            _ => {
                return Err(Error::BadData(
                    "invalid parameter \"type\": not supported value".into(),
                ))
            }
        };
        let with_alerts = match params.get("exclude_alerts").unwrap_or("") {
            "" | "false" | "0" => true,
            "true" | "1" => false,
            other => {
                return Err(Error::BadData(format!(
                    "invalid parameter \"exclude_alerts\": {other:?} is not a boolean"
                )))
            }
        };
        let set = |k: &str| params.all(k).into_iter().collect::<HashSet<_>>();
        Ok(Self {
            alerting,
            recording,
            names: set("rule_name[]"),
            groups: set("rule_group[]"),
            files: set("file[]"),
            with_alerts,
        })
    }

    fn group(&self, g: &Group) -> bool {
        (self.groups.is_empty() || self.groups.contains(g.name.as_str()))
            && (self.files.is_empty() || self.files.contains(g.file.as_str()))
    }

    fn rule(&self, r: &RuleState) -> bool {
        let kind = if r.alerting.is_some() {
            self.alerting
        } else {
            self.recording
        };
        kind && (self.names.is_empty() || self.names.contains(r.rule.name()))
    }
}

async fn rules(
    State(manager): State<Arc<RuleManager>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let params = Params::from(query.as_deref(), &headers, &body);
    let answer = (|| -> Result<Json, Error> {
        let tenant = tenant(&headers)?;
        let filter = Filter::from(&params)?;
        let mut groups = Vec::new();
        for g in manager.groups(&tenant) {
            if !filter.group(&g) {
                continue;
            }
            let rules: Vec<Json> = g
                .rules
                .iter()
                .filter(|r| filter.rule(r))
                .map(|r| rule_json(r, filter.with_alerts))
                .collect();
            if rules.is_empty() {
                continue;
            }
            groups.push(json!({
                "name": g.name,
                "file": g.file,
                "rules": rules,
                "interval": g.interval.as_secs_f64(),
                "limit": g.limit,
                "evaluationTime": g.evaluation_time.as_secs_f64(),
                "lastEvaluation": rfc3339(g.last_evaluation),
            }));
        }
        Ok(json!({ "groups": groups }))
    })();
    match answer {
        Ok(data) => success(&data.to_string()),
        Err(e) => error_response(API, &e),
    }
}

async fn alerts(State(manager): State<Arc<RuleManager>>, headers: HeaderMap) -> Response {
    let tenant = match tenant(&headers) {
        Ok(t) => t,
        Err(e) => return error_response(API, &e),
    };
    let list: Vec<Json> = manager
        .groups(&tenant)
        .iter()
        .flat_map(|g| g.rules.iter().flat_map(RuleState::active_alerts))
        .map(alert_json)
        .collect();
    success(&json!({ "alerts": list }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_print_in_prometheus_canonical_form() {
        let file = crate::rules::parse(
            "groups:\n- name: g\n  rules:\n  - record: a\n    expr: sum(rate(x[5m]))by(job)\n  - record: b\n    language: sql\n    expr: SELECT 1 AS value\n",
            crate::rules::ParseOptions::default(),
        )
        .expect("rules");
        let g = Group::new(
            "f",
            &file.groups[0],
            &crate::group::GroupDefaults::default(),
        );
        assert_eq!(g.rules[0].query, "sum by (job) (rate(x[5m]))");
        assert_eq!(g.rules[1].query, "SELECT 1 AS value");
    }

    #[test]
    fn alert_values_print_as_go_e_format() {
        assert_eq!(go_exp(1.0), "1e+00");
        assert_eq!(go_exp(0.0), "0e+00");
        assert_eq!(go_exp(2.5e-7), "2.5e-07");
        assert_eq!(go_exp(-1234.5), "-1.2345e+03");
        assert_eq!(go_exp(f64::INFINITY), "+Inf");
        assert_eq!(go_exp(f64::NAN), "NaN");
    }
}
