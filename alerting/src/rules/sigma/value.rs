//! One field condition of a Sigma search: the rule's values after their modifiers, and
//! the test of an event's value against them.
//!
//! Strings compare case-insensitively (unless `cased`), whole (unless wildcards or
//! `contains`/`startswith`/`endswith` open them); `*` and `?` are wildcards and `\`
//! escapes them. An event value that is a list matches when one of its items does.

use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ipnet::IpNet;
use regex::{Regex, RegexBuilder};
use serde_json::Value;

use logpipe_language::REGEX_SIZE_LIMIT;

/// Variants one value may expand into (`windash`) before the rule is refused.
const MAX_EXPANSION: usize = 256;

/// A rule value turned into the test of one event value.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    Text(Pattern),
    Regex(Regex),
    Cidr(IpNet),
    Compare(Comparison, f64),
    /// The field is missing or null.
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Comparison {
    Lt,
    Lte,
    Gt,
    Gte,
}

/// A string pattern, its text lowercased unless `cased`.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    shape: Shape,
    cased: bool,
}

#[derive(Debug, Clone)]
enum Shape {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
    /// `*` alone: any value present and not null.
    Anything,
    Glob(Regex),
}

/// A piece of a Sigma string.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    /// `*`
    Any,
    /// `?`
    One,
}

/// A rule value as modifiers transform it.
#[derive(Debug, Clone)]
enum Raw {
    Pieces(Vec<Piece>),
    Bytes(Vec<u8>),
    Number(f64, String),
    Bool(bool),
    Null,
}

/// How the values of one field condition are read, from its modifiers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Modifiers {
    pub all: bool,
    pub neq: bool,
    pub exists: bool,
    pub fieldref: bool,
    contains: bool,
    startswith: bool,
    endswith: bool,
    cased: bool,
    kind: Kind,
    /// Transformations, applied in the order written.
    transforms: Vec<Transform>,
}

#[derive(Debug, Clone, Default, PartialEq)]
enum Kind {
    #[default]
    Text,
    Regex {
        insensitive: bool,
        multiline: bool,
        dotall: bool,
    },
    Cidr,
    Compare(Comparison),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Transform {
    Base64,
    Base64Offset,
    Utf16Le,
    Utf16Be,
    Utf16Bom,
    WinDash,
}

impl Modifiers {
    /// Reads the modifiers written after a field name; an error names the one that cannot
    /// be applied.
    pub(crate) fn parse(names: &[&str]) -> Result<Modifiers, String> {
        let mut modifiers = Modifiers::default();
        let mut matching_set = false;
        for name in names {
            let m = &mut modifiers;
            match *name {
                "all" => m.all = true,
                "neq" => m.neq = true,
                "exists" => m.exists = true,
                "fieldref" => m.fieldref = true,
                "cased" => m.cased = true,
                "contains" | "startswith" | "endswith" => {
                    match *name {
                        "contains" => m.contains = true,
                        "startswith" => m.startswith = true,
                        _ => m.endswith = true,
                    }
                    matching_set = true;
                }
                "re" => {
                    m.kind = Kind::Regex {
                        insensitive: false,
                        multiline: false,
                        dotall: false,
                    }
                }
                "i" | "m" | "s" => match &mut m.kind {
                    Kind::Regex {
                        insensitive,
                        multiline,
                        dotall,
                    } => match *name {
                        "i" => *insensitive = true,
                        "m" => *multiline = true,
                        _ => *dotall = true,
                    },
                    _ => return Err(format!("modifier `{name}` applies only after `re`")),
                },
                "cidr" => m.kind = Kind::Cidr,
                "lt" => m.kind = Kind::Compare(Comparison::Lt),
                "lte" => m.kind = Kind::Compare(Comparison::Lte),
                "gt" => m.kind = Kind::Compare(Comparison::Gt),
                "gte" => m.kind = Kind::Compare(Comparison::Gte),
                "base64" | "base64offset" | "utf16le" | "wide" | "utf16be" | "utf16"
                | "windash" => {
                    if matching_set {
                        return Err(format!(
                            "modifier `{name}` after `contains`/`startswith`/`endswith` would encode the wildcards"
                        ));
                    }
                    m.transforms.push(match *name {
                        "base64" => Transform::Base64,
                        "base64offset" => Transform::Base64Offset,
                        "utf16le" | "wide" => Transform::Utf16Le,
                        "utf16be" => Transform::Utf16Be,
                        "utf16" => Transform::Utf16Bom,
                        _ => Transform::WinDash,
                    });
                }
                "expand" => {
                    return Err(
                        "modifier `expand`: placeholders need values that logpipe is not given"
                            .into(),
                    );
                }
                "minute" | "hour" | "day" | "week" | "month" | "year" => {
                    return Err(format!("time modifier `{name}` is not supported"));
                }
                other => return Err(format!("unknown modifier `{other}`")),
            }
        }
        let m = &modifiers;
        let utf16 = |t: &Transform| {
            matches!(
                t,
                Transform::Utf16Le | Transform::Utf16Be | Transform::Utf16Bom
            )
        };
        let base64 = |t: &Transform| matches!(t, Transform::Base64 | Transform::Base64Offset);
        if let Some(at) = m.transforms.iter().position(utf16)
            && !m.transforms[at..].iter().any(base64)
        {
            return Err("`utf16…`/`wide` without `base64` after it cannot match text".into());
        }
        let text_only = m.contains || m.startswith || m.endswith || !m.transforms.is_empty();
        if m.kind != Kind::Text && (text_only || m.cased) {
            return Err(
                "`re`, `cidr` and comparisons take no string modifier (`contains`, `base64`, `cased`, …)"
                    .into(),
            );
        }
        if m.exists && (text_only || m.kind != Kind::Text || m.all || m.neq || m.fieldref) {
            return Err("`exists` takes no other modifier".into());
        }
        if m.fieldref && (!m.transforms.is_empty() || m.kind != Kind::Text) {
            return Err("`fieldref` compares field values as they are: no encoding, `re`, `cidr` or comparison".into());
        }
        Ok(modifiers)
    }

