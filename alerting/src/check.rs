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
            Ok(known) => errors.extend(rules::undefined_notifiers(
                &rules,
                Some(&known),
                &format!("in {}", path.display()),
            )),
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
