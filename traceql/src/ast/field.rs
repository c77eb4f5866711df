//! What a spanset filter `{ … }` holds: expressions over one span's fields and static values.

/// An expression evaluated against one span: the body of `{ … }`, the argument of an
/// aggregate (`max(duration)`) and of a grouping (`by(.a)`).
#[derive(Debug, Clone, PartialEq)]
pub enum FieldExpr {
    /// A value written in the query.
    Static(Static),
    /// An intrinsic or an attribute of the span.
    Field(Field),
    /// `-x` or `!x`.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        expr: Box<FieldExpr>,
    },
    /// `lhs op rhs`.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// The left operand.
        lhs: Box<FieldExpr>,
        /// The right operand.
        rhs: Box<FieldExpr>,
    },
}

/// A prefix operator of field expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-`: negation of a number or duration.
    Neg,
    /// `!`: negation of a boolean.
    Not,
}

/// A binary operator of field expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
    /// `=`
    Eq,
    /// `!=`
    Neq,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `=~`: the left side matches the regular expression on the right.
    Re,
    /// `!~`: the left side does not match the regular expression on the right.
    NotRe,
    /// `&&`
    And,
    /// `||`
    Or,
}

impl BinaryOp {
    /// Whether the operator yields a boolean (comparisons, regular expressions, `&&`, `||`)
    /// rather than a value of its operands' type.
    pub fn is_boolean(self) -> bool {
        !matches!(
            self,
            BinaryOp::Add
                | BinaryOp::Sub
                | BinaryOp::Mul
                | BinaryOp::Div
                | BinaryOp::Mod
                | BinaryOp::Pow
        )
    }
}

/// Something a span carries: an intrinsic or an attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// A built-in property (`duration`, `span:id`, `trace:rootService` …).
    Intrinsic(Intrinsic),
    /// A key–value attribute (`.http.method`, `resource.service.name` …).
    Attribute(Attribute),
}

/// An attribute reference: `.name` (any scope), `span.name`, `resource.name`, `event.name`,
/// `link.name`, `instrumentation.name`, and `parent.`-prefixed forms (`parent.name`,
/// `parent.span.name`, `parent.resource.name`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Attribute {
    /// Where to look the name up; [`Scope::None`] (`.name`) looks in the span's and then the
    /// resource's attributes.
    pub scope: Scope,
    /// Whether the attribute is the parent span's (`parent.…`; not yet supported by Tempo).
    pub parent: bool,
    /// The attribute key, dots and all (`http.status_code`), quotes and escapes removed.
    pub name: String,
}

/// Where an attribute is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `.name`: the span's attributes, then the resource's.
    None,
    /// `span.name`
    Span,
    /// `resource.name`
    Resource,
    /// `event.name`: any of the span's events.
    Event,
    /// `link.name`: any of the span's links.
    Link,
    /// `instrumentation.name`: the instrumentation scope.
    Instrumentation,
}

/// A built-in property of a span, its trace, event, link or instrumentation scope. Each has
/// one variant however it is spelled (`name` and `span:name` are both [`Intrinsic::Name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Intrinsic {
    /// `duration`, `span:duration`: the span's duration.
    Duration,
    /// `name`, `span:name`
    Name,
    /// `status`, `span:status`
    Status,
    /// `statusMessage`, `span:statusMessage`
    StatusMessage,
    /// `kind`, `span:kind`
    Kind,
    /// `childCount`, `span:childCount`: the number of direct children.
    ChildCount,
    /// `parent`: the parent span (not yet supported by Tempo).
    Parent,
    /// `rootName`, `trace:rootName`: the name of the trace's root span.
    TraceRootSpan,
    /// `rootServiceName`, `trace:rootService`: the service of the trace's root span.
    TraceRootService,
    /// `traceDuration`, `trace:duration`
    TraceDuration,
    /// `trace:id`
    TraceId,
    /// `span:id`
    SpanId,
    /// `span:parentID`
    ParentId,
    /// `nestedSetLeft`: the span's left number in the trace's nested set (Tempo-internal).
    NestedSetLeft,
    /// `nestedSetRight`
    NestedSetRight,
    /// `nestedSetParent`: the parent's left number (-1 for a root span).
    NestedSetParent,
    /// `event:name`
    EventName,
    /// `event:timeSinceStart`: how long after the span's start an event happened.
    EventTimeSinceStart,
    /// `link:traceID`
    LinkTraceId,
    /// `link:spanID`
    LinkSpanId,
    /// `instrumentation:name`
    InstrumentationName,
    /// `instrumentation:version`
    InstrumentationVersion,
}

