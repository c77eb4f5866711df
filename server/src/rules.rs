//! Wiring of the rule evaluator: the tenants' rule files from `[alerting]`, and the sink through
//! which rules' samples take the remote-write path (WAL first, then the head), so that they
//! replay after a crash like any acknowledged write.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use alerting::engines::SampleSink;
use alerting::group::GroupDefaults;
use alerting::ManagerOptions;
use common::Tenant;
use ingest::remote_write::{Label, Sample as WireSample, TimeSeries, WriteRequest};
use ingest::IngestState;
use promql::value::Sample;

use crate::config::AlertingSection;

/// The manager's options from `[alerting]`.
pub(crate) fn options(section: &AlertingSection) -> anyhow::Result<ManagerOptions> {
    let mut files = BTreeMap::new();
    if !section.rule_files.is_empty() {
        files.insert(Tenant::default_tenant(), section.rule_files.clone());
    }
    for (name, t) in &section.tenants {
        files.insert(Tenant::new(name)?, t.rule_files.clone());
    }
    Ok(ManagerOptions {
        files,
        defaults: GroupDefaults {
            interval: section.evaluation_interval,
            query_offset: section.query_offset,
            external_labels: section.external_labels.clone(),
            external_url: section.external_url.clone(),
            resend_delay: section.resend_delay,
        },
        for_grace_period: section.for_grace_period,
        for_outage_tolerance: section.for_outage_tolerance,
        parse: alerting::rules::ParseOptions::default(),
        builtin: if section.self_watch {
            vec![(
                Tenant::new(alerting::manager::SELF_TENANT)?,
                "<builtin>/vigil-self-watch.yml".to_string(),
                alerting::manager::self_watch_rules(section.self_watch_interval),
            )]
        } else {
            Vec::new()
        },
    })
}

/// Rules' samples into the remote-write path.
pub(crate) struct IngestSink(pub(crate) Arc<IngestState>);

impl SampleSink for IngestSink {
    fn write(
        &self,
        tenant: Tenant,
        samples: Vec<Sample>,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'static>> {
        let state = Arc::clone(&self.0);
        Box::pin(async move {
            let request = WriteRequest {
                timeseries: samples
                    .into_iter()
                    .map(|s| TimeSeries {
                        labels: s
                            .labels
                            .pairs()
                            .iter()
                            .map(|(name, value)| Label {
                                name: name.clone(),
                                value: value.clone(),
                            })
                            .collect(),
                        samples: vec![WireSample {
                            value: s.v,
                            timestamp: s.t,
                        }],
                        exemplars: Vec::new(),
                    })
                    .collect(),
                metadata: Vec::new(),
            };
            ingest::write_request(&state, tenant, &request)
                .await
                .map_err(|e| e.public_message())
        })
    }
}
