//! The state of a run over one trace, shared by the pipeline's stages (`pipeline`) and the
//! aggregating ones (`aggregate`), which add their own methods to it.

use super::model::{Attr, TraceData};
use super::tree::Tree;
use super::value::Val;
use crate::error::Error;

/// Spans of a trace (ascending indexes, never empty) and what was attached to them.
#[derive(Debug, Clone)]
pub(crate) struct Set {
    pub(crate) spans: Vec<usize>,
    pub(crate) attrs: Vec<Attr>,
}

/// Runs plans over one trace.
pub(crate) struct Runner<'a> {
    pub(crate) trace: &'a TraceData,
    pub(crate) tree: &'a Tree,
    /// Scratch space of field programs.
    pub(crate) stack: Vec<Val<'a>>,
    /// The run-time error that ended the run, if one did.
    pub(crate) error: Option<Error>,
}
