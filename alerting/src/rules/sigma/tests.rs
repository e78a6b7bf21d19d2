//! The Sigma rules of `../shared/data/sigma-rules` loaded as a directory, and the Falco
//! audit traces of `../shared/data/falco-k8s-audit` as the test of what they detect.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use logpipe_common::testkit::{audit_events, shared_data};

use crate::rules::{Context, FileError, Rule, load_tree};

fn sigma_rules() -> PathBuf {
    shared_data().join("sigma-rules/rules")
}

/// Every `.yml` under `dir`, counted apart from the loader.
fn yml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(yml_files(&path));
        } else if path.extension().is_some_and(|e| e == "yml") {
            out.push(path);
        }
    }
    out
}

#[test]
fn every_sigma_rule_for_kubernetes_audit_loads_and_the_rest_are_left_out_with_why() {
    let loaded = load_tree(&sigma_rules()).unwrap_or_else(|errors| {
        panic!(
            "{}",
            errors
                .iter()
                .map(FileError::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    let audit_dir = sigma_rules().join("application/kubernetes/audit");
    let audit: BTreeSet<PathBuf> = yml_files(&audit_dir).into_iter().collect();
    let everything = yml_files(&sigma_rules());
    assert_eq!(audit.len(), 16);
    let files: BTreeSet<PathBuf> = loaded.rules.iter().map(|r| r.file.clone()).collect();
    assert_eq!(files, audit, "exactly the Kubernetes audit rules load");
    assert_eq!(loaded.skipped.len(), everything.len() - audit.len());
    for skipped in &loaded.skipped {
        assert!(
            skipped.reason.contains("is not a source logpipe collects")
                || skipped.reason.starts_with("status ")
                || skipped.reason.starts_with("level informational"),
            "{skipped:?}"
        );
    }
    for rule in &loaded.rules {
        assert!(rule.sigma);
        assert_eq!(rule.query.to_string(), "source.name:\"kube-audit\"");
        // The Detection Rule License: every alert names the author.
        let author = &rule.labels["sigma_author"];
        assert_ne!(author, "unknown", "{}", rule.name);
        let summary = rule.summary.render(&Context {
            rule: &rule.name,
            severity: &rule.severity,
            count: 1,
            group: &[],
            event: None,
        });
        assert!(summary.contains(author.as_str()), "{summary}");
        for label in ["sigma_id", "sigma_title", "sigma_level", "sigma_tags"] {
            assert!(rule.labels.contains_key(label), "{}: {label}", rule.name);
        }
    }
    let exec = loaded
        .rules
        .iter()
        .find(|r| r.name == "kubernetes_audit_exec_into_container")
        .unwrap();
    assert_eq!(
        exec.labels["sigma_id"],
        "a1b0ca4e-7835-413e-8471-3ff2b8a66be6"
    );
    assert_eq!(exec.labels["sigma_author"], "Leo Tsaousis (@laripping)");
    assert_eq!(exec.labels["sigma_tags"], "attack.t1609,attack.execution");
    assert_eq!(exec.severity, "warning");
}

/// Which Falco rules (of `expected_detections.json`) a Sigma rule answers to, and where
/// the two rules are written to differ: trace files the Falco rules detect that the Sigma
/// rule does not look for, and files it detects that they leave alone.
struct Pairing {
    sigma: &'static str,
    falco: &'static [&'static str],
    not_detected: &'static [(&'static str, &'static str)],
    also_detected: &'static [(&'static str, &'static str)],
}

const PAIRINGS: &[Pairing] = &[
    Pairing {
        sigma: "kubernetes_audit_exec_into_container",
        falco: &["Attach/Exec Pod"],
        not_detected: &[(
            "attach_pod.json",
            "the Sigma rule names the `exec` subresource only",
        )],
        also_detected: &[],
    },
    Pairing {
        sigma: "kubernetes_audit_deployment_deleted",
        falco: &["K8s Deployment Deleted"],
        not_detected: &[],
        also_detected: &[],
    },
    Pairing {
        sigma: "kubernetes_audit_serviceaccount_creation",
        falco: &[
            "K8s Serviceaccount Created",
            "Service Account Created in Kube Namespace",
        ],
        not_detected: &[],
        also_detected: &[],
    },
    Pairing {
        sigma: "kubernetes_audit_pod_in_system_namespace",
        falco: &["Pod Created in Kube Namespace"],
        not_detected: &[(
            "create_pod_kube_public_namespace.json",
            "the Sigma rule names kube-system only; Falco's also kube-public",
        )],
        also_detected: &[],
    },
    Pairing {
        sigma: "kubernetes_audit_secrets_modified_or_deleted",
        falco: &["K8s Secret Created", "K8s Secret Deleted"],
        not_detected: &[],
        also_detected: &[
            (
                "create_service_account_token_secret.json",
                "Falco's rule excepts service account token secrets; the Sigma rule has no filter",
            ),
            (
                "create_kube_system_secret.json",
                "Falco's rule excepts kube-system; the Sigma rule has no filter",
            ),
        ],
    },
    Pairing {
        sigma: "kubernetes_audit_rolebinding_modification",
        falco: &[
            "K8s Role/Clusterrolebinding Created",
            "K8s Role/Clusterrolebinding Deleted",
            "Attach to cluster-admin Role",
        ],
        not_detected: &[],
        also_detected: &[],
    },
    Pairing {
        sigma: "kubernetes_audit_hostpath_mount",
        falco: &["Create Sensitive Mount Pod"],
        not_detected: &[],
        also_detected: &[],
    },
    Pairing {
        sigma: "kubernetes_audit_privileged_pod_creation",
        falco: &["Create Privileged Pod"],
        not_detected: &[
            (
                "create_nginx_pod_privileged.json",
                "Falco reads securityContext.privileged; the Sigma rule reads capabilities, which these pods do not set",
            ),
            ("create_nginx_pod_privileged_2nd_container.json", "as above"),
            (
                "create_nginx_pod_no_secctx_1st_container_privileged_2nd_container.json",
                "as above",
            ),
        ],
        also_detected: &[],
    },
];

#[test]
fn sigma_rules_detect_what_the_falco_traces_expect() {
    let data = shared_data().join("falco-k8s-audit");
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("expected_detections.json")).unwrap())
            .unwrap();
    // Falco rule → the trace files its cases expect it to detect.
    let mut falco: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for case in expected["cases"].as_array().unwrap() {
        let file = case["trace_file"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap();
        for counts in case["detect_counts"].as_array().into_iter().flatten() {
            for rule in counts.as_object().unwrap().keys() {
                falco
                    .entry(rule.clone())
                    .or_default()
                    .insert(file.to_string());
            }
        }
    }

    let rules: Vec<Rule> = load_tree(&sigma_rules()).unwrap().rules;
    let traces = data.join("trace_files/k8s_audit");
    let mut fired: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut events = 0;
    for entry in std::fs::read_dir(&traces).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        for event in audit_events(&path) {
            events += 1;
            for rule in &rules {
                if rule.predicate.matches(&event) {
                    fired
                        .entry(rule.name.clone())
                        .or_default()
                        .insert(file.clone());
                }
            }
        }
    }
    assert!(events >= 51, "{events} events read");

    let paired: BTreeSet<&str> = PAIRINGS.iter().map(|p| p.sigma).collect();
    for pairing in PAIRINGS {
        let mut want: BTreeSet<String> = pairing
            .falco
            .iter()
            .flat_map(|rule| {
                falco
                    .get(*rule)
                    .unwrap_or_else(|| panic!("no case expects Falco rule {rule:?}"))
                    .clone()
            })
            .collect();
        for (file, _why) in pairing.not_detected {
            assert!(
                want.remove(*file),
                "{}: {file} is not a Falco detection",
                pairing.sigma
            );
        }
        for (file, _why) in pairing.also_detected {
            want.insert(file.to_string());
        }
        let got = fired.get(pairing.sigma).cloned().unwrap_or_default();
        assert_eq!(got, want, "{}", pairing.sigma);
    }
    // The rules no Falco case answers to detect nothing in these traces.
    for rule in &rules {
        if !paired.contains(rule.name.as_str()) {
            assert_eq!(fired.get(&rule.name), None, "{}", rule.name);
        }
    }
    assert_eq!(rules.len(), 16);
}