    /// The same for keywords, which are found anywhere in a text as full-text search
    /// finds them, unless `startswith`, `endswith` or `re` say otherwise.
    pub(crate) fn for_keywords(&self) -> Modifiers {
        let mut keywords = self.clone();
        keywords.contains |= !(self.startswith || self.endswith);
        keywords
    }

    /// The matchers of one rule value: several when a transformation expands it (any of
    /// them matches).
    pub(crate) fn matchers(&self, value: &Value) -> Result<Vec<Matcher>, String> {
        let raw = match value {
            Value::String(text) => Raw::Pieces(pieces(text)),
            Value::Number(number) => {
                Raw::Number(number.as_f64().unwrap_or(f64::NAN), number.to_string())
            }
            Value::Bool(b) => Raw::Bool(*b),
            Value::Null => Raw::Null,
            Value::Array(_) | Value::Object(_) => {
                return Err("a value must be a string, a number, a boolean or null".into());
            }
        };
        match &self.kind {
            Kind::Regex {
                insensitive,
                multiline,
                dotall,
            } => {
                let Value::String(pattern) = value else {
                    return Err("`re` takes a string".into());
                };
                RegexBuilder::new(pattern)
                    .case_insensitive(*insensitive)
                    .multi_line(*multiline)
                    .dot_matches_new_line(*dotall)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .dfa_size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map(|regex| vec![Matcher::Regex(regex)])
                    .map_err(|e| format!("`re`: {e}"))
            }
            Kind::Cidr => {
                let Value::String(text) = value else {
                    return Err("`cidr` takes a network such as 10.0.0.0/8".into());
                };
                text.parse::<IpNet>()
                    .map(|net| vec![Matcher::Cidr(net.trunc())])
                    .map_err(|e| format!("`cidr` {text:?}: {e}"))
            }
            Kind::Compare(comparison) => match raw {
                Raw::Number(number, _) => Ok(vec![Matcher::Compare(*comparison, number)]),
                _ => Err("comparisons (`lt`, `gt`, …) take a number".into()),
            },
            Kind::Text => {
                if let Raw::Null = raw {
                    if self.contains
                        || self.startswith
                        || self.endswith
                        || !self.transforms.is_empty()
                    {
                        return Err("null takes no string modifier".into());
                    }
                    return Ok(vec![Matcher::Null]);
                }
                let mut values = vec![raw];
                for transform in &self.transforms {
                    values = values
                        .into_iter()
                        .map(|value| apply(*transform, value))
                        .collect::<Result<Vec<_>, _>>()?
                        .into_iter()
                        .flatten()
                        .collect();
                    if values.len() > MAX_EXPANSION {
                        return Err(format!(
                            "a value expands into more than {MAX_EXPANSION} variants"
                        ));
                    }
                }
                values
                    .into_iter()
                    .map(|value| {
                        let mut pieces = match value {
                            Raw::Pieces(pieces) => pieces,
                            Raw::Bytes(bytes) => match String::from_utf8(bytes) {
                                Ok(text) => vec![Piece::Text(text)],
                                Err(_) => {
                                    return Err(
                                        "an encoded value is not text (`utf16…` needs `base64` after it)"
                                            .into(),
                                    );
                                }
                            },
                            Raw::Number(_, text) => vec![Piece::Text(text)],
                            Raw::Bool(b) => vec![Piece::Text(b.to_string())],
                            Raw::Null => unreachable!("null returned above"),
                        };
                        if self.contains || self.endswith {
                            pieces.insert(0, Piece::Any);
                        }
                        if self.contains || self.startswith {
                            pieces.push(Piece::Any);
                        }
                        Ok(Matcher::Text(Pattern::new(pieces, self.cased)))
                    })
                    .collect()
            }
        }
    }
}

/// A Sigma string split into text and wildcards: `\*`, `\?` and `\\` before a wildcard
/// are escapes, any other `\` is itself.
fn pieces(text: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some('*' | '?') => current.push(chars.next().unwrap_or('*')),
                Some('\\') => {
                    chars.next();
                    current.push('\\');
                }
                _ => current.push('\\'),
            },
            '*' | '?' => {
                if !current.is_empty() {
                    out.push(Piece::Text(std::mem::take(&mut current)));
                }
                out.push(if c == '*' { Piece::Any } else { Piece::One });
            }
            _ => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(Piece::Text(current));
    }
    out
}

