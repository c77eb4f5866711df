use super::*;
use crate::ast::*;
use crate::error::Error;

fn attr(name: &str) -> FieldExpr {
    FieldExpr::Field(Field::Attribute(Attribute {
        scope: Scope::None,
        parent: false,
        name: name.into(),
    }))
}

fn bin(op: BinaryOp, lhs: FieldExpr, rhs: FieldExpr) -> FieldExpr {
    FieldExpr::Binary {
        op,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
    }
}

fn unary(op: UnaryOp, expr: FieldExpr) -> FieldExpr {
    FieldExpr::Unary {
        op,
        expr: Box::new(expr),
    }
}

fn int(n: i64) -> FieldExpr {
    FieldExpr::Static(Static::Int(n))
}

/// The filter of a one-filter query.
fn filter(q: &str) -> FieldExpr {
    match parse(q).expect(q).query {
        Query::Spans(mut p) => match p.stages.pop() {
            Some(Stage::Spanset(SpansetExpr::Filter(f))) if p.stages.is_empty() => f,
            other => panic!("{q}: not one filter: {other:?}"),
        },
        other => panic!("{q}: not a spanset query: {other:?}"),
    }
}

/// Parses, and checks that the printed query parses to the same tree.
fn round_trip(q: &str) -> Expr {
    let e = parse(q).unwrap_or_else(|err| panic!("{q}: {err}"));
    let printed = e.to_string();
    assert_eq!(parse(&printed).as_ref(), Ok(&e), "{q} printed as {printed}");
    e
}

#[test]
fn field_operators_take_tempos_precedence() {
    // `&&` and `||` share a level, left-associative, as in Tempo's grammar.
    assert_eq!(
        filter("{ .a || .b && .c }"),
        bin(
            BinaryOp::And,
            bin(BinaryOp::Or, attr("a"), attr("b")),
            attr("c")
        )
    );
    // `!` binds tighter than comparisons and `+`, looser than `*`.
    assert_eq!(
        filter("{ !.a = true }"),
        bin(
            BinaryOp::Eq,
            unary(UnaryOp::Not, attr("a")),
            FieldExpr::Static(Static::Bool(true))
        )
    );
    assert_eq!(
        filter("{ !.a * 2 }"),
        unary(UnaryOp::Not, bin(BinaryOp::Mul, attr("a"), int(2)))
    );
    // `-` sits with `+ -`: it takes in `*` and `^` but not `+`.
    assert_eq!(
        filter("{ -.a * 2 + 1 = 3 }"),
        bin(
            BinaryOp::Eq,
            bin(
                BinaryOp::Add,
                unary(UnaryOp::Neg, bin(BinaryOp::Mul, attr("a"), int(2))),
                int(1)
            ),
            int(3)
        )
    );
    // `^` is right-associative.
    assert_eq!(
        filter("{ 2 ^ 3 ^ 4 = 1 }"),
        bin(
            BinaryOp::Eq,
            bin(BinaryOp::Pow, int(2), bin(BinaryOp::Pow, int(3), int(4))),
            int(1)
        )
    );
    assert_eq!(filter("{}"), FieldExpr::Static(Static::Bool(true)));
}

#[test]
fn spanset_operators_bind_tighter_than_and_and_pipes_loosest() {
    let e = parse("{ .a } && { .b } >> { .c } | { .d }").expect("parses");
    let f = |n: &str| Box::new(SpansetExpr::Filter(attr(n)));
    assert_eq!(
        e.query,
        Query::Spans(Pipeline {
            stages: vec![
                Stage::Spanset(SpansetExpr::Op {
                    op: SpansetOp::And,
                    lhs: f("a"),
                    rhs: Box::new(SpansetExpr::Op {
                        op: SpansetOp::Descendant,
                        lhs: f("b"),
                        rhs: f("c"),
                    }),
                }),
                Stage::Spanset(SpansetExpr::Filter(attr("d"))),
            ]
        })
    );
}

