//! Reading a rule file: YAML decoded, then validated.

use super::model::{ParseOptions, RuleFile};
use super::{validate, yaml};

/// Reads a rule file's text. `Err` holds every error found, each worded as Prometheus words it
/// (without the file name, which [`parse_file`] puts in front).
pub fn parse(text: &str, options: ParseOptions) -> Result<RuleFile, Vec<String>> {
    let file = yaml::decode(text, options.ignore_unknown_fields).map_err(|e| vec![e])?;
    let errors = validate::validate(&file, options.names);
    if errors.is_empty() {
        Ok(file)
    } else {
        Err(errors)
    }
}

/// Reads the rule file at `path`; each error is prefixed by the path, as Prometheus prints it.
pub fn parse_file(path: &std::path::Path, options: ParseOptions) -> Result<RuleFile, Vec<String>> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| vec![format!("{shown}: {e}")])?;
    parse(&text, options).map_err(|errors| {
        errors
            .into_iter()
            .map(|e| format!("{shown}: {e}"))
            .collect()
    })
}
