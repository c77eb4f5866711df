//! The range of the time column that a query's filters allow, used to skip whole segments from
//! the manifest's `min_time`/`max_time` before any Parquet file is opened.
//!
//! The analysis is conservative: a filter it does not understand allows every time, so a segment
//! is only skipped when no row in it can pass the filters.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Between, BinaryExpr, Cast, Expr, Operator, TryCast};

/// A closed interval `[min, max]` of the time column; `min > max` means no time passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeRange {
    /// Smallest time that may pass.
    pub(crate) min: i128,
    /// Largest time that may pass.
    pub(crate) max: i128,
}

impl TimeRange {
    /// Every time.
    pub(crate) const ALL: TimeRange = TimeRange {
        min: i64::MIN as i128,
        max: i64::MAX as i128,
    };

    /// The range allowed by all `filters` together (they are AND-ed) on column `column`.
    pub(crate) fn from_filters(column: &str, filters: &[Expr]) -> TimeRange {
        filters
            .iter()
            .fold(TimeRange::ALL, |acc, f| acc.intersect(range_of(column, f)))
    }

    /// Whether a segment whose times lie in `[min_time, max_time]` may hold a passing row.
    pub(crate) fn overlaps(&self, min_time: i64, max_time: i64) -> bool {
        !self.is_empty() && self.min <= i128::from(max_time) && i128::from(min_time) <= self.max
    }

    fn intersect(self, other: TimeRange) -> TimeRange {
        TimeRange {
            min: self.min.max(other.min),
            max: self.max.min(other.max),
        }
    }

    /// The smallest range holding both (an OR of two filters).
    fn hull(self, other: TimeRange) -> TimeRange {
        if self.is_empty() {
            other
        } else if other.is_empty() {
            self
        } else {
            TimeRange {
                min: self.min.min(other.min),
                max: self.max.max(other.max),
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.min > self.max
    }
}

/// The range one predicate allows.
fn range_of(column: &str, expr: &Expr) -> TimeRange {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => range_of(column, left).intersect(range_of(column, right)),
            Operator::Or => range_of(column, left).hull(range_of(column, right)),
            _ => comparison(column, left, *op, right).unwrap_or(TimeRange::ALL),
        },
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) => {
            let bounds = time_column_slack(column, expr)
                .and_then(|slack| Some((slack, bracket(low)?, bracket(high)?)));
            match bounds {
                Some((slack, (low, _), (_, high))) => TimeRange {
                    min: low.saturating_sub(slack),
                    max: high.saturating_add(slack),
                },
                None => TimeRange::ALL,
            }
        }
        Expr::InList(in_list) if !in_list.negated => {
            let Some(slack) = time_column_slack(column, &in_list.expr) else {
                return TimeRange::ALL;
            };
            let mut range = TimeRange { min: 1, max: 0 };
            for item in &in_list.list {
                match bracket(item) {
                    Some((lo, hi)) => {
                        range = range.hull(TimeRange {
                            min: lo.saturating_sub(slack),
                            max: hi.saturating_add(slack),
                        });
                    }
                    None => return TimeRange::ALL,
                }
            }
            range
        }
        _ => TimeRange::ALL,
    }
}

/// The range `left op right` allows when one side is the time column and the other a number.
fn comparison(column: &str, left: &Expr, op: Operator, right: &Expr) -> Option<TimeRange> {
    let (slack, (lo, hi), op) = if let Some(slack) = time_column_slack(column, left) {
        (slack, bracket(right)?, op)
    } else if let Some(slack) = time_column_slack(column, right) {
        (slack, bracket(left)?, op.swap()?)
    } else {
        return None;
    };
    // Only an integer compared with the column itself allows the strict bounds.
    let exact = slack == 0 && lo == hi;
    let all = TimeRange::ALL;
    Some(match op {
        Operator::Eq => TimeRange {
            min: lo.saturating_sub(slack),
            max: hi.saturating_add(slack),
        },
        Operator::Gt if exact => TimeRange {
            min: lo.saturating_add(1),
            ..all
        },
        Operator::Gt | Operator::GtEq => TimeRange {
            min: lo.saturating_sub(slack),
            ..all
        },
        Operator::Lt if exact => TimeRange {
            max: hi.saturating_sub(1),
            ..all
        },
        Operator::Lt | Operator::LtEq => TimeRange {
            max: hi.saturating_add(slack),
            ..all
        },
        _ => return None,
    })
}

