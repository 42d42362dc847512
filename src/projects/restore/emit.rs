//! Writes API objects as YAML that every YAML reader takes the same way.
//!
//! `oc` reads YAML with go-yaml v2, which follows YAML 1.1: there, plain `yes`, `on`,
//! `off`, `y` or `n` are booleans. A YAML 1.2 writer leaves such strings unquoted (a
//! config map value `on` would come back as `true`, an annotation `yes` would be
//! refused as not a string), so every string value is written double-quoted, with
//! JSON-style escapes, which YAML double-quoted scalars share. Keys are written plain
//! when they cannot be mistaken for anything but a string, quoted otherwise.

use serde_json::{Map, Value};
use std::fmt::Write;

/// The YAML text of one object, block style, keys in the order of the map.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => write_map(&mut out, m, 0, false),
        Value::Array(a) if !a.is_empty() => write_seq(&mut out, a, 0),
        scalar => {
            write_scalar(&mut out, scalar);
            out.push('\n');
        }
    }
    out
}

fn is_block(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

/// `item` is true for a map that is a sequence item: its first key follows the "- ".
fn write_map(out: &mut String, m: &Map<String, Value>, indent: usize, item: bool) {
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 || !item {
            pad(out, indent);
        }
        write_key(out, k);
        out.push(':');
        write_value(out, v, indent + 2);
    }
}

fn write_seq(out: &mut String, a: &[Value], indent: usize) {
    for v in a {
        pad(out, indent);
        match v {
            Value::Object(m) if !m.is_empty() => {
                out.push_str("- ");
                write_map(out, m, indent + 2, true);
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push_str("-\n");
                write_seq(out, inner, indent + 2);
            }
            Value::String(text) if is_block_safe(text) => {
                out.push('-');
                write_block(out, text, indent + 2);
            }
            scalar => {
                out.push_str("- ");
                write_scalar(out, scalar);
                out.push('\n');
            }
        }
    }
}

/// A map value after its key and ':'.
fn write_value(out: &mut String, v: &Value, indent: usize) {
    if is_block(v) {
        out.push('\n');
        match v {
            Value::Object(m) => write_map(out, m, indent, false),
            Value::Array(a) => write_seq(out, a, indent),
            _ => unreachable!("is_block is only true for maps and sequences"),
        }
    } else if let Some(text) = v.as_str().filter(|t| is_block_safe(t)) {
        write_block(out, text, indent);
    } else {
        out.push(' ');
        write_scalar(out, v);
        out.push('\n');
    }
}

/// True for multi-line text that a literal block scalar (`|`) carries unchanged and
/// that stays readable that way: no leading space (it would change the detected
/// indentation), no tabs, carriage returns or other line breaks than `\n`, no line
/// of only spaces or with trailing spaces, only printable characters.
fn is_block_safe(s: &str) -> bool {
    s.contains('\n')
        && !s.starts_with([' ', '\n'])
        && s.chars().all(|c| {
            c == '\n'
                || (is_printable(c) && !matches!(c, '\t' | '\u{85}' | '\u{2028}' | '\u{2029}'))
        })
        && s.split('\n').all(|l| !l.ends_with(' '))
}

/// A literal block scalar after a key's ':' or an item's '-', content at `indent`.
/// The chomping indicator keeps the trailing newlines exactly: `|-` none, `|` one,
/// `|+` more.
fn write_block(out: &mut String, s: &str, indent: usize) {
    let (indicator, body) = if s.ends_with("\n\n") {
        (" |+", &s[..s.len() - 1])
    } else if let Some(body) = s.strip_suffix('\n') {
        (" |", body)
    } else {
        (" |-", s)
    };
    out.push_str(indicator);
    out.push('\n');
    for line in body.split('\n') {
        if !line.is_empty() {
            pad(out, indent);
            out.push_str(line);
        }
        out.push('\n');
    }
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn write_scalar(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number_text(n)),
        Value::String(s) => write_quoted(out, s),
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
    }
}

