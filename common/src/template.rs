//! Go's `text/template`, the part Prometheus's alert templates use: text and `{{ }}` actions
//! (with `{{-`/`-}}` trimming and comments), pipelines (`a | f`), variables (`$x := …`,
//! `$labels.instance`), fields of the data (`.Labels.job`, `.Value`), literals, parentheses,
//! `if`/`else if`/`else`, `range` (maps in key order), `with`, and the functions Prometheus
//! gives alert templates (`humanize`, `humanize1024`, `humanizePercentage`,
//! `humanizeDuration`, `title`, `toUpper`, `toLower`, `match`, `reReplaceAll`, `stripPort`,
//! `printf`, comparisons, `and`/`or`/`not`, `len`, `index`, and `query` with `first`, `label`,
//! `value`, `strvalue`, `sortByLabel` over its results). Values print as Go prints them. A
//! template naming another function is refused when parsed, as Go refuses it.
//!
//! Alertmanager's notification templates are the same language with its own functions
//! (`join`, `trimSpace`, `safeUrl`, `date`, `tz`, `toJson` …), named templates (`define`,
//! `template`, `block`) kept in a [`TemplateSet`] loaded from the `templates` files, and the
//! methods of its data (`.Alerts.Firing`, `.CommonLabels.SortedPairs`, `.StartsAt.Format`).

mod alert;
mod ast;
mod exec;
mod format;
mod functions;
mod methods;
mod parse;
mod set;
mod value;

pub use alert::{expand_alert, Template};
pub use exec::NativeFn;
pub use format::{
    go_exp, go_float, humanize, humanize_1024, humanize_duration, humanize_percentage,
};
pub use functions::{QueryFn, QueryResult};
pub use parse::Dialect;
pub use set::TemplateSet;
pub use value::{Value, ZERO_TIME};
