//! A parsed template, and Prometheus's alert templates.

use std::collections::BTreeMap;

use super::ast::{Defs, Node};
use super::exec::render_with;
use super::functions::QueryFn;
use super::parse::{parse as parse_nodes, Dialect};
use super::value::Value;

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    nodes: Vec<Node>,
    defs: Defs,
}

impl Template {
    /// Parses `text` as template `name`; the error is worded as Go's
    /// (`template: NAME:LINE: …`).
    pub fn parse(name: &str, text: &str) -> Result<Template, String> {
        Self::parse_as(name, text, Dialect::Prometheus)
    }

    /// Parses `text` as template `name` of `dialect`.
    pub fn parse_as(name: &str, text: &str, dialect: Dialect) -> Result<Template, String> {
        let (nodes, defs) = parse_nodes(name, text, dialect)
            .map_err(|(line, e)| format!("template: {name}:{line}: {e}"))?;
        Ok(Template {
            name: name.to_string(),
            nodes,
            defs,
        })
    }

    /// Renders the template with `data` as `.` and `vars` defined (`$labels` and the like);
    /// `query` answers the template's `query` calls (without it they fail).
    pub fn render(
        &self,
        data: &Value,
        vars: &[(&str, Value)],
        query: Option<&QueryFn<'_>>,
    ) -> Result<String, String> {
        render_with(&self.nodes, data, vars, query, &[&self.defs], None)
            .map_err(|e| format!("template: {}: executing: {e}", self.name))
    }
}

/// Prometheus's alert template: `text` with `$labels`, `$externalLabels`, `$externalURL` and
/// `$value` defined and the same in `.` (`.Labels`, `.ExternalLabels`, `.ExternalURL`,
/// `.Value`), rendered as template `name` (`__alert_NAME`); `query` answers `query` calls.
pub fn expand_alert(
    name: &str,
    text: &str,
    labels: &BTreeMap<String, String>,
    external_labels: &BTreeMap<String, String>,
    external_url: &str,
    value: f64,
    query: Option<&QueryFn<'_>>,
) -> Result<String, String> {
    let to_map = |m: &BTreeMap<String, String>| {
        Value::labels(m.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    };
    let data = Value::Map(BTreeMap::from([
        ("Labels".to_string(), to_map(labels)),
        ("ExternalLabels".to_string(), to_map(external_labels)),
        (
            "ExternalURL".to_string(),
            Value::Str(external_url.to_string()),
        ),
        ("Value".to_string(), Value::Num(value)),
    ]));
    let vars = [
        ("$labels", to_map(labels)),
        ("$externalLabels", to_map(external_labels)),
        ("$externalURL", Value::Str(external_url.to_string())),
        ("$value", Value::Num(value)),
    ];
    Template::parse(name, text)?.render(&data, &vars, query)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::expand_alert;

    fn labels() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("instance".to_string(), "db-1:9100".to_string()),
            ("job".to_string(), "node".to_string()),
        ])
    }

    fn expand(text: &str, value: f64) -> Result<String, String> {
        let external = BTreeMap::from([("cluster".to_string(), "eu".to_string())]);
        let query = |q: &str| -> Result<crate::template::QueryResult, String> {
            match q {
                "up" => Ok(vec![
                    (
                        BTreeMap::from([("instance".to_string(), "b".to_string())]),
                        0.0,
                    ),
                    (
                        BTreeMap::from([("instance".to_string(), "a".to_string())]),
                        1.0,
                    ),
                ]),
                _ => Err(format!("unknown query {q}")),
            }
        };
        expand_alert(
            "__alert_Test",
            text,
            &labels(),
            &external,
            "http://vigil",
            value,
            Some(&query),
        )
    }

    #[test]
    fn alert_templates_render_as_prometheus_renders_them() {
        let cases = [
            ("{{ $labels.instance }} is down", 1.0, "db-1:9100 is down"),
            (
                "{{ .Labels.job }} at {{ $value | humanize }}",
                1234.0,
                "node at 1.234k",
            ),
            ("{{ humanizePercentage $value }}", 0.25, "25%"),
            ("{{ printf \"%.1f\" $value }}s", 2.25, "2.2s"),
            (
                "{{ $externalLabels.cluster }} {{ $externalURL }}",
                0.0,
                "eu http://vigil",
            ),
            (
                "{{ if gt $value 10.0 }}high{{ else if gt $value 5.0 }}mid{{ else }}low{{ end }}",
                7.0,
                "mid",
            ),
            (
                "{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}",
                0.0,
                "instance=db-1:9100;job=node;",
            ),
            (
                "{{ with $labels.job }}job {{ . }}{{ end }}",
                0.0,
                "job node",
            ),
            (
                "{{ with $labels.nope }}x{{ else }}none{{ end }}",
                0.0,
                "none",
            ),
            ("a  {{- /* comment */ -}}  b", 0.0, "ab"),
            ("{{ $x := toUpper $labels.job }}{{ $x }}", 0.0, "NODE"),
            ("{{ $labels.instance | stripPort }}", 0.0, "db-1"),
            (
                "{{ reReplaceAll \"(.*)-(.*)\" \"$2-$1\" \"a-b\" }}",
                0.0,
                "b-a",
            ),
            (
                "{{ if match \"^db\" $labels.instance }}db{{ end }}",
                0.0,
                "db",
            ),
            ("{{ $value }}", 1e6, "1e+06"),
            ("{{ $labels.missing }}", 0.0, "<no value>"),
            (
                "{{ len $labels }} {{ index $labels \"job\" }}",
                0.0,
                "2 node",
            ),
            ("{{ (printf \"%s\" $labels.job) | title }}", 0.0, "Node"),
            ("{{ with query \"up\" }}{{ . | first | value }}{{ end }}", 0.0, "0"),
            ("{{ range query \"up\" | sortByLabel \"instance\" }}{{ label \"instance\" . }}={{ .Value }} {{ end }}", 0.0, "a=1 b=0 "),
            ("{{ with query \"nothing\" }}x{{ end }}", 0.0, "ERR"),
        ];
        for (text, value, want) in cases {
            if want == "ERR" {
                assert!(expand(text, value).is_err(), "{text}");
                continue;
            }
            assert_eq!(expand(text, value).as_deref(), Ok(want), "{text}");
        }
    }

    #[test]
    fn errors_are_worded_as_go_words_them() {
        assert_eq!(
            expand("{{ $label.x }}", 0.0),
            Err("template: __alert_Test:1: undefined variable \"$label\"".to_string())
        );
        assert_eq!(
            expand("a\n{{ nosuch \"up\" }}", 0.0),
            Err("template: __alert_Test:2: function \"nosuch\" not defined".to_string())
        );
        assert_eq!(
            expand("{{ if true }}x", 0.0),
            Err("template: __alert_Test:1: unexpected EOF".to_string())
        );
        assert_eq!(
            expand("{{ .Labels", 0.0),
            Err("template: __alert_Test:1: unclosed action".to_string())
        );
        assert!(expand("{{ $x := 1 }}{{ $x }}", 0.0).is_ok());
        assert!(expand("{{ range $labels }}{{ end }}{{ $i }}", 0.0).is_err());
    }
}
