//! The Kubernetes manifests under `config/kubernetes` pass the manifest check, and the
//! check reports each kind of mistake made in a copy of them.

use std::path::{Path, PathBuf};

use crate::manifests::check;

fn kubernetes_dir() -> PathBuf {
    logpipe_common::testkit::package_dir(env!("CARGO_MANIFEST_DIR")).join("config/kubernetes")
}

#[test]
fn deployment_manifests_are_valid() {
    let problems = check(&kubernetes_dir());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Each mistake, made in a copy of the real manifests, is reported: the check can fail.
#[test]
fn deployment_check_reports_broken_manifests() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "query.yaml",
            "name: LOGPIPE_QUERY_INDEXERS",
            "name: LOGPIPE_QUERY_INDEXER",
            "LOGPIPE_QUERY_INDEXER is not a variable of logpipe query",
        ),
        (
            "alerting.yaml",
            "name: LOGPIPE_DATA_DIR",
            "name: LOGPIPE_INDEXER_RETENTION_DAYS",
            "LOGPIPE_INDEXER_RETENTION_DAYS is not a variable of logpipe alerting",
        ),
        (
            "namespace.yaml",
            "kind: Namespace",
            "kind: Ingress",
            "unknown kind Ingress",
        ),
        (
            "query.yaml",
            "path: /readyz",
            "path: /ready",
            "readiness probe: path /ready, expected /readyz",
        ),
        (
            "query.yaml",
            "port: http\n            periodSeconds: 10\n          readinessProbe",
            "port: 9090\n            periodSeconds: 10\n          readinessProbe",
            "liveness probe: port 9090 is not PORT (8080)",
        ),
        (
            "indexer.yaml",
            "args: [\"indexer\"]",
            "args: [\"indexr\"]",
            "args must start with a role",
        ),
        (
            "alerting.yaml",
            "readinessProbe:",
            "readinesProbe:",
            "field not in the typed object: /spec/template/spec/containers/0/readinesProbe",
        ),
        (
            "alerting.yaml",
            "- name: rules\n              mountPath",
            "- name: rule\n              mountPath",
            "volume mount rule names no volume",
        ),
        (
            "alerting.yaml",
            "/etc/logpipe/notifiers/notifiers.yaml",
            "/etc/logpipe/notifiers/notifiers.yml",
            "no key notifiers.yml in configmap logpipe-alert-notifiers",
        ),
        (
            "rules/error-burst.yaml",
            "threshold: 100",
            "threshold: 0",
            "must be a whole number above 0",
        ),
        (
            "kustomization.yaml",
            "- query.yaml",
            "- query.yaml\n  - missing.yaml",
            "missing.yaml: cannot read",
        ),
        (
            "query.yaml",
            "targetPort: http",
            "targetPort: web",
            "service logpipe-query: target port web is not a port of its pods",
        ),
        (
            "query.yaml",
            "readOnlyRootFilesystem: true",
            "readOnlyRootFilesystem: false",
            "readOnlyRootFilesystem must be true",
        ),
        (
            "collector.yaml",
            "memory: 512Mi",
            "ephemeral-storage: 1Gi",
            "resources: limits need cpu and memory",
        ),
        (
            "collector.yaml",
            "resources: [pods, namespaces]",
            "resources: [pods, namespaces, secrets]",
            "service account logpipe-collector may get secrets",
        ),
        (
            "collector.yaml",
            "resources: [replicasets]",
            "resources: [deployments]",
            "service account logpipe-collector may not get replicasets",
        ),
        (
            "collector.yaml",
            "    name: logpipe-collector\n    namespace: logpipe",
            "    name: logpipe-collector\n    namespace: default",
            "subject ServiceAccount logpipe-collector is not a service account of namespace logpipe",
        ),
        (
            "collector.yaml",
            "automountServiceAccountToken: true",
            "automountServiceAccountToken: false",
            "reads the API server but mounts no service account token",
        ),
        (
            "collector.yaml",
            "    resources: [events]\n    verbs: [list, watch]",
            "    resources: [events]\n    verbs: [list, watch, delete]",
            "clusterrole logpipe-collector: may delete in every namespace",
        ),
        (
            "collector.yaml",
            "    resources: [leases]\n    verbs: [get, create, update]",
            "    resources: [leases]\n    verbs: [get, create]",
            "may not update leases",
        ),
        (
            "indexer.yaml",
            "      automountServiceAccountToken: false",
            "      automountServiceAccountToken: true",
            "mounts a service account token it does not use",
        ),
        (
            "network-policies.yaml",
            "cidr: 10.0.0.10/32",
            "cidr: 10.0.0.0/8",
            "egress from logpipe-collector pods to 10.96.0.1 (a private address (10.0.0.0/8)) is allowed on 443/TCP, 6443/TCP",
        ),
        (
            "kafka.env",
            "LOGPIPE_KAFKA_BROKERS=",
            "LOGPIPE_KAFKA_BROKER=",
            "LOGPIPE_KAFKA_BROKER is not a variable of logpipe",
        ),
        (
            "alerting.yaml",
            "- name: ONCALL_WEBHOOK_SECRET",
            "- name: OTHER_WEBHOOK_SECRET",
            "notifier oncall: ONCALL_WEBHOOK_SECRET (its secret_env) is not set",
        ),
        (
            "indexer.yaml",
            "clusterIP: None",
            "clusterIP: 10.96.0.10",
            "service logpipe-indexer is not a headless service",
        ),
        (
            "kustomization.yaml",
            "      - rules/collector-gaps.yaml\n",
            "",
            "collector-gaps.yaml is not listed",
        ),
        (
            "indexer.yaml",
            "runAsNonRoot: true",
            "runAsNonRoot: false",
            "container indexer: runAsNonRoot must be true",
        ),
        (
            "network-policies.yaml",
            "policyTypes: [Ingress, Egress]",
            "policyTypes: [Ingress]",
            "network policies: no default-deny policy",
        ),
        (
            "kustomization.yaml",
            "  - network-policies.yaml\n",
            "",
            "network policies: no default-deny policy",
        ),
        (
            "network-policies.yaml",
            "    - from:\n        - podSelector:\n            matchLabels:\n              app.kubernetes.io/name: logpipe-query\n",
            "    - from:\n        - podSelector: {}\n",
            "ingress to logpipe-indexer pods from another pod (debug-shell) in namespace logpipe is allowed on 8080/TCP",
        ),
        (
            "network-policies.yaml",
            "    - from:\n        - podSelector:\n            matchLabels:\n              app.kubernetes.io/name: logpipe-query\n",
            "    - from:\n        - namespaceSelector: {}\n",
            "ingress to logpipe-indexer pods from another pod (grafana) in namespace monitoring is allowed on 8080/TCP",
        ),
        (
            "network-policies.yaml",
            "    matchLabels:\n      app.kubernetes.io/name: logpipe-indexer\n  policyTypes",
            "    matchLabels:\n      app.kubernetes.io/name: logpipe-indexr\n  policyTypes",
            "NetworkPolicy logpipe-indexer: podSelector selects no pod of the kustomization",
        ),
        (
            "network-policies.yaml",
            "  egress:\n    - to:\n        - namespaceSelector:\n            matchLabels:\n              kubernetes.io/metadata.name: kafka\n      ports:",
            "  egress:\n    - ports:",
            "egress from logpipe-collector pods to 203.0.113.10 (a public address) is allowed on 9092/TCP",
        ),
        (
            "network-policies.yaml",
            "              - 169.254.0.0/16\n",
            "",
            "egress from logpipe-alerting pods to 169.254.169.254 (the cloud metadata address) is allowed on 443/TCP",
        ),
        (
            "network-policies.yaml",
            "          port: 8080",
            "          port: 8443",
            "egress from logpipe-query pods to logpipe-indexer pods is denied on 8080/TCP, which is needed",
        ),
        (
            "query.yaml",
            "terminationGracePeriodSeconds: 30",
            "terminationGracePeriodSeconds: 10",
            "container takes to stop",
        ),
        (
            "indexer.yaml",
            "- name: LOGPIPE_INDEXER_RETENTION_DAYS",
            "- name: LOGPIPE_SHUTDOWN_GRACE_MS\n              value: 40s\n            - name: LOGPIPE_INDEXER_RETENTION_DAYS",
            "terminationGracePeriodSeconds 30 is shorter than the 47 s",
        ),
        (
            "alerting.yaml",
            "type: Recreate",
            "type: RollingUpdate",
            "alerting must run as one replica with the Recreate strategy",
        ),
        (
            "kafka.env",
            "kafka-bootstrap.kafka:9092",
            "kafka-bootstrap.kafka:9093",
            "egress from logpipe-collector pods to kafka broker kafka-bootstrap.kafka is denied on 9093/TCP",
        ),
    ];
    for (file, from, to, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&kubernetes_dir(), dir.path());
        let path = dir.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} no longer contains {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
        let problems = check(dir.path());
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{file}: {from:?} → {to:?} should report {expected:?}; got:\n{}",
            problems.join("\n")
        );
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The Dockerfile builds from base images pinned by digest, passes the commit to the
/// build script (the context has no .git) and labels the image with the OCI annotations
/// of the code it holds, the version being the workspace's.
#[test]
fn dockerfile_pins_its_base_images_and_labels_the_build() {
    let text = std::fs::read_to_string(
        logpipe_common::testkit::package_dir(env!("CARGO_MANIFEST_DIR")).join("Dockerfile"),
    )
    .unwrap();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    let arg = |name: &str| -> Option<String> {
        lines.iter().find_map(|line| {
            let rest = line.strip_prefix("ARG ")?.strip_prefix(name)?;
            Some(rest.strip_prefix('=').unwrap_or_default().to_owned())
        })
    };
    let pinned = |image: &str| {
        image.split_once("@sha256:").is_some_and(|(_, digest)| {
            // A digest of zeros is a placeholder no registry serves.
            digest.len() == 64
                && digest.chars().all(|c| c.is_ascii_hexdigit())
                && digest.chars().any(|c| c != '0')
        })
    };
    let froms: Vec<&str> = lines
        .iter()
        .filter_map(|line| line.strip_prefix("FROM "))
        .map(|rest| rest.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(froms.len(), 2, "{froms:?}");
    for from in froms {
        let image = match from
            .strip_prefix("${")
            .and_then(|rest| rest.strip_suffix('}'))
        {
            Some(name) => arg(name).unwrap_or_else(|| panic!("no ARG {name}")),
            None => from.to_owned(),
        };
        assert!(
            pinned(&image),
            "FROM {from} ({image}) is not pinned by digest"
        );
    }
    assert_eq!(
        arg("LOGPIPE_VERSION").as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    let build = lines
        .iter()
        .position(|l| l.contains("cargo build"))
        .unwrap();
    let commit_arg = lines
        .iter()
        .position(|l| l.starts_with("ARG LOGPIPE_BUILD_COMMIT"))
        .unwrap();
    assert!(
        commit_arg < build,
        "the build script sees LOGPIPE_BUILD_COMMIT"
    );
    for label in [
        "org.opencontainers.image.revision=\"${LOGPIPE_BUILD_COMMIT}\"",
        "org.opencontainers.image.version=\"${LOGPIPE_VERSION}\"",
        "org.opencontainers.image.source=\"${LOGPIPE_SOURCE}\"",
    ] {
        assert!(text.contains(label), "no label {label}");
    }
}
