//! Typing, `nil`, regular expressions, arithmetic, attribute lookup, events, links and the
//! intrinsics a span and its trace carry.

use super::{all, flat, span, trace, with};
use crate::eval::{EventData, LinkData, TraceData, Value};

/// Span 0 has `.a = 2`, span 1 `.a = 2.5`, span 2 `.a = "2"`, span 3 no `.a`, span 4
/// `.a = true`.
fn mixed() -> TraceData {
    trace(vec![
        with(span(1, None, "r"), "a", Value::Int(2)),
        with(span(2, Some(1), "b"), "a", Value::Float(2.5)),
        with(span(3, Some(1), "c"), "a", Value::String("2".into())),
        span(4, Some(1), "d"),
        with(span(5, Some(1), "e"), "a", Value::Bool(true)),
    ])
}

#[test]
fn missing_attributes_equal_and_differ_from_nothing() {
    let t = mixed();
    // A string or a boolean is not a number: neither equal nor unequal to 2.
    assert_eq!(all(&t, "{ .a != 2 }"), vec![1]);
    assert_eq!(all(&t, "{ .a = nil }"), vec![3]);
    assert_eq!(all(&t, "{ nil = .a }"), vec![3]);
    assert_eq!(all(&t, "{ .a != nil }"), vec![0, 1, 2, 4]);
    assert_eq!(all(&t, "{ nil != .a }"), vec![0, 1, 2, 4]);
    assert!(all(&t, "{ nil = nil }").is_empty());
    assert!(all(&t, "{ nil != nil }").is_empty());
    assert!(all(&t, "{ .nope > 1 || .nope <= 1 }").is_empty());
    // Unset status, empty status messages and names are values, not nil.
    assert_eq!(all(&t, "{ statusMessage = \"\" }").len(), 5);
}

#[test]
fn numbers_mix_and_other_types_compare_false() {
    let t = mixed();
    assert_eq!(all(&t, "{ .a = 2.0 }"), vec![0]);
    assert_eq!(all(&t, "{ .a < 3 }"), vec![0, 1]);
    assert_eq!(all(&t, "{ .a > 2 }"), vec![1]);
    assert_eq!(all(&t, "{ .a = \"2\" }"), vec![2]);
    assert_eq!(all(&t, "{ .a >= \"1\" }"), vec![2]);
    assert_eq!(all(&t, "{ .a = true }"), vec![4]);
    // Integers and durations compare raw.
    assert_eq!(all(&t, "{ .a = 2ns }"), vec![0]);
    assert_eq!(all(&t, "{ duration = 100ns }").len(), 5);
    assert_eq!(all(&t, "{ duration > 99 }").len(), 5);
    // Strings order bytewise.
    assert_eq!(all(&t, "{ name > \"c\" }"), vec![0, 3, 4]);
}

#[test]
fn regular_expressions_match_the_whole_string() {
    let mut t = trace(vec![
        span(1, None, "GET /api"),
        with(span(2, Some(1), "abc"), "p", Value::String("a.c".into())),
        with(
            span(3, Some(1), "line\nbreak"),
            "p",
            Value::String("(".into()),
        ),
    ]);
    t.spans[0]
        .span_attrs
        .push(("p".into(), Value::String("GET".into())));
    assert!(all(&t, "{ name =~ \"GET\" }").is_empty());
    assert_eq!(all(&t, "{ name =~ \"GET.*\" }"), vec![0]);
    assert_eq!(all(&t, "{ name !~ \"GET\" }"), vec![0, 1, 2]);
    assert_eq!(all(&t, "{ name =~ \"line.break\" }"), vec![2]);
    // A pattern from an attribute is anchored too; one that does not compile matches nothing.
    assert_eq!(all(&t, "{ name =~ .p }"), vec![1]);
    assert!(all(&t, "{ .nope =~ \".*\" }").is_empty());
    assert!(all(&t, "{ .nope !~ \"x\" }").is_empty());
}

#[test]
fn integer_arithmetic_stays_integer() {
    let t = trace(vec![with(span(1, None, "r"), "a", Value::Int(3))]);
    assert_eq!(all(&t, "{ .a / 2 = 1 }"), vec![0]);
    assert!(all(&t, "{ .a / 2 = 1.5 }").is_empty());
    assert_eq!(all(&t, "{ .a / 2.0 = 1.5 }"), vec![0]);
    assert_eq!(all(&t, "{ .a % 2 = 1 }"), vec![0]);
    assert_eq!(all(&t, "{ .a ^ 2 = 9 }"), vec![0]);
    assert_eq!(all(&t, "{ 2 ^ .a = 8 }"), vec![0]);
    assert_eq!(all(&t, "{ .a * 2 - 1 = 5 }"), vec![0]);
    assert_eq!(all(&t, "{ -.a = -3 }"), vec![0]);
    // Division by zero is nil, which equals and differs from nothing.
    assert!(all(&t, "{ .a / 0 = 0 }").is_empty());
    assert!(all(&t, "{ .a / 0 != 0 }").is_empty());
    assert!(all(&t, "{ .a % 0 != 1 }").is_empty());
    // Durations compute as floats.
    assert_eq!(all(&t, "{ duration * 2 = 200 }"), vec![0]);
    assert_eq!(all(&t, "{ duration / 3 > 33.3 }"), vec![0]);
}

