//! The parsed form of a template.

/// A piece of a template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// Text printed as it is.
    Text(String),
    /// A pipeline whose value is printed (unless it declares or assigns variables).
    Action(Pipeline),
    /// `if` (with `else if` chains folded into `otherwise`).
    If {
        cond: Pipeline,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
    /// `range`: the body once per element (maps in key order), `otherwise` when there is none.
    Range {
        pipe: Pipeline,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
    /// `with`: the body with `.` set to the value when it is true.
    With {
        pipe: Pipeline,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
    /// `template "name" pipeline` (and the call half of `block`): the named template with `.`
    /// set to the pipeline's value (nil without one).
    Template {
        name: String,
        pipe: Option<Pipeline>,
    },
}

/// Templates named by `define` (and `block`), by name.
pub(crate) type Defs = std::collections::HashMap<String, Vec<Node>>;

/// `$a, $b := cmd | cmd`, or `$a = cmd`.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Pipeline {
    /// Variables declared (`:=`) or assigned (`=`).
    pub(crate) vars: Vec<String>,
    /// Whether `vars` are declared (not assigned).
    pub(crate) declare: bool,
    /// The commands; each one's value is the last argument of the next.
    pub(crate) commands: Vec<Vec<Arg>>,
}

/// An operand of a command.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    /// `.` followed by fields (`.Labels.job`; no fields: `.` itself).
    Dot(Vec<String>),
    /// A variable followed by fields (`$labels.job`).
    Var(String, Vec<String>),
    /// A literal.
    Str(String),
    /// A number literal.
    Num(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `nil`.
    Nil,
    /// A function by name.
    Func(String),
    /// `( pipeline )` followed by fields.
    Sub(Box<Pipeline>, Vec<String>),
}
