//! The text outside `{ }` read into a loose tree: one operator-precedence parser for spanset
//! operators, pipes, scalar filters and metrics arithmetic alike, since all share Tempo's
//! precedence levels. [`super::convert`] decides what each part is.

use super::cursor::{Parser, MAX_NESTING};
use super::field::{LEVEL_ADD, LEVEL_COMPARE, LEVEL_LOGICAL, LEVEL_MUL, LEVEL_POW};
use crate::ast::{
    Aggregate, AggregateOp, Field, FieldExpr, Hint, MetricsAggregate, MetricsFunction, Static,
};
use crate::error::Result;
use crate::lex::{Pos, Tok};

/// A part of a query outside `{ }`, with where it starts and how deep its tree is.
#[derive(Debug)]
pub(super) struct Node {
    pub(super) kind: NodeKind,
    pub(super) pos: Pos,
    pub(super) depth: usize,
}

#[derive(Debug)]
pub(super) enum NodeKind {
    /// `{ expr }`
    Filter(FieldExpr),
    /// `( node )`
    Paren(Box<Node>),
    /// `a | b | c`
    Pipe(Vec<Node>),
    /// `a op b`, with where the operator is.
    Binary(TopOp, Pos, Box<Node>, Box<Node>),
    /// `count()`, `max(x)` …
    Aggregate(Aggregate),
    /// `by(expr)`
    GroupBy(FieldExpr),
    /// `select(a, b)`
    Select(Vec<Field>),
    /// `coalesce()`
    Coalesce,
    /// `rate() by (a)` …
    Metrics(MetricsAggregate),
    /// `topk(n)`
    TopK(i64),
    /// `bottomk(n)`
    BottomK(i64),
    /// An integer, float or duration, negative when written `-1`.
    Number(Static),
    /// Any other value (`"a"`, `true`, `ok` …).
    Static(Static),
}

/// An operator outside `{ }`. `>`, `<` and `!~` are structural or comparisons by what they join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TopOp {
    And,
    Or,
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    Re,
    NotRe,
    Desc,
    Ance,
    Tilde,
    NotChild,
    NotParent,
    NotDesc,
    NotAnce,
    UnionChild,
    UnionParent,
    UnionDesc,
    UnionAnce,
    UnionSibl,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
}

impl TopOp {
    fn from_tok(tok: &Tok) -> Option<TopOp> {
        let Tok::Sym(s) = tok else { return None };
        Some(match *s {
            "&&" => TopOp::And,
            "||" => TopOp::Or,
            "=" => TopOp::Eq,
            "!=" => TopOp::Neq,
            "<" => TopOp::Lt,
            "<=" => TopOp::Lte,
            ">" => TopOp::Gt,
            ">=" => TopOp::Gte,
            "=~" => TopOp::Re,
            "!~" => TopOp::NotRe,
            ">>" => TopOp::Desc,
            "<<" => TopOp::Ance,
            "~" => TopOp::Tilde,
            "!>" => TopOp::NotChild,
            "!<" => TopOp::NotParent,
            "!>>" => TopOp::NotDesc,
            "!<<" => TopOp::NotAnce,
            "&>" => TopOp::UnionChild,
            "&<" => TopOp::UnionParent,
            "&>>" => TopOp::UnionDesc,
            "&<<" => TopOp::UnionAnce,
            "&~" => TopOp::UnionSibl,
            "+" => TopOp::Add,
            "-" => TopOp::Sub,
            "*" => TopOp::Mul,
            "/" => TopOp::Div,
            "%" => TopOp::Mod,
            "^" => TopOp::Pow,
            _ => return None,
        })
    }

    fn level(self) -> u8 {
        match self {
            TopOp::And | TopOp::Or => LEVEL_LOGICAL,
            TopOp::Add | TopOp::Sub => LEVEL_ADD,
            TopOp::Mul | TopOp::Div | TopOp::Mod => LEVEL_MUL,
            TopOp::Pow => LEVEL_POW,
            _ => LEVEL_COMPARE,
        }
    }
}

/// The pipe's level: below every other operator.
const LEVEL_PIPE: u8 = 1;

/// An operator outside `{ }` waiting for its operands; `None` is the pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Paren(Pos),
    Binary(Option<TopOp>, Pos),
}

fn pending_level(op: Option<TopOp>) -> u8 {
    op.map_or(LEVEL_PIPE, TopOp::level)
}

