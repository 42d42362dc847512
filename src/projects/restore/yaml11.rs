//! Reads the YAML that `oc get -o yaml` (oc 3.11) prints, with the meaning oc 3.11
//! gives it.
//!
//! oc 3.11 writes and reads YAML with go-yaml v2, which resolves plain (unquoted)
//! scalars by YAML 1.1-era rules, and quotes every string that its own rules would read
//! as something else. A YAML 1.2 reader disagrees on some plain scalars: oc prints the
//! string `0o644` unquoted (to go-yaml it is no number), and a YAML 1.2 reader takes it
//! as the octal number 420, which the restore then wrote back as a number and the
//! server refused. So this reader resolves every plain scalar the way go-yaml v2 does
//! (`resolve_plain`), and takes quoted and block scalars as strings, always.
//!
//! Guarantees: a string stays a string with its exact text, a number keeps its value
//! and its kind (integer or float), booleans and nulls stay what oc read them as. The
//! reader streams its input line by line and never holds more than one line of text
//! besides the parsed value.

use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use std::io::{self, BufRead};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Why a document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Yaml11Error {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Syntax(String),
    #[error("line {line}: {what}")]
    Unsupported { line: usize, what: String },
}

/// Reads the first YAML document from `input` as oc 3.11 would read it.
pub fn from_reader(input: impl BufRead) -> Result<Value, Yaml11Error> {
    let mut chars = LineChars {
        input,
        line: Vec::new(),
        pos: 0,
        error: None,
    };
    let result = read_document(&mut Parser::new(&mut chars));
    // An input error ends the character stream early, which the parser may report as
    // a syntax error: the input error is the real cause.
    if let Some(e) = chars.error.take() {
        return Err(Yaml11Error::Io(e));
    }
    result
}

/// Reads the first YAML document from `text`.
pub fn from_str(text: &str) -> Result<Value, Yaml11Error> {
    from_reader(text.as_bytes())
}

/// The characters of a buffered reader, one line at a time; stops at the first error
/// and keeps it.
struct LineChars<R> {
    input: R,
    line: Vec<char>,
    pos: usize,
    error: Option<io::Error>,
}

impl<R: BufRead> Iterator for LineChars<R> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        if self.pos == self.line.len() {
            if self.error.is_some() {
                return None;
            }
            let mut text = String::new();
            match self.input.read_line(&mut text) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    self.error = Some(e);
                    return None;
                }
            }
            self.line = text.chars().collect();
            self.pos = 0;
        }
        let c = self.line[self.pos];
        self.pos += 1;
        Some(c)
    }
}

/// How deep mappings and sequences may nest; API objects stay far below, and a
/// hostile export cannot exhaust the stack.
const MAX_DEPTH: usize = 128;

/// Builds values from parser events.
struct Builder<'p, I: Iterator<Item = char>> {
    parser: &'p mut Parser<I>,
    anchors: HashMap<usize, Value>,
    depth: usize,
}

fn read_document<I: Iterator<Item = char>>(parser: &mut Parser<I>) -> Result<Value, Yaml11Error> {
    let mut b = Builder {
        parser,
        anchors: HashMap::new(),
        depth: 0,
    };
    loop {
        let (event, mark) = b.next()?;
        match event {
            Event::StreamStart | Event::DocumentStart | Event::Nothing => {}
            Event::StreamEnd => return Ok(Value::Null),
            Event::DocumentEnd => return Ok(Value::Null),
            other => return b.node(other, mark),
        }
    }
}

