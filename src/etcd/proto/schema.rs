//! The schema table: the messages of the Kubernetes 1.11 and OpenShift 3.11 API
//! groups, their field numbers, wire types and JSON names (`schema/types.tbl`,
//! written by `schema/extract.py` from the wire facts; the format is below).
//!
//! ```text
//! package <proto package> <group/version, or "v1" for the core group>
//! message <name> [list]          # list: a Go slice or map type whose JSON is its `items`
//! <number> <json name> <type> <flags>
//! ```
//!
//! `<type>` is a scalar (`string`, `bytes`, `bool`, `int32`, ...), a message's full
//! name, or `map:<key type>:<value type>`. Flags: `r` repeated, `o` omitempty (Go
//! leaves a zero value out of the JSON), `p` a pointer in Go (any value on the wire is
//! shown, zero included), `i` inline (its fields join the parent object), `h` not in
//! the JSON, `-` none.

use std::collections::HashMap;
use std::sync::OnceLock;

const TABLE: &str = include_str!("schema/types.tbl");

/// A scalar protobuf type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    String,
    Bytes,
    Bool,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Double,
    Float,
    Fixed32,
    Fixed64,
}

impl Scalar {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "string" => Self::String,
            "bytes" => Self::Bytes,
            "bool" => Self::Bool,
            "int32" => Self::Int32,
            "int64" => Self::Int64,
            "uint32" => Self::Uint32,
            "uint64" => Self::Uint64,
            "sint32" => Self::Sint32,
            "sint64" => Self::Sint64,
            "double" => Self::Double,
            "float" => Self::Float,
            "fixed32" => Self::Fixed32,
            "fixed64" => Self::Fixed64,
            _ => return None,
        })
    }

    /// The protobuf name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Bytes => "bytes",
            Self::Bool => "bool",
            Self::Int32 => "int32",
            Self::Int64 => "int64",
            Self::Uint32 => "uint32",
            Self::Uint64 => "uint64",
            Self::Sint32 => "sint32",
            Self::Sint64 => "sint64",
            Self::Double => "double",
            Self::Float => "float",
            Self::Fixed32 => "fixed32",
            Self::Fixed64 => "fixed64",
        }
    }
}

/// The type of a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    Scalar(Scalar),
    /// A message, by full name.
    Message(String),
    /// `map<key, value>`: repeated entries {1 key, 2 value}.
    Map(Box<Ty>, Box<Ty>),
}

/// One field of a message.
#[derive(Debug, Clone)]
pub struct FieldDef {
    pub number: u32,
    pub json: String,
    pub ty: Ty,
    pub repeated: bool,
    pub omitempty: bool,
    pub pointer: bool,
    pub inline: bool,
    pub hidden: bool,
}

/// One message.
#[derive(Debug, Clone)]
pub struct Message {
    /// The full name, `package.Name`.
    pub name: String,
    /// A Go slice or map type: its JSON is its `items` (field 1), an array or an object.
    pub list: bool,
    pub fields: Vec<FieldDef>,
}

impl Message {
    pub fn field(&self, number: u32) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.number == number)
    }
}

/// An API group version and the proto package that holds its types.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    /// `apps/v1`, `route.openshift.io/v1`, or `v1` for the core group.
    pub group_version: String,
}

/// All messages of the table.
#[derive(Debug, Default)]
pub struct Registry {
    pub packages: Vec<Package>,
    messages: HashMap<String, Message>,
}

impl Registry {
    /// The registry of the built-in table, parsed once.
    pub fn get() -> &'static Registry {
        static REGISTRY: OnceLock<Registry> = OnceLock::new();
        // The table is part of the binary and checked by the unit tests; a line that
        // does not parse is skipped rather than taking down the command.
        REGISTRY.get_or_init(|| Registry::parse(TABLE).unwrap_or_default())
    }

    /// A message by full name.
    pub fn message(&self, full_name: &str) -> Option<&Message> {
        self.messages.get(full_name)
    }

    /// The message `kind` of a package.
    pub fn kind(&self, package: &Package, kind: &str) -> Option<&Message> {
        self.messages.get(&format!("{}.{kind}", package.name))
    }

    /// How many messages the table has.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// All messages.
    pub fn messages(&self) -> impl Iterator<Item = &Message> {
        self.messages.values()
    }

    /// Parses a table; errors name the line.
    pub fn parse(text: &str) -> Result<Registry, String> {
        let mut reg = Registry::default();
        let mut package: Option<String> = None;
        let mut current: Option<Message> = None;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |why: &str| format!("schema table line {}: {why}", i + 1);
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["package", name, gv] => {
                    if let Some(m) = current.take() {
                        reg.messages.insert(m.name.clone(), m);
                    }
                    package = Some((*name).to_string());
                    reg.packages.push(Package {
                        name: (*name).to_string(),
                        group_version: (*gv).to_string(),
                    });
                }
                ["message", name, rest @ ..] => {
                    let pkg = package
                        .as_ref()
                        .ok_or_else(|| bad("message before package"))?;
                    if let Some(m) = current.take() {
                        reg.messages.insert(m.name.clone(), m);
                    }
                    current = Some(Message {
                        name: format!("{pkg}.{name}"),
                        list: rest == ["list"],
                        fields: Vec::new(),
                    });
                }
                [number, json, ty, flags] => {
                    let m = current
                        .as_mut()
                        .ok_or_else(|| bad("field before message"))?;
                    let number = number.parse().map_err(|_| bad("field number"))?;
                    let ty = parse_ty(ty).ok_or_else(|| bad("type"))?;
                    m.fields.push(FieldDef {
                        number,
                        json: (*json).to_string(),
                        ty,
                        repeated: flags.contains('r'),
                        omitempty: flags.contains('o'),
                        pointer: flags.contains('p'),
                        inline: flags.contains('i'),
                        hidden: flags.contains('h'),
                    });
                }
                _ => return Err(bad("not a package, message or field line")),
            }
        }
        if let Some(m) = current.take() {
            reg.messages.insert(m.name.clone(), m);
        }
        Ok(reg)
    }
}

fn parse_ty(s: &str) -> Option<Ty> {
    if let Some(rest) = s.strip_prefix("map:") {
        let (k, v) = rest.split_once(':')?;
        return Some(Ty::Map(Box::new(parse_ty(k)?), Box::new(parse_ty(v)?)));
    }
    Some(match Scalar::parse(s) {
        Some(sc) => Ty::Scalar(sc),
        None => Ty::Message(s.to_string()),
    })
}