impl Parser {
    /// The query outside `{ }`, read without recursion like [`Parser::field`]. A `)` with no
    /// `(` of its own, or a token that is no operator, ends it.
    pub(super) fn top(&mut self) -> Result<Node> {
        let mut operands: Vec<Node> = Vec::new();
        let mut ops: Vec<Pending> = Vec::new();
        let mut open = 0usize;
        loop {
            while self.is("(") {
                let pos = self.next().pos;
                if ops.len() >= MAX_NESTING {
                    return Err(self.too_deep(pos));
                }
                ops.push(Pending::Paren(pos));
                open += 1;
            }
            operands.push(self.top_operand()?);
            loop {
                let op = if self.is("|") {
                    Some(None)
                } else {
                    TopOp::from_tok(&self.peek().tok).map(Some)
                };
                if let Some(op) = op {
                    let l = pending_level(op);
                    while let Some(Pending::Binary(top, _)) = ops.last() {
                        let t = pending_level(*top);
                        if t < l || (t == l && op == Some(TopOp::Pow)) {
                            break;
                        }
                        self.reduce_top(&mut operands, &mut ops)?;
                    }
                    let pos = self.next().pos;
                    if ops.len() >= MAX_NESTING {
                        return Err(self.too_deep(pos));
                    }
                    ops.push(Pending::Binary(op, pos));
                    break;
                }
                if self.is(")") && open > 0 {
                    while let Some(Pending::Binary(..)) = ops.last() {
                        self.reduce_top(&mut operands, &mut ops)?;
                    }
                    let (Some(Pending::Paren(pos)), Some(inner)) = (ops.pop(), operands.pop())
                    else {
                        return Err(self.unexpected());
                    };
                    open -= 1;
                    self.next();
                    let depth = inner.depth + 1;
                    self.check_depth(depth, pos)?;
                    operands.push(Node {
                        kind: NodeKind::Paren(Box::new(inner)),
                        pos,
                        depth,
                    });
                    continue;
                }
                while let Some(op) = ops.last() {
                    if let Pending::Paren(_) = op {
                        return Err(self.expecting(")"));
                    }
                    self.reduce_top(&mut operands, &mut ops)?;
                }
                return operands.pop().ok_or_else(|| self.unexpected());
            }
        }
    }

    /// Applies the operator on top of `ops` to the two operands on top of `operands`.
    fn reduce_top(&self, operands: &mut Vec<Node>, ops: &mut Vec<Pending>) -> Result<()> {
        let (Some(Pending::Binary(op, op_pos)), Some(rhs), Some(lhs)) =
            (ops.pop(), operands.pop(), operands.pop())
        else {
            return Err(self.unexpected());
        };
        let pos = lhs.pos;
        // A pipeline's length does not deepen the tree.
        let depth = match (op, &lhs.kind) {
            (None, NodeKind::Pipe(_)) => lhs.depth.max(rhs.depth + 1),
            _ => lhs.depth.max(rhs.depth) + 1,
        };
        self.check_depth(depth, op_pos)?;
        let kind = match (op, lhs.kind) {
            (None, NodeKind::Pipe(mut items)) => {
                items.push(rhs);
                NodeKind::Pipe(items)
            }
            (None, kind) => NodeKind::Pipe(vec![Node { kind, ..lhs }, rhs]),
            (Some(op), kind) => {
                NodeKind::Binary(op, op_pos, Box::new(Node { kind, ..lhs }), Box::new(rhs))
            }
        };
        operands.push(Node { kind, pos, depth });
        Ok(())
    }

    fn top_operand(&mut self) -> Result<Node> {
        let pos = self.pos();
        let leaf = |kind| Node {
            kind,
            pos,
            depth: 1,
        };
        if self.eat("{") {
            // `{}` is as deep as `{ true }`, which it prints as.
            let (expr, depth) = if self.is("}") {
                (FieldExpr::Static(Static::Bool(true)), 1)
            } else {
                self.field()?
            };
            self.expect("}")?;
            return Ok(Node {
                kind: NodeKind::Filter(expr),
                pos,
                depth: depth + 1,
            });
        }
        if self.is("-") {
            let negated = match self.peek_at(1) {
                Tok::Int(n) => Static::Int(-n),
                Tok::Float(f) => Static::Float(-f),
                Tok::Duration(d) => Static::Duration(-d),
                _ => {
                    self.next();
                    return Err(self.unexpected());
                }
            };
            self.next();
            self.next();
            return Ok(leaf(NodeKind::Number(negated)));
        }
        if let Some(s) = self.static_value() {
            let kind = match s {
                Static::Int(_) | Static::Float(_) | Static::Duration(_) => NodeKind::Number(s),
                s => NodeKind::Static(s),
            };
            return Ok(leaf(kind));
        }
        let Tok::Word(word) = self.peek().tok else {
            return Err(self.unexpected());
        };
        let kind = match word {
            "count" | "avg" | "max" | "min" | "sum" => {
                let (aggregate, depth) = self.aggregate(word)?;
                return Ok(Node {
                    kind: NodeKind::Aggregate(aggregate),
                    pos,
                    depth,
                });
            }
            "by" => {
                self.next();
                self.expect("(")?;
                let (expr, depth) = self.field()?;
                self.expect(")")?;
                return Ok(Node {
                    kind: NodeKind::GroupBy(expr),
                    pos,
                    depth: depth + 1,
                });
            }
            "select" => {
                self.next();
                self.expect("(")?;
                let fields = self.field_refs()?;
                self.expect(")")?;
                NodeKind::Select(fields)
            }
            "coalesce" => {
                self.next();
                self.expect("(")?;
                self.expect(")")?;
                NodeKind::Coalesce
            }
            "topk" | "bottomk" => {
                self.next();
                self.expect("(")?;
                let n = self.int()?;
                self.expect(")")?;
                if word == "topk" {
                    NodeKind::TopK(n)
                } else {
                    NodeKind::BottomK(n)
                }
            }
            _ => {
                let Some((function, depth)) = self.metrics_function(word)? else {
                    return Err(self.unexpected());
                };
                let by =
                    if self.is_word("by") && !matches!(function, MetricsFunction::Compare { .. }) {
                        self.next();
                        self.expect("(")?;
                        let by = self.field_refs()?;
                        self.expect(")")?;
                        by
                    } else {
                        Vec::new()
                    };
                return Ok(Node {
                    kind: NodeKind::Metrics(MetricsAggregate { function, by }),
                    pos,
                    depth,
                });
            }
        };
        Ok(leaf(kind))
    }

