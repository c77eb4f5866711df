//! Lets SQL compare binary trace and span ids with hex strings: `trace_id = '4bf9...'`.
//!
//! Ids are stored as `FixedSizeBinary(16)` / `FixedSizeBinary(8)`, but people paste them as the
//! hex text every tracing UI shows. Before type coercion gets a chance to cast (and fail), this
//! analyzer rule turns each string literal compared with a fixed-size binary expression (in
//! `=`, `!=`, `<`, ..., `IS [NOT] DISTINCT FROM` with the literal on either side, and in
//! `[NOT] IN (...)`) into the binary literal it spells, in either hex case. A literal that is
//! not hex of the right length is a planning error naming the column.

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{plan_err, DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::InList;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, LogicalPlan, Operator};
use datafusion::optimizer::AnalyzerRule;

/// Rewrites hex string literals compared with id columns into binary literals.
#[derive(Debug, Default)]
pub(crate) struct IdLiteralRule;

impl AnalyzerRule for IdLiteralRule {
    fn name(&self) -> &str {
        "vigil_id_literals"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(rewrite_plan).data()
    }
}

fn rewrite_plan(plan: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    // Expressions of a node read the columns of its inputs (or, for a scan, of its table).
    let mut schema = merge_schema(&plan.inputs());
    if let LogicalPlan::TableScan(scan) = &plan {
        schema.merge(&DFSchema::try_from_qualified_schema(
            scan.table_name.clone(),
            &scan.source.schema(),
        )?);
    }
    let names = NamePreserver::new(&plan);
    let rewritten = plan.map_expressions(|expr| {
        let name = names.save(&expr);
        let rewritten = expr.transform_up(|e| rewrite_expr(e, &schema))?;
        Ok(if rewritten.transformed {
            rewritten.update_data(|e| name.restore(e))
        } else {
            rewritten
        })
    })?;
    if rewritten.transformed {
        rewritten.map_data(|plan| plan.recompute_schema())
    } else {
        Ok(rewritten)
    }
}

fn rewrite_expr(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if is_comparison(op) => {
            if let (Some(width), Some(text)) = (id_width(&left, schema), utf8_literal(&right)) {
                let right = id_literal(&left, text, width)?;
                return Ok(Transformed::yes(binary(*left, op, right)));
            }
            if let (Some(text), Some(width)) = (utf8_literal(&left), id_width(&right, schema)) {
                let left = id_literal(&right, text, width)?;
                return Ok(Transformed::yes(binary(left, op, *right)));
            }
            Ok(Transformed::no(Expr::BinaryExpr(BinaryExpr {
                left,
                op,
                right,
            })))
        }
        Expr::InList(InList {
            expr,
            list,
            negated,
        }) => {
            let Some(width) = id_width(&expr, schema) else {
                return Ok(Transformed::no(Expr::InList(InList {
                    expr,
                    list,
                    negated,
                })));
            };
            let mut changed = false;
            let list = list
                .into_iter()
                .map(|item| match utf8_literal(&item) {
                    Some(text) => {
                        changed = true;
                        id_literal(&expr, text, width)
                    }
                    None => Ok(item),
                })
                .collect::<Result<Vec<_>>>()?;
            let in_list = Expr::InList(InList {
                expr,
                list,
                negated,
            });
            Ok(if changed {
                Transformed::yes(in_list)
            } else {
                Transformed::no(in_list)
            })
        }
        other => Ok(Transformed::no(other)),
    }
}

fn is_comparison(op: Operator) -> bool {
    matches!(
        op,
        Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq
            | Operator::IsDistinctFrom
            | Operator::IsNotDistinctFrom
    )
}

fn binary(left: Expr, op: Operator, right: Expr) -> Expr {
    Expr::BinaryExpr(BinaryExpr::new(Box::new(left), op, Box::new(right)))
}

/// The byte width of `expr` when it is a fixed-size binary value other than a literal.
fn id_width(expr: &Expr, schema: &DFSchema) -> Option<i32> {
    let data_type = match expr {
        Expr::Literal(..) => return None,
        Expr::OuterReferenceColumn(field, _) => field.data_type().clone(),
        other => other.get_type(schema).ok()?,
    };
    match data_type {
        DataType::FixedSizeBinary(width) => Some(width),
        _ => None,
    }
}

fn utf8_literal(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Literal(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)),
            _,
        ) => Some(s),
        _ => None,
    }
}

