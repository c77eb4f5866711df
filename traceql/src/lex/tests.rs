use super::*;

fn toks(q: &str) -> Vec<Tok> {
    lex(q).expect("lexes").into_iter().map(|t| t.tok).collect()
}

fn attr(scope: Scope, parent: bool, name: &str) -> Tok {
    Tok::Attr(Attribute {
        scope,
        parent,
        name: name.into(),
    })
}

#[test]
fn tokens() {
    assert_eq!(
        toks("{ .http.status_code>=200 && span:name !~ `a` }"),
        vec![
            Tok::Sym("{"),
            attr(Scope::None, false, "http.status_code"),
            Tok::Sym(">="),
            Tok::Int(200),
            Tok::Sym("&&"),
            Tok::ScopeColon("span"),
            Tok::Word("name"),
            Tok::Sym("!~"),
            Tok::Str("a".into()),
            Tok::Sym("}"),
            Tok::End
        ]
    );
    assert_eq!(
        toks("parent.resource.a parent.b .\"x y\\\"z\" .a+1 !>> &<<"),
        vec![
            attr(Scope::Resource, true, "a"),
            attr(Scope::None, true, "b"),
            attr(Scope::None, false, "x y\"z"),
            attr(Scope::None, false, "a+1"),
            Tok::Sym("!>>"),
            Tok::Sym("&<<"),
            Tok::End
        ]
    );
    assert_eq!(
        toks("1h30m 1.5ms 1.5 .5 1e3 2 // comment\n /* x */ 3m)"),
        vec![
            Tok::Duration(5_400_000_000_000),
            Tok::Duration(1_500_000),
            Tok::Float(1.5),
            Tok::Float(0.5),
            Tok::Float(1000.0),
            Tok::Int(2),
            Tok::Duration(180_000_000_000),
            Tok::Sym(")"),
            Tok::End
        ]
    );
    assert_eq!(
        toks(r#""a\n\x41\u00e9\101""#),
        vec![Tok::Str("a\nAéA".into()), Tok::End]
    );
    for bad in [
        "\"a",
        "\"\\q\"",
        "\"\\xff\"",
        "`a",
        "{ . }",
        "{ span. }",
        ".\"a",
        ".\"\\n\"",
        "99999999999999999999",
        "1e999",
        "[",
        "/* x",
    ] {
        assert!(lex(bad).is_err(), "{bad}");
    }
}