impl Intrinsic {
    /// The name the printer writes (the unscoped spelling where there is one).
    pub fn as_str(self) -> &'static str {
        match self {
            Intrinsic::Duration => "duration",
            Intrinsic::Name => "name",
            Intrinsic::Status => "status",
            Intrinsic::StatusMessage => "statusMessage",
            Intrinsic::Kind => "kind",
            Intrinsic::ChildCount => "childCount",
            Intrinsic::Parent => "parent",
            Intrinsic::TraceRootSpan => "rootName",
            Intrinsic::TraceRootService => "rootServiceName",
            Intrinsic::TraceDuration => "traceDuration",
            Intrinsic::TraceId => "trace:id",
            Intrinsic::SpanId => "span:id",
            Intrinsic::ParentId => "span:parentID",
            Intrinsic::NestedSetLeft => "nestedSetLeft",
            Intrinsic::NestedSetRight => "nestedSetRight",
            Intrinsic::NestedSetParent => "nestedSetParent",
            Intrinsic::EventName => "event:name",
            Intrinsic::EventTimeSinceStart => "event:timeSinceStart",
            Intrinsic::LinkTraceId => "link:traceID",
            Intrinsic::LinkSpanId => "link:spanID",
            Intrinsic::InstrumentationName => "instrumentation:name",
            Intrinsic::InstrumentationVersion => "instrumentation:version",
        }
    }

    /// The intrinsic an unscoped word names (`name`, `traceDuration` …).
    pub(crate) fn unscoped(word: &str) -> Option<Intrinsic> {
        Some(match word {
            "duration" => Intrinsic::Duration,
            "name" => Intrinsic::Name,
            "status" => Intrinsic::Status,
            "statusMessage" => Intrinsic::StatusMessage,
            "kind" => Intrinsic::Kind,
            "childCount" => Intrinsic::ChildCount,
            "parent" => Intrinsic::Parent,
            "rootName" => Intrinsic::TraceRootSpan,
            "rootServiceName" => Intrinsic::TraceRootService,
            "traceDuration" => Intrinsic::TraceDuration,
            "nestedSetLeft" => Intrinsic::NestedSetLeft,
            "nestedSetRight" => Intrinsic::NestedSetRight,
            "nestedSetParent" => Intrinsic::NestedSetParent,
            _ => return None,
        })
    }

    /// The intrinsic `scope:word` names (`span:id`, `trace:rootService` …).
    pub(crate) fn scoped(scope: &str, word: &str) -> Option<Intrinsic> {
        Some(match (scope, word) {
            ("trace", "duration") => Intrinsic::TraceDuration,
            ("trace", "rootName") => Intrinsic::TraceRootSpan,
            ("trace", "rootService") => Intrinsic::TraceRootService,
            ("trace", "id") => Intrinsic::TraceId,
            ("span", "duration") => Intrinsic::Duration,
            ("span", "name") => Intrinsic::Name,
            ("span", "kind") => Intrinsic::Kind,
            ("span", "status") => Intrinsic::Status,
            ("span", "statusMessage") => Intrinsic::StatusMessage,
            ("span", "id") => Intrinsic::SpanId,
            ("span", "parentID") => Intrinsic::ParentId,
            ("span", "childCount") => Intrinsic::ChildCount,
            ("event", "name") => Intrinsic::EventName,
            ("event", "timeSinceStart") => Intrinsic::EventTimeSinceStart,
            ("link", "traceID") => Intrinsic::LinkTraceId,
            ("link", "spanID") => Intrinsic::LinkSpanId,
            ("instrumentation", "name") => Intrinsic::InstrumentationName,
            ("instrumentation", "version") => Intrinsic::InstrumentationVersion,
            _ => return None,
        })
    }

    /// The type of the intrinsic's values ([`StaticType::Nil`] for `parent`).
    pub fn value_type(self) -> StaticType {
        match self {
            Intrinsic::Duration | Intrinsic::TraceDuration | Intrinsic::EventTimeSinceStart => {
                StaticType::Duration
            }
            Intrinsic::Status => StaticType::Status,
            Intrinsic::Kind => StaticType::Kind,
            Intrinsic::ChildCount
            | Intrinsic::NestedSetLeft
            | Intrinsic::NestedSetRight
            | Intrinsic::NestedSetParent => StaticType::Int,
            Intrinsic::Parent => StaticType::Nil,
            Intrinsic::Name
            | Intrinsic::StatusMessage
            | Intrinsic::TraceRootSpan
            | Intrinsic::TraceRootService
            | Intrinsic::TraceId
            | Intrinsic::SpanId
            | Intrinsic::ParentId
            | Intrinsic::EventName
            | Intrinsic::LinkTraceId
            | Intrinsic::LinkSpanId
            | Intrinsic::InstrumentationName
            | Intrinsic::InstrumentationVersion => StaticType::String,
        }
    }
}

