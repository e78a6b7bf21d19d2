//! Summary templates: the text of an alert, with `{{ ... }}` placeholders filled from the
//! rule, the count, the group and the triggering event.

use crate::notify::EventJson;

/// A summary template: text with `{{ count }}`, `{{ rule }}`, `{{ severity }}`,
/// `{{ group.<field> }}` and `{{ event.<path> }}` (a field of the triggering event).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Count,
    Rule,
    Severity,
    Group(usize),
    Event(Vec<String>),
}

/// What a template is filled with.
#[derive(Debug)]
pub(crate) struct Context<'a> {
    pub rule: &'a str,
    pub severity: &'a str,
    pub count: u64,
    pub group: &'a [Option<String>],
    pub event: Option<&'a EventJson>,
}

impl Template {
    /// Text without placeholders, taken as written.
    pub(crate) fn text(text: String) -> Template {
        Template {
            parts: vec![Part::Text(text)],
        }
    }

    pub(crate) fn parse(text: &str, group_by: &[String]) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| "`{{` without `}}`".to_string())?;
            let name = after[..close].trim();
            parts.push(match name {
                "count" => Part::Count,
                "rule" => Part::Rule,
                "severity" => Part::Severity,
                _ => {
                    if let Some(field) = name.strip_prefix("group.") {
                        let index = group_by.iter().position(|g| g == field).ok_or_else(|| {
                            format!("`{{{{ {name} }}}}`: `{field}` is not in group_by")
                        })?;
                        Part::Group(index)
                    } else if let Some(path) = name.strip_prefix("event.") {
                        Part::Event(path.split('.').map(str::to_string).collect())
                    } else {
                        return Err(format!(
                            "unknown `{{{{ {name} }}}}`; use count, rule, severity, group.<field> or event.<path>"
                        ));
                    }
                }
            });
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts })
    }

    pub(crate) fn render(&self, context: &Context<'_>) -> String {
        let mut out = String::new();
        // The event read into a tree once, if a part looks into it.
        let event = std::cell::OnceCell::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Count => out.push_str(&context.count.to_string()),
                Part::Rule => out.push_str(context.rule),
                Part::Severity => out.push_str(context.severity),
                Part::Group(index) => out.push_str(
                    context
                        .group
                        .get(*index)
                        .and_then(|v| v.as_deref())
                        .unwrap_or("-"),
                ),
                Part::Event(path) => {
                    let mut value = event
                        .get_or_init(|| context.event.and_then(EventJson::value))
                        .as_ref();
                    for key in path {
                        value = value.and_then(|v| v.get(key));
                    }
                    match value {
                        Some(serde_json::Value::String(text)) => out.push_str(text),
                        Some(other) => out.push_str(&other.to_string()),
                        None => out.push('-'),
                    }
                }
            }
        }
        out
    }
}