impl<I: Iterator<Item = char>> Builder<'_, I> {
    fn next(&mut self) -> Result<(Event, Marker), Yaml11Error> {
        self.parser
            .next_token()
            .map_err(|e| Yaml11Error::Syntax(e.to_string()))
    }

    fn node(&mut self, event: Event, mark: Marker) -> Result<Value, Yaml11Error> {
        if self.depth >= MAX_DEPTH {
            return Err(unsupported(mark, "nesting deeper than 128 levels"));
        }
        self.depth += 1;
        let result = self.node_at_depth(event, mark);
        self.depth -= 1;
        result
    }

    fn node_at_depth(&mut self, event: Event, mark: Marker) -> Result<Value, Yaml11Error> {
        let (value, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                (scalar(&text, style, tag.as_ref(), mark)?, anchor)
            }
            Event::SequenceStart(anchor, _) => (self.sequence()?, anchor),
            Event::MappingStart(anchor, _) => (self.mapping()?, anchor),
            Event::Alias(id) => {
                return self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| unsupported(mark, "an alias to an unknown anchor"));
            }
            other => {
                return Err(unsupported(mark, &format!("unexpected {other:?}")));
            }
        };
        if anchor > 0 {
            self.anchors.insert(anchor, value.clone());
        }
        Ok(value)
    }

    fn sequence(&mut self) -> Result<Value, Yaml11Error> {
        let mut items = Vec::new();
        loop {
            let (event, mark) = self.next()?;
            if matches!(event, Event::SequenceEnd) {
                return Ok(Value::Array(items));
            }
            items.push(self.node(event, mark)?);
        }
    }

    fn mapping(&mut self) -> Result<Value, Yaml11Error> {
        let mut map = Map::new();
        loop {
            let (event, mark) = self.next()?;
            if matches!(event, Event::MappingEnd) {
                return Ok(Value::Object(map));
            }
            let key = match self.node(event, mark)? {
                Value::String(s) => s,
                // JSON keys are strings: oc turns other keys into their text.
                Value::Object(_) | Value::Array(_) => {
                    return Err(unsupported(mark, "a mapping key that is not a scalar"));
                }
                other => other.to_string(),
            };
            let (event, mark) = self.next()?;
            let value = self.node(event, mark)?;
            map.insert(key, value);
        }
    }
}

fn unsupported(mark: Marker, what: &str) -> Yaml11Error {
    Yaml11Error::Unsupported {
        line: mark.line(),
        what: what.to_string(),
    }
}

/// The value of one scalar: quoted and block scalars, and those tagged `!!str`, are
/// strings; plain ones are resolved as go-yaml v2 does.
fn scalar(
    text: &str,
    style: TScalarStyle,
    tag: Option<&Tag>,
    mark: Marker,
) -> Result<Value, Yaml11Error> {
    let is_str_tag = tag.is_some_and(|t| t.handle == "tag:yaml.org,2002:" && t.suffix == "str")
        || tag.is_some_and(|t| t.handle == "!!" && t.suffix == "str");
    if style != TScalarStyle::Plain || is_str_tag {
        return Ok(Value::String(text.to_string()));
    }
    match resolve_plain(text) {
        Plain::Str => Ok(Value::String(text.to_string())),
        Plain::Null => Ok(Value::Null),
        Plain::Bool(b) => Ok(Value::Bool(b)),
        Plain::Int(n) => Ok(Value::Number(n)),
        Plain::Float(f) => Number::from_f64(f).map(Value::Number).ok_or_else(|| {
            unsupported(
                mark,
                &format!("the float {text}, which JSON (and so the API server) cannot carry"),
            )
        }),
    }
}

/// What go-yaml v2 makes of a plain scalar.
#[derive(Debug, PartialEq)]
pub enum Plain {
    Str,
    Null,
    Bool(bool),
    Int(Number),
    Float(f64),
}

/// Resolves a plain scalar as go-yaml v2 (as built into oc 3.11, with Go 1.10) does:
/// YAML 1.1 booleans (`yes`, `on`, `n`, ...) and nulls by their exact spelling; a
/// scalar starting with a digit, a sign or '.' is an integer when Go's `ParseInt` or
/// `ParseUint` with base 0 accepts it once '_' is removed (decimal, `0x` hex and
/// leading-0 octal; not `0o`, which Go 1.10 does not know), or `0b` binary; a float
/// when it has go-yaml's float shape; anything else is a string. Where go-yaml
/// versions differ (a float exponent without sign, `1e3`), the older reading wins:
/// oc's own writer never prints a float that way, so such plain text is a string.
pub fn resolve_plain(text: &str) -> Plain {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Plain::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            return Plain::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            return Plain::Bool(false);
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Plain::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Plain::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Plain::Float(f64::NAN),
        _ => {}
    }
    if !text.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.')) {
        return Plain::Str;
    }
    let plain = text.replace('_', "");
    if let Some(n) = go_parse_int(&plain) {
        return Plain::Int(n);
    }
    if is_go_yaml_float(&plain) {
        if let Ok(f) = plain.parse::<f64>() {
            return Plain::Float(f);
        }
    }
    let binary = |digits: &str, negative: bool| {
        let v = i128::from_str_radix(digits, 2).ok()?;
        to_number(if negative { -v } else { v })
    };
    let parsed = if let Some(d) = plain.strip_prefix("0b") {
        binary(d, false)
    } else if let Some(d) = plain.strip_prefix("-0b") {
        binary(d, true)
    } else {
        None
    };
    parsed.map_or(Plain::Str, Plain::Int)
}