/// The binary literal `text` spells for a comparison with `column`.
fn id_literal(column: &Expr, text: &str, width: i32) -> Result<Expr> {
    let bytes = hex::decode(text)
        .ok()
        .filter(|b| b.len() as i64 == i64::from(width));
    match bytes {
        Some(bytes) => Ok(Expr::Literal(
            ScalarValue::FixedSizeBinary(width, Some(bytes)),
            None,
        )),
        None => {
            let name = match column {
                Expr::Column(c) | Expr::OuterReferenceColumn(_, c) => c.name.clone(),
                other => other.schema_name().to_string(),
            };
            plan_err!(
                "invalid value '{text}' for {name}: expected {} hex digits (a {width}-byte id)",
                i64::from(width) * 2
            )
        }
    }
}

/// The analyzer rules of a Vigil session: this rule, then DataFusion's defaults (which end with
/// type coercion).
pub(crate) fn analyzer_rules() -> Vec<Arc<dyn AnalyzerRule + Send + Sync>> {
    let mut rules: Vec<Arc<dyn AnalyzerRule + Send + Sync>> = vec![Arc::new(IdLiteralRule)];
    rules.extend(datafusion::optimizer::Analyzer::new().rules);
    rules
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{Field, Schema};
    use datafusion::logical_expr::{col, lit, LogicalPlanBuilder};

    use super::*;

    const ID: &str = "4BF92F3577B34DA6A3CE929D0E0E4736";

    fn scan() -> LogicalPlanBuilder {
        let schema = Schema::new(vec![
            Field::new("trace_id", DataType::FixedSizeBinary(16), false),
            Field::new("span_id", DataType::FixedSizeBinary(8), true),
            Field::new("name", DataType::Utf8, false),
        ]);
        datafusion::logical_expr::table_scan(Some("spans"), &schema, None).unwrap()
    }

    fn analyze(plan: LogicalPlan) -> Result<String> {
        Ok(IdLiteralRule
            .analyze(plan, &ConfigOptions::default())?
            .to_string())
    }

    /// How a binary literal of `hex` prints in a plan.
    fn printed(width: usize, hex: &str) -> String {
        let bytes: Vec<String> = hex::decode(hex)
            .unwrap()
            .iter()
            .map(u8::to_string)
            .collect();
        format!("FixedSizeBinary({width}, \"{}\")", bytes.join(","))
    }

    #[test]
    fn string_literals_become_binary_on_either_side() {
        let span = "00F067aa0ba902b7";
        let plan = scan()
            .filter(
                col("trace_id")
                    .eq(lit(ID))
                    .and(lit(span).not_eq(col("span_id"))),
            )
            .unwrap()
            .build()
            .unwrap();
        let text = analyze(plan).unwrap();
        assert!(
            text.contains(&format!("spans.trace_id = {}", printed(16, ID))),
            "{text}"
        );
        assert!(
            text.contains(&format!("{} != spans.span_id", printed(8, span))),
            "{text}"
        );
        assert!(!text.contains("Utf8"), "{text}");
    }

    #[test]
    fn in_lists_are_rewritten_and_names_preserved() {
        let plan = scan()
            .project(vec![
                col("trace_id").in_list(vec![lit(ID), lit(ID.to_lowercase())], false)
            ])
            .unwrap()
            .build()
            .unwrap();
        let before = plan.schema().field(0).name().clone();
        let after = IdLiteralRule
            .analyze(plan, &ConfigOptions::default())
            .unwrap();
        assert_eq!(after.schema().field(0).name(), &before);
        let text = after.to_string();
        let literal = printed(16, ID);
        assert!(
            text.contains(&format!("spans.trace_id IN ([{literal}, {literal}]) AS")),
            "{text}"
        );
    }

    #[test]
    fn bad_hex_names_the_column() {
        for bad in ["xyz", "4bf9", &format!("{ID}00")] {
            let plan = scan()
                .filter(col("trace_id").eq(lit(bad)))
                .unwrap()
                .build()
                .unwrap();
            let err = analyze(plan).unwrap_err().to_string();
            assert!(err.contains("trace_id"), "{err}");
            assert!(err.contains("32 hex digits"), "{err}");
        }
    }

    #[test]
    fn other_columns_are_left_alone() {
        let plan = scan()
            .filter(col("name").eq(lit("xyz")))
            .unwrap()
            .build()
            .unwrap();
        assert!(analyze(plan).unwrap().contains("Utf8(\"xyz\")"));
    }
}