fn literal(value: &Raw) -> Result<Vec<u8>, String> {
    match value {
        Raw::Pieces(pieces) => {
            let mut out = String::new();
            for piece in pieces {
                match piece {
                    Piece::Text(text) => out.push_str(text),
                    Piece::Any | Piece::One => {
                        return Err("an encoded value cannot hold wildcards".into());
                    }
                }
            }
            Ok(out.into_bytes())
        }
        Raw::Bytes(bytes) => Ok(bytes.clone()),
        Raw::Number(_, text) => Ok(text.clone().into_bytes()),
        Raw::Bool(b) => Ok(b.to_string().into_bytes()),
        Raw::Null => Err("null cannot be encoded".into()),
    }
}

fn apply(transform: Transform, value: Raw) -> Result<Vec<Raw>, String> {
    let utf16 = |value: &Raw, little: bool, bom: bool| -> Result<Vec<u8>, String> {
        let text = String::from_utf8(literal(value)?).map_err(|_| "utf16 of bytes".to_string())?;
        let mut out = Vec::new();
        if bom {
            out.extend([0xFF, 0xFE]);
        }
        for unit in text.encode_utf16() {
            if little {
                out.extend(unit.to_le_bytes());
            } else {
                out.extend(unit.to_be_bytes());
            }
        }
        Ok(out)
    };
    Ok(match transform {
        Transform::Base64 => vec![Raw::Bytes(BASE64.encode(literal(&value)?).into_bytes())],
        Transform::Base64Offset => {
            // pySigma's three shifts: the part of each encoding that does not depend on
            // the bytes around the value.
            let bytes = literal(&value)?;
            const START: [usize; 3] = [0, 2, 3];
            const END: [usize; 3] = [0, 3, 2];
            (0..3)
                .map(|shift| {
                    let mut shifted = vec![b' '; shift];
                    shifted.extend(&bytes);
                    let encoded = BASE64.encode(&shifted).into_bytes();
                    let end = encoded.len() - END[(bytes.len() + shift) % 3];
                    Raw::Bytes(encoded[START[shift].min(end)..end].to_vec())
                })
                .collect()
        }
        Transform::Utf16Le => vec![Raw::Bytes(utf16(&value, true, false)?)],
        Transform::Utf16Be => vec![Raw::Bytes(utf16(&value, false, false)?)],
        Transform::Utf16Bom => vec![Raw::Bytes(utf16(&value, true, true)?)],
        Transform::WinDash => windash(value)?,
    })
}