/// A number as go-yaml v2 reads it back as the same number of the same kind: integers
/// as they are; floats with a signed exponent (`1e+21`, as Go prints them), since an
/// exponent without sign makes the text a string to the older go-yaml in oc 3.11.
fn number_text(n: &serde_json::Number) -> String {
    let text = n.to_string();
    match text.split_once(['e', 'E']) {
        Some((m, e)) if !e.starts_with(['+', '-']) => format!("{m}e+{e}"),
        _ => text,
    }
}

/// Words YAML 1.1 or 1.2 readers resolve to something other than a string.
const NOT_STRINGS: &[&str] = &["y", "yes", "n", "no", "on", "off", "true", "false", "null"];

fn write_key(out: &mut String, k: &str) {
    let plain = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'))
        && !NOT_STRINGS.contains(&k.to_ascii_lowercase().as_str());
    if plain {
        out.push_str(k);
    } else {
        write_quoted(out, k);
    }
}

/// A double-quoted scalar; characters YAML does not allow raw are escaped.
fn write_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if is_printable(c) => out.push(c),
            c => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
        }
    }
    out.push('"');
}

/// YAML's printable set (spec 1.2 §5.1), which go-yaml enforces.
fn is_printable(c: char) -> bool {
    matches!(c,
        '\u{20}'..='\u{7E}' | '\u{85}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
        && c != '\u{FEFF}'
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_block_yaml_with_quoted_strings() {
        let v = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "labels": {"app": "x"}},
            "data": {"on": "yes", "8080": "0755", "script": "a\nb\n"},
            "list": [{"a": 1, "b": [true, null]}, [], {}, "s", [1, 2]]});
        let text = to_yaml(&v);
        assert_eq!(
            text,
            r#"apiVersion: "v1"
data:
  "8080": "0755"
  "on": "yes"
  script: |
    a
    b
kind: "ConfigMap"
list:
  - a: 1
    b:
      - true
      - null
  - []
  - {}
  - "s"
  -
    - 1
    - 2
metadata:
  labels:
    app: "x"
  name: "c"
"#
        );
        let back: Value = super::super::yaml11::from_str(&text).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn numbers_keep_their_kind_for_go_yaml() {
        for v in [
            json!(1e21),
            json!(1.5e-7),
            json!(0.5),
            json!(1000000.0),
            json!(-3),
            json!(u64::MAX),
        ] {
            let text = to_yaml(&json!({ "n": v }));
            let back = super::super::yaml11::from_str(&text).unwrap();
            assert_eq!(back["n"], v, "{text}");
        }
        assert_eq!(to_yaml(&json!(1e21)), "1e+21\n");
    }

    #[test]
    fn odd_strings_round_trip() {
        let odd = [
            "",
            "a\nb",
            "a\nb\n",
            "a\n\n",
            "a\n\nb\n\n\n",
            "#!/bin/sh\n  indented\n- dash\nkey: v\n",
            "x\n---\n...\n",
            "\nlead",
            " a\nb",
            "a \nb",
            "a\n \nb",
            "a\tb\nc",
            "a\r\nb",
            " lead",
            "trail ",
            "#x",
            "- x",
            "a: b",
            "'q'",
            "\"dq\"",
            "\\",
            "\u{7F}del",
            "\u{1}ctl",
            "é ü 日本",
            "\u{FEFF}bom",
            "~",
            "null",
            "1:20",
            "2001-12-14",
            "\t",
            ".inf",
            "0x1F",
            "{a}",
            "[b]",
            "*ref",
            "&anchor",
            "!tag",
            "%x",
            "@x",
            "`x",
        ];
        for s in odd {
            let v = json!({ s: s, "k": [s, [s]], "m": {"n": s} });
            let text = to_yaml(&v);
            let back: Value = super::super::yaml11::from_str(&text)
                .unwrap_or_else(|e| panic!("{s:?}: {e}\n{text}"));
            assert_eq!(back, v, "{s:?}\n{text}");
        }
    }
}
