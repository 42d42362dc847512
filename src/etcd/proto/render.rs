//! A protobuf message as the JSON the API server writes for it (formats/etcd-types.md
//! §2): JSON names from the Go types, Go's omitempty for zero values, the special
//! encodings of Time, MicroTime, Duration, Quantity, IntOrString and RawExtension,
//! maps as objects, bytes as base64, and unknown fields by number with a note.

use super::schema::{Message, Registry, Scalar, Ty};
use super::wire::{Wire, fields, packed_varints};
use base64::Engine;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// How deep messages may nest: the API types go about 12 deep; a payload nested
/// deeper than this is malformed.
pub const MAX_DEPTH: usize = 64;

const META: &str = "k8s.io.apimachinery.pkg.apis.meta.v1";
const TIME: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.Time";
const MICRO_TIME: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime";
const DURATION: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.Duration";
const QUANTITY: &str = "k8s.io.apimachinery.pkg.api.resource.Quantity";
const INT_OR_STRING: &str = "k8s.io.apimachinery.pkg.util.intstr.IntOrString";
const RAW_EXTENSION: &str = "k8s.io.apimachinery.pkg.runtime.RawExtension";

/// Renders messages, collecting notes on what it could only show by field number.
pub struct Renderer<'r> {
    reg: &'r Registry,
    pub notes: Vec<String>,
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

impl<'r> Renderer<'r> {
    pub fn new(reg: &'r Registry) -> Self {
        Self {
            reg,
            notes: Vec::new(),
        }
    }