/// Every spelling of the value with each option dash (`-` or `/` starting a word) written
/// as `-`, `/`, en dash, em dash or horizontal bar.
fn windash(value: Raw) -> Result<Vec<Raw>, String> {
    const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
    let Raw::Pieces(pieces) = value else {
        return Ok(vec![value]);
    };
    let mut variants: Vec<Vec<Piece>> = vec![Vec::new()];
    for piece in pieces {
        let Piece::Text(text) = piece else {
            variants.iter_mut().for_each(|v| v.push(piece.clone()));
            continue;
        };
        let chars: Vec<char> = text.chars().collect();
        let mut texts = vec![String::new()];
        for (i, c) in chars.iter().enumerate() {
            let word = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric() || *c == '_');
            let option_dash = matches!(c, '-' | '/')
                && !word(i.checked_sub(1).and_then(|p| chars.get(p)))
                && word(chars.get(i + 1));
            if option_dash {
                texts = texts
                    .into_iter()
                    .flat_map(|t| DASHES.iter().map(move |d| format!("{t}{d}")))
                    .collect();
                if texts.len() > MAX_EXPANSION {
                    return Err(format!(
                        "`windash` expands into more than {MAX_EXPANSION} variants"
                    ));
                }
            } else {
                texts.iter_mut().for_each(|t| t.push(*c));
            }
        }
        variants = variants
            .into_iter()
            .flat_map(|v| {
                texts.iter().map(move |t| {
                    let mut v = v.clone();
                    v.push(Piece::Text(t.clone()));
                    v
                })
            })
            .collect();
        if variants.len() > MAX_EXPANSION {
            return Err(format!(
                "`windash` expands into more than {MAX_EXPANSION} variants"
            ));
        }
    }
    Ok(variants.into_iter().map(Raw::Pieces).collect())
}

impl Pattern {
    fn new(pieces: Vec<Piece>, cased: bool) -> Pattern {
        let fold = |text: &str| {
            if cased {
                text.to_string()
            } else {
                text.to_lowercase()
            }
        };
        // Runs of `*` are one.
        let mut merged: Vec<Piece> = Vec::with_capacity(pieces.len());
        for piece in pieces {
            if piece == Piece::Any && merged.last() == Some(&Piece::Any) {
                continue;
            }
            merged.push(piece);
        }
        let shape = match merged.as_slice() {
            [] => Shape::Exact(String::new()),
            [Piece::Any] => Shape::Anything,
            [Piece::Text(t)] => Shape::Exact(fold(t)),
            [Piece::Text(t), Piece::Any] => Shape::Prefix(fold(t)),
            [Piece::Any, Piece::Text(t)] => Shape::Suffix(fold(t)),
            [Piece::Any, Piece::Text(t), Piece::Any] => Shape::Contains(fold(t)),
            _ => {
                let mut regex = String::from(if cased { "(?s)^" } else { "(?si)^" });
                for piece in &merged {
                    match piece {
                        Piece::Text(t) => regex.push_str(&regex::escape(t)),
                        Piece::Any => regex.push_str(".*"),
                        Piece::One => regex.push('.'),
                    }
                }
                regex.push('$');
                match RegexBuilder::new(&regex)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .dfa_size_limit(REGEX_SIZE_LIMIT)
                    .build()
                {
                    Ok(regex) => Shape::Glob(regex),
                    // Escaped text and wildcards only: beyond the size limit at most, and
                    // then it matches nothing rather than everything.
                    Err(_) => Shape::Exact("\u{0}never\u{0}".into()),
                }
            }
        };
        Pattern { shape, cased }
    }