/// When `expr` is the time column, possibly under a cast that type coercion adds (for example
/// when the literal is a `UInt64` or a `Float64`): by how much the cast value may differ from
/// the column's. `None` for anything else, including casts that do not preserve order.
fn time_column_slack(column: &str, expr: &Expr) -> Option<i128> {
    match expr {
        Expr::Column(c) => (c.name == column).then_some(0),
        Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => {
            let inner = time_column_slack(column, expr)?;
            Some(inner + cast_slack(field.data_type())?)
        }
        _ => None,
    }
}

/// How far casting any `Int64` to `t` can move it, for the casts that keep the order.
fn cast_slack(t: &DataType) -> Option<i128> {
    match t {
        DataType::Int64 => Some(0),
        DataType::Decimal128(p, 0) | DataType::Decimal256(p, 0) if *p >= 19 => Some(0),
        // Below 2^63 a double's spacing is at most 2^11, so rounding moves a value by at most
        // 2^10.
        DataType::Float64 => Some(1 << 10),
        _ => None,
    }
}

/// The integers `[floor, ceil]` around a numeric literal: the value itself for integers of any
/// type (and decimals without fraction digits), the neighbouring integers for a finite double.
fn bracket(expr: &Expr) -> Option<(i128, i128)> {
    if let Expr::Literal(ScalarValue::Float64(Some(f)), _) = expr {
        // `as` saturates, which keeps the bracket conservative for huge values.
        return f.is_finite().then(|| (f.floor() as i128, f.ceil() as i128));
    }
    int_literal(expr).map(|v| (v, v))
}

/// The value of an integer literal of any integer type (or a decimal without fraction digits).
fn int_literal(expr: &Expr) -> Option<i128> {
    match expr {
        Expr::Literal(v, _) => scalar_int(v),
        Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => {
            // A cast literal is only understood when the cast cannot change its value.
            let v = int_literal(expr)?;
            let fits = match field.data_type() {
                DataType::Int8 => i8::try_from(v).is_ok(),
                DataType::Int16 => i16::try_from(v).is_ok(),
                DataType::Int32 => i32::try_from(v).is_ok(),
                DataType::Int64 => i64::try_from(v).is_ok(),
                DataType::UInt8 => u8::try_from(v).is_ok(),
                DataType::UInt16 => u16::try_from(v).is_ok(),
                DataType::UInt32 => u32::try_from(v).is_ok(),
                DataType::UInt64 => u64::try_from(v).is_ok(),
                DataType::Decimal128(p, 0) | DataType::Decimal256(p, 0) => *p >= 19,
                _ => false,
            };
            fits.then_some(v)
        }
        _ => None,
    }
}

