//! `logpipe config`: the variable declarations rendered for people, as plain text or as
//! the Markdown of `docs/configuration.md`.

use std::fmt::Write;

use super::VarSpec;

pub fn render_section(title: &str, vars: &[&VarSpec], markdown: bool) -> String {
    let mut out = String::new();
    if markdown {
        let _ = writeln!(out, "## {title}\n");
        if vars.is_empty() {
            let _ = writeln!(out, "No variables of its own yet.\n");
            return out;
        }
        let _ = writeln!(out, "| variable | default | expected | description |");
        let _ = writeln!(out, "|---|---|---|---|");
        for spec in vars {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {}{} |",
                spec.name,
                spec.default
                    .map_or("unset".to_owned(), |value| format!("`{value}`")),
                spec.expected(),
                spec.description.replace('|', "\\|"),
                if spec.secret {
                    " Secret: masked in logs."
                } else {
                    ""
                }
            );
        }
        let _ = writeln!(out);
    } else {
        let _ = writeln!(out, "# {title}");
        for spec in vars {
            let default = spec
                .default
                .map_or("unset".to_owned(), |value| format!("{value:?}"));
            let _ = writeln!(out, "{} (default: {default})", spec.name);
            let _ = writeln!(out, "    {}", spec.description);
            let _ = writeln!(
                out,
                "    expects {}{}",
                spec.expected(),
                if spec.secret { "; secret" } else { "" }
            );
        }
        let _ = writeln!(out);
    }
    out
}