    /// Whether `text` (an event's string, or a number or boolean written out) matches.
    pub(crate) fn matches_text(&self, text: &str) -> bool {
        let folded;
        let text = if self.cased || matches!(self.shape, Shape::Glob(_) | Shape::Anything) {
            text
        } else {
            folded = text.to_lowercase();
            folded.as_str()
        };
        match &self.shape {
            Shape::Exact(p) => text == p,
            Shape::Prefix(p) => text.starts_with(p.as_str()),
            Shape::Suffix(p) => text.ends_with(p.as_str()),
            Shape::Contains(p) => text.contains(p.as_str()),
            Shape::Anything => true,
            Shape::Glob(regex) => regex.is_match(text),
        }
    }

    /// `*` alone, which also takes objects and lists as values.
    fn is_anything(&self) -> bool {
        matches!(self.shape, Shape::Anything)
    }
}

/// The text a scalar event value is compared as.
pub(crate) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Matcher {
    /// Whether one event value (never a list: lists are taken item by item) matches;
    /// `None` is a missing field.
    pub(crate) fn matches(&self, value: Option<&Value>) -> bool {
        match self {
            Matcher::Null => matches!(value, None | Some(Value::Null)),
            Matcher::Text(pattern) => match value {
                None | Some(Value::Null) => false,
                Some(Value::Object(_) | Value::Array(_)) => pattern.is_anything(),
                Some(scalar) => scalar_text(scalar).is_some_and(|text| pattern.matches_text(&text)),
            },
            Matcher::Regex(regex) => value
                .and_then(scalar_text)
                .is_some_and(|text| regex.is_match(&text)),
            Matcher::Cidr(net) => value
                .and_then(Value::as_str)
                .and_then(|text| text.trim().parse::<IpAddr>().ok())
                .is_some_and(|ip| net.contains(&ip)),
            Matcher::Compare(comparison, bound) => {
                let number = match value {
                    Some(Value::Number(n)) => n.as_f64(),
                    Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
                    _ => None,
                };
                number.is_some_and(|n| match comparison {
                    Comparison::Lt => n < *bound,
                    Comparison::Lte => n <= *bound,
                    Comparison::Gt => n > *bound,
                    Comparison::Gte => n >= *bound,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn one(modifiers: &[&str], value: Value) -> Vec<Matcher> {
        Modifiers::parse(modifiers)
            .unwrap()
            .matchers(&value)
            .unwrap()
    }

    fn any(matchers: &[Matcher], event: Value) -> bool {
        matchers.iter().any(|m| m.matches(Some(&event)))
    }

    #[test]
    fn strings_match_whole_and_without_case_unless_opened_or_cased() {
        let exact = one(&[], json!("Create"));
        assert!(any(&exact, json!("create")));
        assert!(!any(&exact, json!("created")));
        let contains = one(&["contains"], json!("/bin/SH"));
        assert!(any(&contains, json!("/api?command=/bin/sh&tty=1")));
        assert!(any(
            &one(&["endswith"], json!("\\cmd.exe")),
            json!("C:\\Windows\\CMD.exe")
        ));
        assert!(!any(
            &one(&["startswith", "cased"], json!("Adm")),
            json!("admin")
        ));
        assert!(any(
            &one(&["startswith", "cased"], json!("Adm")),
            json!("Admin")
        ));
        assert!(any(&one(&[], json!("prog?.ex*")), json!("PROGA.exe.bak")));
        assert!(!any(&one(&[], json!("prog?.exe")), json!("progAB.exe")));
    }

    #[test]
    fn escapes_keep_wildcards_literal() {
        let star = one(&[], json!("a\\*b"));
        assert!(any(&star, json!("a*b")));
        assert!(!any(&star, json!("axxb")));
        // `\\*`: a backslash, then a wildcard.
        let backslash_then_any = one(&[], json!("a\\\\*"));
        assert!(any(&backslash_then_any, json!("a\\anything")));
        // A backslash before anything else is itself.
        assert!(any(&one(&[], json!("C:\\Windows")), json!("c:\\windows")));
    }

    #[test]
    fn numbers_booleans_null_and_lists() {
        let code = one(&[], json!(403));
        assert!(any(&code, json!(403)));
        assert!(any(&code, json!("403")));
        assert!(!any(&code, json!(200)));
        assert!(any(&one(&[], json!(true)), json!("True")));
        let null = one(&[], Value::Null);
        assert!(null[0].matches(None));
        assert!(null[0].matches(Some(&Value::Null)));
        assert!(!null[0].matches(Some(&json!(""))));
        // `*` alone takes any value present, objects included.
        let anything = one(&[], json!("*"));
        assert!(any(&anything, json!({"path": "/etc"})));
        assert!(!anything[0].matches(None));
    }

    #[test]
    fn regex_cidr_and_comparisons() {
        assert!(any(
            &one(&["re"], json!("^/api/v1/.*secrets")),
            json!("/api/v1/namespaces/x/secrets")
        ));
        assert!(!any(&one(&["re"], json!("SECRETS")), json!("secrets")));
        assert!(any(&one(&["re", "i"], json!("SECRETS")), json!("secrets")));
        let net = one(&["cidr"], json!("10.0.0.0/8"));
        assert!(any(&net, json!("10.2.3.4")));
        assert!(!any(&net, json!("192.168.0.1")));
        assert!(!any(&net, json!("not an ip")));
        assert!(any(&one(&["cidr"], json!("fd00::/8")), json!("fd12::1")));
        assert!(any(&one(&["gte"], json!(400)), json!(403)));
        assert!(!any(&one(&["lt"], json!(400)), json!("403")));
    }

    #[test]
    fn base64_and_its_offsets_are_those_of_pysigma() {
        let plain = one(&["base64"], json!("/bin/bash"));
        assert!(any(&plain, json!("L2Jpbi9iYXNo")));
        // pySigma's documented example: `base64offset` of "/bin/bash".
        let offsets = one(&["base64offset", "contains"], json!("/bin/bash"));
        assert_eq!(offsets.len(), 3);
        for encoded in ["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"] {
            assert!(
                any(&offsets, json!(format!("echo xx{encoded}yy"))),
                "{encoded}"
            );
        }
        let wide = one(&["wide", "base64"], json!("cmd"));
        assert!(any(&wide, json!("YwBtAGQA")));
    }

    #[test]
    fn windash_spells_every_option_dash() {
        let variants = one(&["windash", "contains"], json!(" -exec "));
        assert_eq!(variants.len(), 5);
        assert!(any(&variants, json!("find . /exec x")));
        assert!(any(&variants, json!("find . \u{2013}exec x")));
        // A dash inside a word is not an option.
        assert_eq!(one(&["windash"], json!("x-y")).len(), 1);
    }

    #[test]
    fn impossible_modifier_chains_are_refused_with_a_reason() {
        for (modifiers, value, reason) in [
            (vec!["expand"], json!("%Servers%"), "placeholders"),
            (vec!["hour"], json!(3), "time modifier"),
            (
                vec!["frobnicate"],
                json!("x"),
                "unknown modifier `frobnicate`",
            ),
            (
                vec!["contains", "base64"],
                json!("x"),
                "encode the wildcards",
            ),
            (vec!["re", "contains"], json!("x"), "no string modifier"),
            (vec!["i"], json!("x"), "only after `re`"),
            (vec!["exists", "contains"], json!(true), "no other modifier"),
            (vec!["utf16le"], json!("cmd"), "without `base64`"),
        ] {
            let error = Modifiers::parse(&modifiers)
                .and_then(|m| m.matchers(&value))
                .unwrap_err();
            assert!(error.contains(reason), "{modifiers:?}: {error}");
        }
        for (modifiers, value, reason) in [
            (vec!["re"], json!("(?<=a)b"), "`re`"),
            (vec!["cidr"], json!("10.0.0.0/33"), "`cidr`"),
            (vec!["gt"], json!("ten"), "take a number"),
            (vec!["base64"], json!("a*"), "wildcards"),
        ] {
            let error = Modifiers::parse(&modifiers)
                .unwrap()
                .matchers(&value)
                .unwrap_err();
            assert!(error.contains(reason), "{modifiers:?}: {error}");
        }
    }
}
