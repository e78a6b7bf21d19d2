//! `logpipe alerting check DIR [--notifiers FILE]`: validates rules (and the notifiers
//! they name) for CI, printing `file:line: message` per problem; exit status 1 on any.
//! Sigma rules left out (a log source logpipe does not collect) are listed with why.

use std::path::Path;
use std::process::ExitCode;

use crate::rules::{self, FileError};

/// Checks the rules in `dir` and, when given, the notifiers file and the names rules use.
pub fn check(dir: &Path, notifiers: Option<&Path>) -> ExitCode {
    let mut errors: Vec<FileError> = Vec::new();
    let (rules, skipped) = match rules::load_tree(dir) {
        Ok(loaded) => (loaded.rules, loaded.skipped),
        Err(found) => {
            errors.extend(found);
            (Vec::new(), Vec::new())
        }
    };
    for left_out in &skipped {
        println!("{}: left out: {}", left_out.file.display(), left_out.reason);
    }
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
        let sigma = rules.iter().filter(|rule| rule.sigma).count();
        println!(
            "{} rules OK in {} ({sigma} of them Sigma rules; {} Sigma rules left out)",
            rules.len(),
            dir.display(),
            skipped.len()
        );
        ExitCode::SUCCESS
    } else {
        for error in &errors {
            eprintln!("{error}");
        }
        ExitCode::FAILURE
    }
}