    /// `count()`, or `avg|max|min|sum(expr)`.
    fn aggregate(&mut self, word: &str) -> Result<(Aggregate, usize)> {
        self.next();
        self.expect("(")?;
        let op = match word {
            "count" => {
                self.expect(")")?;
                let count = Aggregate {
                    op: AggregateOp::Count,
                    expr: None,
                };
                return Ok((count, 1));
            }
            "avg" => AggregateOp::Avg,
            "max" => AggregateOp::Max,
            "min" => AggregateOp::Min,
            _ => AggregateOp::Sum,
        };
        let (expr, depth) = self.field()?;
        self.expect(")")?;
        let aggregate = Aggregate {
            op,
            expr: Some(expr),
        };
        Ok((aggregate, depth + 1))
    }

    /// A metrics function named `word` with its arguments, and its tree's depth; `None` when
    /// `word` names none.
    fn metrics_function(&mut self, word: &str) -> Result<Option<(MetricsFunction, usize)>> {
        let field_arg: Option<fn(Field) -> MetricsFunction> = match word {
            "min_over_time" => Some(MetricsFunction::MinOverTime),
            "max_over_time" => Some(MetricsFunction::MaxOverTime),
            "avg_over_time" => Some(MetricsFunction::AvgOverTime),
            "sum_over_time" => Some(MetricsFunction::SumOverTime),
            "histogram_over_time" => Some(MetricsFunction::HistogramOverTime),
            _ => None,
        };
        let known = field_arg.is_some()
            || matches!(
                word,
                "rate" | "count_over_time" | "quantile_over_time" | "compare"
            );
        if !known {
            return Ok(None);
        }
        self.next();
        self.expect("(")?;
        let mut depth = 1;
        let function = if let Some(make) = field_arg {
            make(self.field_ref()?)
        } else {
            match word {
                "rate" => MetricsFunction::Rate,
                "count_over_time" => MetricsFunction::CountOverTime,
                "quantile_over_time" => {
                    let field = self.field_ref()?;
                    let mut quantiles = Vec::new();
                    self.expect(",")?;
                    loop {
                        match self.peek().tok {
                            Tok::Int(n) => quantiles.push(n as f64),
                            Tok::Float(f) => quantiles.push(f),
                            _ => return Err(self.unexpected()),
                        }
                        self.next();
                        if !self.eat(",") {
                            break;
                        }
                    }
                    MetricsFunction::QuantileOverTime { field, quantiles }
                }
                _ => {
                    self.expect("{")?;
                    let selection = if self.is("}") {
                        depth = 2;
                        FieldExpr::Static(Static::Bool(true))
                    } else {
                        let (expr, d) = self.field()?;
                        depth = d + 1;
                        expr
                    };
                    self.expect("}")?;
                    let (mut top_n, mut window) = (None, None);
                    if self.eat(",") {
                        top_n = Some(self.int()?);
                        if self.eat(",") {
                            let start = self.int()?;
                            self.expect(",")?;
                            window = Some((start, self.int()?));
                        }
                    }
                    MetricsFunction::Compare {
                        selection,
                        top_n,
                        window,
                    }
                }
            }
        };
        self.expect(")")?;
        Ok(Some((function, depth)))
    }

    /// `with(name=value, …)`.
    pub(super) fn hints(&mut self) -> Result<Vec<Hint>> {
        self.next();
        self.expect("(")?;
        let mut hints = Vec::new();
        loop {
            let t = self.next();
            let name = match t.tok {
                Tok::Ident(name) => name,
                other => {
                    return Err(t.pos.error(format!(
                        "syntax error: unexpected {}, expecting a hint name",
                        other.describe()
                    )))
                }
            };
            self.expect("=")?;
            let Some(value) = self.static_value() else {
                return Err(self.unexpected());
            };
            hints.push(Hint { name, value });
            if !self.eat(",") {
                break;
            }
        }
        self.expect(")")?;
        Ok(hints)
    }
}