    /// Renders `b` as message `msg`; `path` names it in notes and errors.
    pub fn message(
        &mut self,
        b: &[u8],
        msg: &Message,
        path: &str,
        depth: usize,
    ) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(format!("{path}: nested deeper than {MAX_DEPTH} messages"));
        }
        let at = |e: String| {
            if path.is_empty() {
                e
            } else {
                format!("{path}: {e}")
            }
        };
        let wire = fields(b).map_err(at)?;
        if let Some(v) = special(&msg.name, &wire).map_err(at)? {
            return Ok(v);
        }
        if msg.name == RAW_EXTENSION {
            return Ok(self.raw_extension(&wire, path, depth));
        }
        let mut obj = Map::new();
        let mut lists: BTreeMap<u32, Vec<Value>> = BTreeMap::new();
        let mut maps: BTreeMap<u32, Map<String, Value>> = BTreeMap::new();
        let mut unknown: BTreeMap<u32, Vec<Value>> = BTreeMap::new();
        let mut inline: Vec<Map<String, Value>> = Vec::new();
        for (number, w) in wire {
            let Some(f) = msg.field(number) else {
                unknown
                    .entry(number)
                    .or_default()
                    .push(self.generic(w, depth + 1));
                continue;
            };
            if f.hidden {
                continue;
            }
            let fpath = join(path, &f.json);
            match &f.ty {
                Ty::Map(k, v) => {
                    let Wire::Bytes(entry) = w else {
                        return Err(mismatch(&fpath, &w, "a map entry"));
                    };
                    let (key, val) = self.map_entry(entry, k, v, &fpath, depth + 1)?;
                    maps.entry(number).or_default().insert(key, val);
                }
                Ty::Scalar(sc) if f.repeated => {
                    let list = lists.entry(number).or_default();
                    match w {
                        Wire::Bytes(packed) if !matches!(sc, Scalar::String | Scalar::Bytes) => {
                            for v in packed_varints(packed).map_err(|e| format!("{fpath}: {e}"))? {
                                list.push(scalar(*sc, Wire::Varint(v), &fpath)?);
                            }
                        }
                        _ => list.push(scalar(*sc, w, &fpath)?),
                    }
                }
                Ty::Scalar(sc) => {
                    let v = scalar(*sc, w, &fpath)?;
                    if f.omitempty && !f.pointer && is_zero(&v) {
                        obj.remove(&f.json);
                    } else {
                        obj.insert(f.json.clone(), v);
                    }
                }
                Ty::Message(name) => {
                    let Wire::Bytes(sub) = w else {
                        return Err(mismatch(&fpath, &w, name));
                    };
                    let v = self.field_message(sub, name, &fpath, depth + 1)?;
                    match (f.inline, v) {
                        (true, Value::Object(m)) => inline.push(m),
                        (_, v) if f.repeated => lists.entry(number).or_default().push(v),
                        (_, v) => {
                            obj.insert(f.json.clone(), v);
                        }
                    }
                }
            }
        }
        if msg.list {
            // A Go slice or map type: the JSON is its items, an array or an object.
            if matches!(msg.field(1).map(|f| &f.ty), Some(Ty::Map(..))) {
                return Ok(Value::Object(maps.remove(&1).unwrap_or_default()));
            }
            return Ok(Value::Array(lists.remove(&1).unwrap_or_default()));
        }
        for (number, list) in lists {
            if let Some(f) = msg.field(number) {
                obj.insert(f.json.clone(), Value::Array(list));
            }
        }
        for (number, map) in maps {
            if let Some(f) = msg.field(number) {
                obj.insert(f.json.clone(), Value::Object(map));
            }
        }
        for part in inline {
            for (k, v) in part {
                obj.entry(k).or_insert(v);
            }
        }
        for (number, mut values) in unknown {
            self.notes.push(format!(
                "{}: field {number} is not in the schema of {}; shown by number",
                if path.is_empty() { "(object)" } else { path },
                short(&msg.name)
            ));
            let v = if values.len() == 1 {
                values.remove(0)
            } else {
                Value::Array(values)
            };
            obj.insert(number.to_string(), v);
        }
        Ok(Value::Object(obj))
    }

    fn field_message(
        &mut self,
        b: &[u8],
        name: &str,
        path: &str,
        depth: usize,
    ) -> Result<Value, String> {
        match self.reg.message(name) {
            Some(m) => self.message(b, m, path, depth),
            None => {
                self.notes.push(format!(
                    "{path}: type {} is not in the schema; shown by number",
                    short(name)
                ));
                Ok(self.generic(Wire::Bytes(b), depth))
            }
        }
    }

    fn map_entry(
        &mut self,
        entry: &[u8],
        k: &Ty,
        v: &Ty,
        path: &str,
        depth: usize,
    ) -> Result<(String, Value), String> {
        let mut key = String::new();
        let mut val: Option<Value> = None;
        for (number, w) in fields(entry).map_err(|e| format!("{path}: {e}"))? {
            match (number, k, v) {
                (1, Ty::Scalar(sc), _) => {
                    key = match scalar(*sc, w, path)? {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                }
                (2, _, Ty::Scalar(sc)) => val = Some(scalar(*sc, w, path)?),
                (2, _, Ty::Message(name)) => {
                    let Wire::Bytes(sub) = w else {
                        return Err(mismatch(path, &w, name));
                    };
                    val = Some(self.field_message(sub, name, &join(path, &key), depth)?);
                }
                _ => {}
            }
        }
        let val = match (val, v) {
            (Some(val), _) => val,
            (None, Ty::Scalar(Scalar::String | Scalar::Bytes)) => Value::String(String::new()),
            (None, Ty::Scalar(Scalar::Bool)) => Value::Bool(false),
            (None, Ty::Scalar(_)) => Value::from(0),
            (None, Ty::Message(name)) => self.field_message(&[], name, path, depth)?,
            (None, Ty::Map(..)) => Value::Null,
        };
        Ok((key, val))
    }

    /// `runtime.RawExtension` {1 raw}: the embedded JSON object, parsed.
    fn raw_extension(&mut self, wire: &[(u32, Wire<'_>)], path: &str, depth: usize) -> Value {
        let raw = wire.iter().rev().find_map(|(n, w)| match (n, w) {
            (1, Wire::Bytes(b)) => Some(*b),
            _ => None,
        });
        let Some(raw) = raw.filter(|r| !r.is_empty()) else {
            return Value::Null;
        };
        if let Ok(v) = serde_json::from_slice::<Value>(raw) {
            return v;
        }
        if raw.starts_with(crate::etcd::values::PROTOBUF_PREFIX) && depth < MAX_DEPTH {
            if let Ok(env) = crate::etcd::values::decode_envelope(raw, false) {
                if let Ok(r) = super::render_envelope(self.reg, "", &env, self, depth + 1) {
                    return r;
                }
            }
        }
        self.notes.push(format!(
            "{path}: the embedded object is neither JSON nor protobuf; shown as base64"
        ));
        Value::String(base64::engine::general_purpose::STANDARD.encode(raw))
    }

    /// A value without a schema: numbers, strings, nested messages by field number,
    /// or base64.
    pub fn generic(&mut self, w: Wire<'_>, depth: usize) -> Value {
        match w {
            Wire::Varint(v) | Wire::Fixed64(v) => Value::from(v),
            Wire::Fixed32(v) => Value::from(v),
            Wire::Bytes(b) => {
                if let Ok(s) = std::str::from_utf8(b) {
                    if !s
                        .chars()
                        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
                    {
                        return Value::String(s.to_string());
                    }
                }
                if depth < MAX_DEPTH {
                    if let Ok(fs) = fields(b) {
                        return self.generic_fields(fs, depth + 1);
                    }
                }
                Value::String(base64::engine::general_purpose::STANDARD.encode(b))
            }
        }
    }

    /// The fields of a message without a schema, keyed by number.
    pub fn generic_fields(&mut self, fs: Vec<(u32, Wire<'_>)>, depth: usize) -> Value {
        let mut grouped: BTreeMap<u32, Vec<Value>> = BTreeMap::new();
        for (n, w) in fs {
            let v = self.generic(w, depth);
            grouped.entry(n).or_default().push(v);
        }
        Value::Object(
            grouped
                .into_iter()
                .map(|(n, mut vs)| {
                    let v = if vs.len() == 1 {
                        vs.remove(0)
                    } else {
                        Value::Array(vs)
                    };
                    (n.to_string(), v)
                })
                .collect(),
        )
    }
}

/// `pkg.v1.Name` shown as `v1.Name` (meta types as `metav1.Name`).
fn short(name: &str) -> String {
    if let Some(rest) = name.strip_prefix(META) {
        return format!("metav1{rest}");
    }
    let mut parts = name.rsplitn(3, '.');
    match (parts.next(), parts.next()) {
        (Some(n), Some(v)) => format!("{v}.{n}"),
        _ => name.to_string(),
    }
}

fn mismatch(path: &str, w: &Wire<'_>, want: &str) -> String {
    format!(
        "{path}: a {} value where the schema has {}",
        w.name(),
        short(want)
    )
}

/// Go's zero values, which omitempty leaves out.
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// A scalar field's value.
fn scalar(sc: Scalar, w: Wire<'_>, path: &str) -> Result<Value, String> {
    Ok(match (sc, w) {
        (Scalar::String, Wire::Bytes(b)) => Value::String(
            std::str::from_utf8(b)
                .map_err(|_| format!("{path}: the string is not UTF-8"))?
                .to_string(),
        ),
        (Scalar::Bytes, Wire::Bytes(b)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        (Scalar::Bool, Wire::Varint(v)) => Value::Bool(v != 0),
        // Negative int32 values are sign-extended to 64 bits on the wire.
        (Scalar::Int32, Wire::Varint(v)) => Value::from(v as i64 as i32),
        (Scalar::Int64, Wire::Varint(v)) => Value::from(v as i64),
        (Scalar::Uint32, Wire::Varint(v)) => Value::from(v as u32),
        (Scalar::Uint64, Wire::Varint(v)) => Value::from(v),
        (Scalar::Sint32 | Scalar::Sint64, Wire::Varint(v)) => {
            Value::from((v >> 1) as i64 ^ -((v & 1) as i64))
        }
        (Scalar::Double, Wire::Fixed64(v)) => float(f64::from_bits(v)),
        (Scalar::Float, Wire::Fixed32(v)) => float(f64::from(f32::from_bits(v))),
        (Scalar::Fixed64, Wire::Fixed64(v)) => Value::from(v),
        (Scalar::Fixed32, Wire::Fixed32(v)) => Value::from(v),
        (sc, w) => return Err(mismatch(path, &w, sc.name())),
    })
}

fn float(f: f64) -> Value {
    serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// The messages the API server writes in JSON as something other than an object.
fn special(name: &str, wire: &[(u32, Wire<'_>)]) -> Result<Option<Value>, String> {
    let last_varint = |n: u32| {
        wire.iter().rev().find_map(|(k, w)| match (k, w) {
            (k, Wire::Varint(v)) if *k == n => Some(*v),
            _ => None,
        })
    };
    let last_string = |n: u32| -> Result<Option<String>, String> {
        match wire.iter().rev().find(|(k, _)| *k == n) {
            Some((_, Wire::Bytes(b))) => std::str::from_utf8(b)
                .map(|s| Some(s.to_string()))
                .map_err(|_| format!("field {n} is not UTF-8")),
            Some((_, w)) => Err(format!(
                "field {n}: a {} value where a string was expected",
                w.name()
            )),
            None => Ok(None),
        }
    };
    Ok(Some(match name {
        // {1 seconds, 2 nanos}: RFC 3339 in UTC, whole seconds; the zero time is null.
        TIME | MICRO_TIME => {
            let secs = last_varint(1).unwrap_or(0) as i64;
            let nanos = last_varint(2).unwrap_or(0) as i64 as i32;
            if secs == 0 && nanos == 0 {
                return Ok(Some(Value::Null));
            }
            let t = chrono::DateTime::from_timestamp(secs, nanos.max(0) as u32)
                .ok_or_else(|| format!("time {secs}s {nanos}ns is out of range"))?;
            let fmt = if name == TIME {
                "%Y-%m-%dT%H:%M:%SZ"
            } else {
                "%Y-%m-%dT%H:%M:%S%.6fZ"
            };
            Value::String(t.format(fmt).to_string())
        }
        // {1 duration in ns}: Go's time.Duration string.
        DURATION => Value::String(go_duration(last_varint(1).unwrap_or(0) as i64)),
        // {1 string}: the string.
        QUANTITY => Value::String(last_string(1)?.unwrap_or_else(|| "0".into())),
        // {1 type, 2 intVal, 3 strVal}: a number or a string.
        INT_OR_STRING => {
            if last_varint(1).unwrap_or(0) == 1 {
                Value::String(last_string(3)?.unwrap_or_default())
            } else {
                Value::from(last_varint(2).unwrap_or(0) as i64 as i32)
            }
        }
        _ => return Ok(None),
    }))
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, `1.5s`, `300ms`, `0s`.
pub fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let u = ns.unsigned_abs();
    let body = if u < 1_000_000_000 {
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        format!("{}{unit}", fraction(u, div))
    } else {
        let secs = u / 1_000_000_000;
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        let sec = fraction(s * 1_000_000_000 + u % 1_000_000_000, 1_000_000_000);
        if h > 0 {
            format!("{h}h{m}m{sec}s")
        } else if m > 0 {
            format!("{m}m{sec}s")
        } else {
            format!("{sec}s")
        }
    };
    format!("{sign}{body}")
}

/// `v / div` with the remainder as decimals, trailing zeros dropped.
fn fraction(v: u64, div: u64) -> String {
    let (whole, rem) = (v / div, v % div);
    if rem == 0 {
        return whole.to_string();
    }
    let width = div.ilog10() as usize;
    let digits = format!("{rem:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}
