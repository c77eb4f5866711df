//! Go's `text/template`, the part Prometheus's alert templates use: text and `{{ }}` actions
//! (with `{{-`/`-}}` trimming and comments), pipelines (`a | f`), variables (`$x := …`,
//! `$labels.instance`), fields of the data (`.Labels.job`, `.Value`), literals, parentheses,
//! `if`/`else if`/`else`, `range` (maps in key order), `with`, and the functions Prometheus
//! gives alert templates (`humanize`, `humanize1024`, `humanizePercentage`,
//! `humanizeDuration`, `title`, `toUpper`, `toLower`, `match`, `reReplaceAll`, `stripPort`,
//! `printf`, comparisons, `and`/`or`/`not`, `len`, `index`). Values print as Go prints them.
//! Functions that query data (`query`, `first`, `label`, `value`) are not there yet: a template
//! that names one is refused when parsed, as Go refuses an undefined function.

mod alert;
mod ast;
mod exec;
mod format;
mod parse;
mod value;

pub use alert::{expand_alert, Template};
pub use format::{go_float, humanize, humanize_1024, humanize_duration, humanize_percentage};
pub use value::Value;
