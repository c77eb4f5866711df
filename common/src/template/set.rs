//! Named templates, as Alertmanager loads them from its `templates` files: every `define` of
//! every file added, a later definition of a name replacing an earlier one; texts of a
//! configuration (a Slack title, an email body) rendered against them. Reading the files is the
//! caller's.

use super::ast::Defs;
use super::exec::{render_with, NativeFn};
use super::parse::{parse, Dialect};
use super::value::Value;

/// The templates of an Alertmanager configuration.
#[derive(Debug, Clone, Default)]
pub struct TemplateSet {
    /// The files read, with their text (what two sets compare by).
    sources: Vec<(String, String)>,
    defs: Defs,
}

impl PartialEq for TemplateSet {
    fn eq(&self, other: &Self) -> bool {
        self.sources == other.sources
    }
}

impl TemplateSet {
    /// Adds the templates `text` (file `name`) defines.
    pub fn add(&mut self, name: &str, text: &str) -> Result<(), String> {
        let (_, defs) = parse(name, text, Dialect::Alertmanager)
            .map_err(|(line, e)| format!("template: {name}:{line}: {e}"))?;
        self.defs.extend(defs);
        self.sources.push((name.to_string(), text.to_string()));
        Ok(())
    }

    /// Whether a template `name` is defined.
    pub fn defines(&self, name: &str) -> bool {
        self.defs.contains_key(name)
    }

    /// Renders `text` (itself a template, which may define more) with `data` as `.`; a
    /// `template` call names a defined template or, failing that, one `native` renders.
    pub fn render(
        &self,
        text: &str,
        data: &Value,
        native: Option<&NativeFn<'_>>,
    ) -> Result<String, String> {
        if !text.contains("{{") {
            return Ok(text.to_string());
        }
        let (nodes, own) = parse("", text, Dialect::Alertmanager)
            .map_err(|(line, e)| format!("template: :{line}: {e}"))?;
        render_with(&nodes, data, &[], None, &[&own, &self.defs], native)
            .map_err(|e| format!("template: executing: {e}"))
    }
}
