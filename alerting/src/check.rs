//! `logpipe alerting check DIR [--notifiers FILE]`: validates rules (and the notifiers
//! they name) for CI, printing `file:line: message` per problem; exit status 1 on any.

use std::path::Path;
use std::process::ExitCode;

use crate::rules::{self, FileError};

/// Checks the rules in `dir` and, when given, the notifiers file and the names rules use.
pub fn check(dir: &Path, notifiers: Option<&Path>) -> ExitCode {
    let mut errors: Vec<FileError> = Vec::new();
    let rules = match rules::load_dir(dir) {
        Ok(rules) => rules,
        Err(found) => {
            errors.extend(found);
            Vec::new()
        }
    };
    if let Some(path) = notifiers {
        match crate::notify::Notifiers::load(path, &|name| std::env::var(name).ok()) {
            Ok(known) => {
                for rule in &rules {
                    for name in &rule.notify {
                        if known.get(name).is_none() {
                            let text = std::fs::read_to_string(&rule.file).unwrap_or_default();
                            errors.push(FileError {
                                file: rule.file.clone(),
                                line: rules::line_of(&text, "notify"),
                                message: format!(
                                    "notifier `{name}` is not defined in {}",
                                    path.display()
                                ),
                            });
                        }
                    }
                }
            }
            Err(found) => errors.extend(found),
        }
    }
    if errors.is_empty() {
        println!("{} rules OK in {}", rules.len(), dir.display());
        ExitCode::SUCCESS
    } else {
        for error in &errors {
            eprintln!("{error}");
        }
        ExitCode::FAILURE
    }
}