fn scalar_int(v: &ScalarValue) -> Option<i128> {
    match v {
        ScalarValue::Int8(Some(v)) => Some(i128::from(*v)),
        ScalarValue::Int16(Some(v)) => Some(i128::from(*v)),
        ScalarValue::Int32(Some(v)) => Some(i128::from(*v)),
        ScalarValue::Int64(Some(v)) => Some(i128::from(*v)),
        ScalarValue::UInt8(Some(v)) => Some(i128::from(*v)),
        ScalarValue::UInt16(Some(v)) => Some(i128::from(*v)),
        ScalarValue::UInt32(Some(v)) => Some(i128::from(*v)),
        ScalarValue::UInt64(Some(v)) => Some(i128::from(*v)),
        ScalarValue::Decimal128(Some(v), _, 0) => Some(*v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::{cast, col, lit};

    use super::*;

    const T: &str = "start_time_unix_nano";

    fn range(filters: &[Expr]) -> (i128, i128) {
        let r = TimeRange::from_filters(T, filters);
        (r.min, r.max)
    }

    #[test]
    fn comparisons_bound_the_range_from_either_side() {
        assert_eq!(range(&[col(T).gt(lit(10i64))]).0, 11);
        assert_eq!(range(&[col(T).gt_eq(lit(10u8))]).0, 10);
        assert_eq!(range(&[col(T).lt(lit(10i32))]).1, 9);
        assert_eq!(range(&[lit(10u64).gt(col(T))]).1, 9);
        assert_eq!(range(&[lit(10i16).lt_eq(col(T))]).0, 10);
        assert_eq!(range(&[col(T).eq(lit(7i64))]), (7, 7));
        assert_eq!(
            range(&[col(T).gt_eq(lit(5i64)), col(T).lt(lit(20i64))]),
            (5, 19)
        );
        assert_eq!(
            range(&[col(T).gt_eq(lit(5i64)).and(col(T).lt_eq(lit(20i64)))]),
            (5, 20)
        );
        assert_eq!(range(&[col(T).between(lit(3i64), lit(9u32))]), (3, 9));
    }

    #[test]
    fn or_and_in_take_the_hull() {
        let r = range(&[col(T).eq(lit(3i64)).or(col(T).eq(lit(30i64)))]);
        assert_eq!(r, (3, 30));
        let r = range(&[col(T).in_list(vec![lit(8i64), lit(2i64), lit(5i64)], false)]);
        assert_eq!(r, (2, 8));
        // An unconstrained side of an OR lets everything through.
        let r = range(&[col(T).eq(lit(3i64)).or(col("name").eq(lit("x")))]);
        assert_eq!(r, (TimeRange::ALL.min, TimeRange::ALL.max));
    }

    #[test]
    fn widening_casts_of_the_column_are_understood() {
        let widened = cast(col(T), DataType::Decimal128(20, 0));
        let r = range(&[widened.gt(Expr::Literal(
            ScalarValue::Decimal128(Some(100), 20, 0),
            None,
        ))]);
        assert_eq!(r.0, 101);
        // Doubles round, so the bounds widen by the rounding error.
        let as_double = cast(col(T), DataType::Float64);
        let high = 1.7e18f64 + 4096.0;
        let r = range(&[
            as_double.clone().gt(lit(1.7e18f64)),
            as_double.lt_eq(lit(high)),
        ]);
        assert_eq!(r, (1_700_000_000_000_000_000 - 1024, high as i128 + 1024));
        // A narrowing cast can wrap around, so it says nothing.
        let narrowed = cast(col(T), DataType::Int32);
        assert_eq!(range(&[narrowed.gt(lit(100i32))]).0, TimeRange::ALL.min);
    }

    #[test]
    fn unknown_filters_allow_everything() {
        let all = (TimeRange::ALL.min, TimeRange::ALL.max);
        assert_eq!(range(&[]), all);
        assert_eq!(range(&[col("duration_nano").gt(lit(5i64))]), all);
        assert_eq!(range(&[col(T).not_eq(lit(5i64))]), all);
        assert_eq!(range(&[col(T).gt(lit(ScalarValue::Int64(None)))]), all);
        assert_eq!(range(&[col(T).gt(lit(f64::NAN))]), all);
        assert_eq!(range(&[col(T).not_between(lit(1i64), lit(5i64))]), all);
    }

    #[test]
    fn overlap_is_inclusive_and_empty_ranges_keep_nothing() {
        let r = TimeRange::from_filters(T, &[col(T).between(lit(10i64), lit(20i64))]);
        assert!(r.overlaps(20, 30));
        assert!(r.overlaps(0, 10));
        assert!(!r.overlaps(21, 30));
        assert!(!r.overlaps(0, 9));
        let empty = TimeRange::from_filters(T, &[col(T).gt(lit(5i64)), col(T).lt(lit(3i64))]);
        assert!(!empty.overlaps(i64::MIN, i64::MAX));
        let extreme = TimeRange::from_filters(T, &[col(T).gt(lit(u64::MAX))]);
        assert!(!extreme.overlaps(i64::MIN, i64::MAX));
    }
}