/// A value written in a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Static {
    /// `nil`: the absence of a value.
    Nil,
    /// `true`, `false`
    Bool(bool),
    /// An integer (`42`).
    Int(i64),
    /// A number with a fraction or exponent (`1.5`, `1e3`).
    Float(f64),
    /// A string (`"a\tb"` or `` `raw` ``), unquoted.
    Str(String),
    /// A duration in nanoseconds (`1s`, `1.5ms`, `1h30m`, `2d`).
    Duration(i64),
    /// `ok`, `error`, `unset`
    Status(Status),
    /// `unspecified`, `internal`, `server`, `client`, `producer`, `consumer`
    Kind(Kind),
}

impl Static {
    /// The value's type.
    pub fn value_type(&self) -> StaticType {
        match self {
            Static::Nil => StaticType::Nil,
            Static::Bool(_) => StaticType::Boolean,
            Static::Int(_) => StaticType::Int,
            Static::Float(_) => StaticType::Float,
            Static::Str(_) => StaticType::String,
            Static::Duration(_) => StaticType::Duration,
            Static::Status(_) => StaticType::Status,
            Static::Kind(_) => StaticType::Kind,
        }
    }

    /// The value a status or kind keyword, `true`, `false` or `nil` stands for.
    pub(crate) fn keyword(word: &str) -> Option<Static> {
        Some(match word {
            "nil" => Static::Nil,
            "true" => Static::Bool(true),
            "false" => Static::Bool(false),
            "ok" => Static::Status(Status::Ok),
            "error" => Static::Status(Status::Error),
            "unset" => Static::Status(Status::Unset),
            "unspecified" => Static::Kind(Kind::Unspecified),
            "internal" => Static::Kind(Kind::Internal),
            "server" => Static::Kind(Kind::Server),
            "client" => Static::Kind(Kind::Client),
            "producer" => Static::Kind(Kind::Producer),
            "consumer" => Static::Kind(Kind::Consumer),
            _ => return None,
        })
    }
}

/// A span's status (`unset` by default, as in OTLP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Status {
    /// `error`
    Error,
    /// `ok`
    Ok,
    /// `unset`
    #[default]
    Unset,
}

/// A span's kind (`unspecified` by default, as in OTLP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Kind {
    /// `unspecified`
    #[default]
    Unspecified,
    /// `internal`
    Internal,
    /// `client`
    Client,
    /// `server`
    Server,
    /// `producer`
    Producer,
    /// `consumer`
    Consumer,
}

/// The type of a value or expression, as far as the query alone tells: attributes are
/// [`StaticType::Attribute`] (known only per span), which matches every other type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StaticType {
    /// `nil`, and the `parent` intrinsic.
    Nil,
    /// Integers.
    Int,
    /// Floating-point numbers.
    Float,
    /// Strings.
    String,
    /// Booleans.
    Boolean,
    /// Durations.
    Duration,
    /// Span statuses.
    Status,
    /// Span kinds.
    Kind,
    /// An attribute's value, whose type is known only per span.
    Attribute,
}

impl StaticType {
    /// Integers, floats and durations, which mix in arithmetic and comparisons.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            StaticType::Int | StaticType::Float | StaticType::Duration
        )
    }
}
