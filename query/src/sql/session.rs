//! DataFusion sessions that see exactly one tenant's tables.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use common::schema::{self, LOGS, SAMPLES, SERIES, SPANS};
use common::Tenant;
use datafusion::catalog::{
    CatalogProvider, MemoryCatalogProviderList, SchemaProvider, TableProvider,
};
use datafusion::common::Result;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use storage::ReadView;
use tracing::error;

use super::id_literal::analyzer_rules;
use super::table::{SeriesTable, SignalTable, STORE_URL};
use super::{labels_udf, match_udf};

/// Name of the default catalog of a Vigil session.
pub(crate) const CATALOG: &str = "vigil";
/// Name of the default schema of a Vigil session.
pub(crate) const SCHEMA: &str = "public";

/// A session whose default catalog and schema hold `tenant`'s four tables (`spans`, `logs`,
/// `samples`, `series`) and nothing else, with the id-literal rewrite installed. Every table
/// takes its snapshot when a query scans it, so the session can be reused across queries.
pub fn session_for_tenant(view: Arc<dyn ReadView>, tenant: Tenant) -> SessionContext {
    let runtime = Arc::new(RuntimeEnv::default());
    register_store(&runtime, view.as_ref());
    build_session(view, tenant, runtime)
}

/// Registers the view's object store under [`STORE_URL`] in `runtime`, which the scans of the
/// signal tables read segments through.
pub(crate) fn register_store(runtime: &RuntimeEnv, view: &dyn ReadView) {
    match ObjectStoreUrl::parse(STORE_URL) {
        Ok(url) => {
            runtime.register_object_store(url.as_ref(), view.object_store());
        }
        // Unreachable with the constant URL; scans would then fail with an internal error.
        Err(error) => error!(%error, "failed to register the segment store"),
    }
}

/// Like [`session_for_tenant`], on a shared `runtime` (which holds the registered store and the
/// Parquet footer cache).
pub(crate) fn build_session(
    view: Arc<dyn ReadView>,
    tenant: Tenant,
    runtime: Arc<RuntimeEnv>,
) -> SessionContext {
    let config = SessionConfig::new()
        .with_default_catalog_and_schema(CATALOG, SCHEMA)
        .with_create_default_catalog_and_schema(false)
        .with_information_schema(true);
    let catalogs = MemoryCatalogProviderList::new();
    datafusion::catalog::CatalogProviderList::register_catalog(
        &catalogs,
        CATALOG.to_string(),
        Arc::new(TenantCatalog {
            schema: Arc::new(TenantSchema::new(view, tenant)),
        }),
    );
    let state = SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_catalog_list(Arc::new(catalogs))
        .with_analyzer_rules(analyzer_rules())
        .build();
    let ctx = SessionContext::new_with_state(state);
    ctx.register_udf(match_udf::udf());
    ctx.register_udf(labels_udf::udf());
    ctx
}

/// The read-only schema of one tenant's tables.
#[derive(Debug)]
struct TenantSchema {
    tables: BTreeMap<&'static str, Arc<dyn TableProvider>>,
}

impl TenantSchema {
    fn new(view: Arc<dyn ReadView>, tenant: Tenant) -> Self {
        let mut tables: BTreeMap<&'static str, Arc<dyn TableProvider>> = BTreeMap::new();
        for (table, table_schema) in [
            (SPANS, schema::spans_schema()),
            (LOGS, schema::logs_schema()),
            (SAMPLES, schema::samples_schema()),
        ] {
            if let Some((time_column, _)) =
                common::Signal::from_table(table).map(common::Signal::time_column)
            {
                let provider = SignalTable::new(
                    Arc::clone(&view),
                    tenant.clone(),
                    table,
                    time_column,
                    table_schema,
                );
                tables.insert(table, Arc::new(provider));
            }
        }
        tables.insert(
            SERIES,
            Arc::new(SeriesTable::new(view, tenant, schema::series_schema())),
        );
        Self { tables }
    }
}

#[async_trait]
impl SchemaProvider for TenantSchema {
    fn table_names(&self) -> Vec<String> {
        self.tables.keys().map(|t| t.to_string()).collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        Ok(self.tables.get(name).cloned())
    }

    fn table_exist(&self, name: &str) -> bool {
        self.tables.contains_key(name)
    }
}

/// The catalog holding only [`SCHEMA`].
#[derive(Debug)]
struct TenantCatalog {
    schema: Arc<dyn SchemaProvider>,
}

impl CatalogProvider for TenantCatalog {
    fn schema_names(&self) -> Vec<String> {
        vec![SCHEMA.to_string()]
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        (name == SCHEMA).then(|| Arc::clone(&self.schema))
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::RecordBatch;
    use object_store::memory::InMemory;
    use object_store::ObjectStore;
    use storage::TableSnapshot;

    use super::*;

    /// A view with no data at all.
    #[derive(Debug)]
    struct EmptyView;

    impl ReadView for EmptyView {
        fn snapshot(&self, _tenant: &Tenant, table: &str) -> TableSnapshot {
            let schema = match table {
                SPANS => schema::spans_schema(),
                LOGS => schema::logs_schema(),
                _ => schema::samples_schema(),
            };
            TableSnapshot {
                schema,
                head: vec![],
                segments: vec![],
            }
        }
        fn series(&self, _tenant: &Tenant) -> Vec<RecordBatch> {
            vec![]
        }
        fn object_store(&self) -> Arc<dyn ObjectStore> {
            Arc::new(InMemory::new())
        }
    }

    #[test]
    fn the_store_url_parses() {
        assert!(ObjectStoreUrl::parse(STORE_URL).is_ok());
    }

    #[tokio::test]
    async fn the_session_shows_exactly_the_four_tables_and_refuses_new_ones() {
        let ctx = session_for_tenant(Arc::new(EmptyView), Tenant::default_tenant());
        let batches = ctx
            .sql(
                "SELECT table_name FROM information_schema.tables \
                 WHERE table_schema = 'public' ORDER BY table_name",
            )
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        for t in ["logs", "samples", "series", "spans"] {
            assert!(text.contains(t), "{text}");
        }
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 4);

        let empty = ctx
            .sql("SELECT count(*) AS n FROM spans")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&empty)
            .unwrap()
            .to_string();
        assert!(text.contains("| 0 |"), "{text}");
        assert!(ctx
            .register_table("extra", ctx.table_provider("spans").await.unwrap())
            .is_err());
    }
}