/// Go 1.10's `strconv.ParseInt(s, 0, 64)`, then `ParseUint(s, 0, 64)`: an optional
/// sign (ParseInt only), then `0x`/`0X` hex, `0` octal or decimal digits.
fn go_parse_int(s: &str) -> Option<Number> {
    let (negative, body) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let (digits, radix) =
        if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (h, 16)
        } else if body.len() > 1 && body.starts_with('0') {
            (&body[1..], 8)
        } else {
            (body, 10)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = u128::from_str_radix(digits, radix).ok()?;
    let v = i128::try_from(v).ok()?;
    to_number(if negative { -v } else { v })
}

/// An integer that fits int64 or uint64, as go-yaml keeps it.
fn to_number(v: i128) -> Option<Number> {
    if let Ok(i) = i64::try_from(v) {
        Some(Number::from(i))
    } else {
        u64::try_from(v).ok().map(Number::from)
    }
}

/// go-yaml's float shape `^[-+]?[0-9]*\.?[0-9]+([eE][-+][0-9]+)?$`.
fn is_go_yaml_float(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => (int.is_empty() || digits(int)) && digits(frac),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| e.strip_prefix(['+', '-']).is_some_and(digits));
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_scalars_resolve_as_go_yaml_v2() {
        let n = |v: i64| Plain::Int(Number::from(v));
        for (text, want) in [
            ("0o644", Plain::Str),
            ("0644", n(420)),
            ("0x1F", n(31)),
            ("-0x10", n(-16)),
            ("+12", n(12)),
            ("1_000", n(1000)),
            ("0b101", n(5)),
            ("-0b11", n(-3)),
            ("8080", n(8080)),
            ("018", Plain::Float(18.0)),
            ("1e3", Plain::Str),
            ("1e+06", Plain::Float(1e6)),
            (".5", Plain::Float(0.5)),
            ("1.", Plain::Str),
            ("-2.5", Plain::Float(-2.5)),
            ("on", Plain::Bool(true)),
            ("Off", Plain::Bool(false)),
            ("yes", Plain::Bool(true)),
            ("NO", Plain::Bool(false)),
            ("oN", Plain::Str),
            ("~", Plain::Null),
            ("", Plain::Null),
            ("1:20", Plain::Str),
            ("2018-11-05T09:12:40Z", Plain::Str),
            ("1.2.3", Plain::Str),
            ("-", Plain::Str),
            ("+", Plain::Str),
            (".", Plain::Str),
            ("0x", Plain::Str),
        ] {
            assert_eq!(resolve_plain(text), want, "{text:?}");
        }
        assert_eq!(
            resolve_plain("18446744073709551615"),
            Plain::Int(Number::from(u64::MAX))
        );
        assert_eq!(
            resolve_plain("18446744073709551616"),
            Plain::Float(18446744073709551616.0)
        );
    }

    #[test]
    fn reads_what_oc_prints_with_oc_meaning() {
        let text = "apiVersion: v1\ndata:\n  \"8080\": \"on\"\n  mode: 0o644\n  exp: 1e3\n  half: \".5\"\n  crlf: \"a\\r\\nb\\tc\"\n  script: |\n    #!/bin/sh\n    echo yes\nkind: ConfigMap\nmetadata:\n  generation: 3\n  labels:\n    on: \"x\"\n  weight: 0.25\n  flag: true\n  none: null\n  list: [a, 'b', 010]\n";
        let v = from_str(text).unwrap();
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "data": {"8080": "on", "mode": "0o644", "exp": "1e3", "half": ".5",
                    "crlf": "a\r\nb\tc", "script": "#!/bin/sh\necho yes\n"},
                "metadata": {"generation": 3, "labels": {"true": "x"}, "weight": 0.25,
                    "flag": true, "none": null, "list": ["a", "b", 8]}})
        );
    }

    #[test]
    fn anchors_and_errors() {
        let v = from_str("a: &x {k: 1}\nb: *x\n").unwrap();
        assert_eq!(v["b"], json!({"k": 1}));
        assert!(matches!(
            from_str("a: [1, 2\n"),
            Err(Yaml11Error::Syntax(_))
        ));
        assert!(matches!(
            from_str("a: .inf\n"),
            Err(Yaml11Error::Unsupported { line: 1, .. })
        ));
        assert_eq!(from_str("").unwrap(), Value::Null);
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        assert!(matches!(
            from_str(&deep),
            Err(Yaml11Error::Unsupported { .. })
        ));
    }
}