#[test]
fn printing_parenthesizes_where_reading_back_needs_it() {
    for (q, printed) in [
        ("{ (-.a) * 2 }", "{ (-.a) * 2 }"),
        ("{ .a ^ (-.b) * 2 }", "{ .a ^ (-.b) * 2 }"),
        ("{ .a * -.b + 1 }", "{ .a * -.b + 1 }"),
        ("{ (.a ^ .b) ^ .c }", "{ (.a ^ .b) ^ .c }"),
        ("{ .a - (.b - .c) }", "{ .a - (.b - .c) }"),
        ("{ !(.a || .b) && .c }", "{ !(.a || .b) && .c }"),
        ("{ - -1 = !!.b }", "{ --1 = !!.b }"),
        ("{ .a = 1h30m }", "{ .a = 1h30m0s }"),
        (
            "{ .a = 1.5ms || .a = 1e-7 || .a = 3.0 }",
            "{ .a = 1.5ms || .a = 1e-7 || .a = 3.0 }",
        ),
        (
            r#"{ .a = "q\"b\\s\n\t\u00e9\x01" }"#,
            r#"{ .a = "q\"b\\s\n\té\x01" }"#,
        ),
        (r#"{ ."5x" = `raw` }"#, r#"{ ."5x" = "raw" }"#),
        (r#"{ parent."span.a" = 1 }"#, r#"{ parent."span.a" = 1 }"#),
        (
            r#"{ ."" = 1 && span."a b" = 2 }"#,
            r#"{ ."" = 1 && span."a b" = 2 }"#,
        ),
        (
            "{ trace:rootService = `a` }",
            r#"{ rootServiceName = "a" }"#,
        ),
        ("{ .5 = .a } // comment", "{ 0.5 = .a }"),
        (
            "({ .a }) && ({ .b } | { .c })",
            "({ .a }) && ({ .b } | { .c })",
        ),
        (
            "({ .a }) && ({ .b }) >> ({ .c } | { .d })",
            "({ .a }) && (({ .b }) >> ({ .c } | { .d }))",
        ),
        ("{ .a } && { .b } >> { .c }", "{ .a } && { .b } >> { .c }"),
        (
            "({ .a } && { .b }) >> { .c }",
            "({ .a } && { .b }) >> { .c }",
        ),
        (
            "{} | rate() with (most_recent=true, sample=0.1)",
            "{ true } | rate() with(most_recent=true, sample=0.1)",
        ),
        (
            "({} | rate() > 6 | topk(2))",
            "{ true } | rate() > 6 | topk(2)",
        ),
        (
            "{} | compare({ .a }, 5, 1, 2)",
            "{ true } | compare({ .a }, 5, 1, 2)",
        ),
    ] {
        let e = round_trip(q);
        assert_eq!(e.to_string(), printed, "{q}");
    }
}

#[test]
fn what_tempos_grammar_refuses_is_a_syntax_error() {
    for q in [
        "(by(.ns) | count()) > 2 * 2",
        "(by(.ns) | count()) * 2 > 2",
        "2 < (by(.ns) | count())",
        "({ .a } | count()) > -1",
        "{ .a } | ({ .b } | { .c })",
        "({ .a } | count() > 1) | { .b }",
        "{ .a } && ({ .b } | { .c })",
        "({ .a } | { .b }) && { .c }",
        "{} | rate() by ()",
        "{} | compare({ .a }, 1, 2)",
        "{} | compare({ .a }) by (.b)",
        "{} | rate() | by(.a)",
        "rate()",
        "{} | (rate())",
        "({} | rate()) | rate()",
        "(({} | rate()) | topk(2)) * 2",
        "{} | rate() with ()",
        "{} with (name=1)",
        "{} | select(.a + 1)",
        "{ span:foo }",
        "{ .a } | quantile_over_time(duration)",
        "{ .a } | quantile_over_time(duration, -1)",
    ] {
        match parse(q) {
            Err(Error::Parse { .. }) => {}
            other => panic!("{q}: {other:?}"),
        }
    }
}

#[test]
fn syntax_errors_say_where() {
    assert_eq!(
        parse("{ .a = 1 &&\n  .b = }"),
        Err(Error::Parse {
            message: "syntax error: unexpected }".into(),
            line: 2,
            col: 8
        })
    );
    let e = parse("{ .a = 1 } | coalesce(").expect_err("unclosed");
    assert_eq!(
        e.to_string(),
        "parse error at line 1, col 23: syntax error: unexpected end of query, expecting )"
    );
}

#[test]
fn validation_tells_invalid_from_unsupported() {
    let kind = |q: &str| match parse_and_validate(q) {
        Ok(_) => "ok",
        Err(Error::Validate(_)) => "invalid",
        Err(Error::Unsupported(_)) => "unsupported",
        Err(Error::Parse { .. }) => "parse",
        Err(Error::Eval(_)) => "eval",
    };
    for (q, want) in [
        ("{ .a = nil }", "ok"),
        ("{ name = nil }", "invalid"),
        ("{ 1 * 2s > duration }", "ok"),
        ("{ .a =~ \"(\" }", "invalid"),
        ("{} | quantile_over_time(duration, 1.5)", "invalid"),
        ("{} | rate() by (.a, .b, .c, .d, .e)", "ok"),
        ("{} | rate() by (.a, .b, .c, .d, .e, .f)", "unsupported"),
        (
            "{} | histogram_over_time(duration) by (.a, .b, .c, .d, .e)",
            "unsupported",
        ),
        ("{} | compare({ .a }, 0)", "invalid"),
        ("{} | compare({ .a }, 10, 5, 1)", "invalid"),
        ("{} | compare({ 1 })", "invalid"),
        ("{} | rate() by (parent.a)", "unsupported"),
        ("{} | select(parent)", "unsupported"),
        ("({} | rate() | topk(0)) + 1", "invalid"),
        ("{ .a } | count() > 1s", "ok"),
        ("{ .a } | count() > \"a\"", "parse"),
    ] {
        assert_eq!(kind(q), want, "{q}");
    }
}

fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(f)
        .expect("thread")
        .join()
        .expect("no stack overflow");
}

#[test]
fn hostile_nesting_is_refused_on_a_small_stack() {
    on_small_stack(|| {
        let nested = |open: &str, inner: &str, close: &str, n: usize| {
            format!("{}{inner}{}", open.repeat(n), close.repeat(n))
        };
        let chain = |item: &str, op: &str, n: usize| vec![item; n].join(op);
        for q in [
            nested("(", "{ true }", ")", 100_000),
            nested("{ ", ".a", " }", 1).replace(".a", &nested("(", ".a", ")", 100_000)),
            format!("{{ {} = 1 }}", chain("1", "+", 20_000)),
            format!("{{ {} = 1 }}", chain("2", "^", 20_000)),
            format!("{{ {}true }}", "!".repeat(100_000)),
            format!("{{ {}1 = 1 }}", "-".repeat(100_000)),
            chain("{ true }", " && ", 20_000),
            format!("{} | rate()", chain("{ true }", " >> ", 20_000)),
            nested("(", "{} | rate()", ")", 100_000),
            format!("{}({{}} | rate())", "1 + ".repeat(20_000)),
            format!("({{}} | rate()) > {}", chain("1", " - ", 20_000)),
            format!("{{}} | count() > {}", chain("1", "*", 20_000)),
            format!("{{}} | max({}) > 1", chain(".a", " + ", 20_000)),
            format!(
                "{{}} | by({}.a{})",
                "(".repeat(100_000),
                ")".repeat(100_000)
            ),
            format!("{{}} | compare({{ {} }})", chain(".a", " && ", 20_000)),
        ] {
            let e = parse(&q).expect_err("too deep");
            assert!(e.to_string().contains("too deeply nested"), "{e}");
        }
        // A long pipeline is long, not deep.
        let long = chain("{ .a = 1 }", " | ", 20_000);
        let e = parse_and_validate(&long).expect("a long pipeline");
        assert_eq!(parse(&e.to_string()), Ok(e));
    });
}

#[test]
fn the_deepest_queries_taken_validate_print_and_drop_on_a_small_stack() {
    on_small_stack(|| {
        let makers: [fn(usize) -> String; 8] = [
            |n| format!("{{ {}.a{} }}", "(".repeat(n), ")".repeat(n)),
            |n| format!("{{ {}.a }}", "!".repeat(n)),
            |n| format!("{{ {} = 1 }}", vec![".a"; n].join(" + ")),
            |n| format!("{{ {} = 1 }}", vec!["2"; n].join(" ^ ")),
            |n| vec!["{ .a }"; n].join(" && "),
            |n| format!("({{}} | rate()){}", " * 2".repeat(n)),
            |n| format!("{}{{}} | rate(){}", "(".repeat(n), ")".repeat(n)),
            |n| format!("{{}} | by({}) | count() > 1", vec![".a"; n].join(" - ")),
        ];
        for make in makers {
            let deepest = (1..=MAX_NESTING)
                .rev()
                .find(|n| parse(&make(*n)).is_ok())
                .expect("some depth parses");
            assert!(deepest + 4 >= MAX_NESTING, "only {deepest} levels taken");
            let q = make(deepest);
            let e = parse_and_validate(&q).unwrap_or_else(|err| panic!("{q}: {err}"));
            let again = parse(&e.to_string()).expect("printed form parses");
            assert_eq!(again, e.clone());
            drop(again);
            assert!(parse(&make(deepest + 1)).is_err());
        }
    });
}