#[test]
fn boolean_operators_need_booleans() {
    let t = mixed();
    assert_eq!(all(&t, "{ .nope = 1 || name = \"b\" }"), vec![1]);
    assert_eq!(all(&t, "{ name = \"b\" || .nope = 1 }"), vec![1]);
    assert_eq!(all(&t, "{ .a && true }"), vec![4]);
    assert_eq!(all(&t, "{ !(.a = 2) }"), vec![1, 2, 3, 4]);
    assert!(all(&t, "{ !.nope }").is_empty());
}

#[test]
fn unscoped_attributes_read_the_span_then_the_resource() {
    let mut s = span(1, None, "r");
    s.span_attrs.push(("k".into(), Value::Int(1)));
    s.resource_attrs.push(("k".into(), Value::Int(2)));
    s.resource_attrs.push(("only".into(), Value::Int(3)));
    let t = trace(vec![s]);
    assert_eq!(all(&t, "{ .k = 1 }"), vec![0]);
    assert!(all(&t, "{ .k = 2 }").is_empty());
    assert_eq!(all(&t, "{ resource.k = 2 }"), vec![0]);
    assert_eq!(all(&t, "{ span.k = 1 }"), vec![0]);
    assert_eq!(all(&t, "{ .only = 3 }"), vec![0]);
    assert!(all(&t, "{ span.only = 3 }").is_empty());
    // The service name is a resource attribute.
    assert_eq!(all(&t, "{ resource.service.name = \"svc\" }"), vec![0]);
    assert_eq!(all(&t, "{ .service.name = \"svc\" }"), vec![0]);
}

fn with_events() -> TraceData {
    let mut a = span(1, None, "r");
    a.events = vec![
        EventData {
            name: "start".into(),
            time_unix_nano: a.start_unix_nano + 5,
            attrs: vec![("x".into(), Value::String("y".into()))],
        },
        EventData {
            name: "exception".into(),
            time_unix_nano: a.start_unix_nano + 2_000_000,
            attrs: vec![("x".into(), Value::String("z".into()))],
        },
    ];
    a.links = vec![LinkData {
        trace_id: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd],
        span_id: [0, 0, 0, 0, 0, 0, 0, 9],
        attrs: vec![("k".into(), Value::Int(1))],
    }];
    a.scope_name = "lib".into();
    a.scope_version = "1.2".into();
    a.scope_attrs = vec![("s".into(), Value::Bool(true))];
    trace(vec![a, span(2, Some(1), "c")])
}

#[test]
fn event_and_link_fields_match_when_any_event_or_link_does() {
    let t = with_events();
    assert_eq!(all(&t, "{ event.x = \"y\" }"), vec![0]);
    assert_eq!(all(&t, "{ event.x = \"z\" }"), vec![0]);
    assert_eq!(all(&t, "{ event:name = \"exception\" }"), vec![0]);
    // Both conditions hold for one event at a time.
    assert_eq!(
        all(&t, "{ event:name = \"start\" && event.x = \"y\" }"),
        vec![0]
    );
    assert!(all(&t, "{ event:name = \"start\" && event.x = \"z\" }").is_empty());
    assert_eq!(all(&t, "{ event:timeSinceStart > 1ms }"), vec![0]);
    assert!(all(&t, "{ event:timeSinceStart > 1s }").is_empty());
    // A span without events has none of their fields.
    assert!(all(&t, "{ event:name != \"x\" }").contains(&0));
    assert!(!all(&t, "{ event:name != \"x\" }").contains(&1));
    assert_eq!(all(&t, "{ event.x = nil }"), vec![1]);
    assert_eq!(all(&t, "{ link:traceID = \"abcd\" }"), vec![0]);
    assert_eq!(all(&t, "{ link:spanID = \"0000000000000009\" }"), vec![0]);
    assert_eq!(all(&t, "{ link.k = 1 && event.x = \"z\" }"), vec![0]);
    assert_eq!(all(&t, "{ instrumentation:name = \"lib\" }"), vec![0]);
    assert_eq!(all(&t, "{ instrumentation:version = \"1.2\" }"), vec![0]);
    assert_eq!(all(&t, "{ instrumentation.s = true }"), vec![0]);
}

#[test]
fn trace_and_span_intrinsics() {
    let mut t = flat();
    t.spans[0].trace_id = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0xbc];
    t.spans[2].start_unix_nano = 0;
    t.spans[3].service_name = "other".into();
    // Spans start at 1000, 2000, 0 (moved), 4000, 5000 and last 100 … 500 ns: the trace
    // runs from 0 to 5500.
    assert_eq!(all(&t, "{ traceDuration = 5500ns }").len(), 5);
    assert_eq!(all(&t, "{ trace:duration > 5us }").len(), 5);
    assert_eq!(
        all(&t, "{ rootName = \"root\" && rootServiceName = \"svc\" }").len(),
        5
    );
    assert_eq!(all(&t, "{ trace:rootService = \"svc\" }").len(), 5);
    assert_eq!(all(&t, "{ trace:id = \"abc\" }"), vec![0]);
    assert_eq!(all(&t, "{ span:id = \"0000000000000002\" }"), vec![1]);
    assert_eq!(
        all(&t, "{ span:parentID = \"0000000000000001\" }"),
        vec![1, 2, 3, 4]
    );
    assert_eq!(all(&t, "{ span:parentID != nil }"), vec![1, 2, 3, 4]);
    assert_eq!(all(&t, "{ childCount = 4 }"), vec![0]);
    assert_eq!(all(&t, "{ childCount = 0 }"), vec![1, 2, 3, 4]);
    // Without a root span, the earliest names the trace.
    let mut t = flat();
    t.spans.remove(0);
    t.spans[1].start_unix_nano = 0;
    assert_eq!(all(&t, "{ rootName = \"x\" }").len(), 4);
}
