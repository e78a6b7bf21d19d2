//! Alert rules: one YAML file per rule in `LOGPIPE_ALERTING_RULES_DIR` or its
//! subdirectories, validated as a whole so that a bad change is reported with
//! `file:line` and never half-applied. A file with `logsource` and `detection` is a Sigma
//! rule (`sigma`).
//!
//! ```yaml
//! name: checkout-errors
//! type: threshold            # match | threshold | absence | ratio | new_value | cardinality
//! query: 'k8s.namespace:shop AND level:error'
//! window: 1m
//! threshold: 5
//! group_by: [k8s.pod]
//! severity: critical
//! summary: '{{ count }} errors in {{ group.k8s.pod }}'
//! notify: [oncall]
//! realert: 10m
//! ```
//!
//! `notify` is required; an explicit `notify: []` keeps a rule's alerts to the log and
//! the alerts topic.
//!
//! ```text
//! text ─ RuleFile (source) ─ checked key by key (validate) ─ Rule (rule), its Template
//! (template); `file` runs the steps for one file and for a directory
//! text ─ Sigma rule ─ Detection over its log source (sigma) ─ Rule
//! ```

mod file;
mod rule;
mod sigma;
mod source;
mod template;
mod validate;

pub(crate) use file::undefined_notifiers;
pub use file::{Loaded, Skipped, load_dir, load_tree, parse_rule, rule_files};
pub use rule::Rule;
pub(crate) use rule::{Matcher, RuleKind, field_value};
pub use source::FileError;
pub(crate) use template::Context;
