//! Checking a kustomization as kustomize reads it: every document parsed as its typed
//! Kubernetes object, then checked against what the built binary declares (its roles,
//! its configuration variables, its port and its alert rule checker), so that a manifest
//! `kubectl apply` would take but logpipe would not run with is caught before a cluster.
//! The network policies are judged against the pods as declared (`network_policies`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Namespace, PersistentVolumeClaim, PodSpec, PodTemplateSpec, Probe,
    Secret, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role as RbacRole, RoleBinding,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::network_policies::{self, Pod, PodPort};
use crate::util::run;

/// The roles a pod runs: long-lived subcommands, not the CLI ones (`search`, `config`).
const SERVER_ROLES: [&str; 5] = ["collector", "indexer", "query", "alerting", "standalone"];
/// librdkafka properties pass through under this prefix, whatever their name.
const KAFKA_PROPERTY_PREFIX: &str = "LOGPIPE_KAFKA_PROPERTY_";
/// A well-formed Standard Webhooks key, so that `alerting check` can load the notifiers.
const TEST_WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The parts of `kustomization.yaml` this check understands; anything else fails it, so a
/// kustomize feature is not used before the check knows what it does.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Kustomization {
    #[serde(rename = "apiVersion")]
    _api_version: String,
    #[serde(rename = "kind")]
    _kind: String,
    namespace: String,
    #[serde(default, rename = "labels")]
    _labels: Vec<Value>,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    images: Vec<Image>,
    #[serde(default)]
    config_map_generator: Vec<Generator>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Image {
    name: String,
    #[serde(rename = "newName")]
    _new_name: Option<String>,
    #[serde(rename = "newTag")]
    _new_tag: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Generator {
    name: String,
    #[serde(default)]
    files: Vec<String>,
    #[serde(default)]
    envs: Vec<String>,
    #[serde(default)]
    literals: Vec<String>,
    #[serde(default, rename = "options")]
    _options: Option<Value>,
}

/// One variable as `logpipe config` prints it.
#[derive(Debug, Clone)]
struct Var {
    default: Option<String>,
    is_path: bool,
}

/// Variables per role, from `logpipe config ROLE` (shared ones included).
fn role_vars(role: &str) -> Option<BTreeMap<String, Var>> {
    let output = run(&["config", role], &[]);
    if !output.status.success() {
        return None;
    }
    let mut vars: BTreeMap<String, Var> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("    ") {
            if let (Some(name), Some(kind)) = (&current, rest.strip_prefix("expects "))
                && let Some(var) = vars.get_mut(name)
            {
                var.is_path = kind == "a filesystem path";
            }
            continue;
        }
        let name = line.split_whitespace().next().unwrap().to_owned();
        let default = line
            .split_once("(default: \"")
            .and_then(|(_, rest)| rest.strip_suffix("\")"))
            .map(str::to_owned);
        vars.insert(
            name.clone(),
            Var {
                default,
                is_path: false,
            },
        );
        current = Some(name);
    }
    assert!(
        vars.contains_key("PORT"),
        "`logpipe config {role}` lists no PORT"
    );
    Some(vars)
}

/// A workload's pod template, with where it came from for messages.
struct Workload {
    what: String,
    name: String,
    template: PodTemplateSpec,
    claim_templates: Vec<String>,
    /// A StatefulSet's governing Service, which must be headless.
    service_name: Option<String>,
    /// A Deployment's strategy type (`RollingUpdate` unless set) and replicas (1 unless set).
    rollout: Option<(String, i32)>,
}

/// Everything the manifests declare, generated objects included.
#[derive(Default)]
struct Objects {
    namespaces: BTreeSet<String>,
    service_accounts: BTreeSet<String>,
    claims: BTreeSet<String>,
    /// ConfigMap name → key → value.
    config_maps: BTreeMap<String, BTreeMap<String, String>>,
    /// Secret name → keys.
    secrets: BTreeMap<String, BTreeSet<String>>,
    services: Vec<Service>,
    workloads: Vec<Workload>,
    /// Network policies with where they came from.
    network_policies: Vec<(String, NetworkPolicy)>,
    /// Image names the kustomization rewrites: containers name one of these.
    images: BTreeSet<String>,
    cluster_roles: Vec<ClusterRole>,
    cluster_role_bindings: Vec<ClusterRoleBinding>,
    roles: Vec<RbacRole>,
    role_bindings: Vec<RoleBinding>,
}

/// What each role does with the API server, as (API group, resource, verb): the
/// collector's pod metadata, the cluster's Events, and the Lease that elects the one
/// collector reading them. Service accounts are granted what is named here, and besides
/// at most `get`, `list` and `watch` on the same resources; writes only within logpipe's
/// namespace (a Role, not a ClusterRole). A role with none mounts no token.
const API_ACCESS: &[(&str, &[Access])] = &[(
    "collector",
    &[
        ("", "pods", "list"),
        ("", "pods", "watch"),
        ("", "namespaces", "list"),
        ("", "namespaces", "watch"),
        ("apps", "replicasets", "get"),
        ("batch", "jobs", "get"),
        ("events.k8s.io", "events", "list"),
        ("events.k8s.io", "events", "watch"),
        ("coordination.k8s.io", "leases", "get"),
        ("coordination.k8s.io", "leases", "create"),
        ("coordination.k8s.io", "leases", "update"),
    ],
)];
const READ_VERBS: [&str; 3] = ["get", "list", "watch"];

/// (API group, resource, verb).
type Access = (&'static str, &'static str, &'static str);

/// Every problem with the kustomization in `dir`, as lowercase messages.
pub fn check(dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let kustomization: Kustomization = match read(dir, "kustomization.yaml")
        .and_then(|text| serde_norway::from_str(&text).map_err(|e| e.to_string()))
    {
        Ok(k) => k,
        Err(e) => return vec![format!("kustomization.yaml: {e}")],
    };
    let mut objects = Objects::default();
    for file in &kustomization.resources {
        match read(dir, file) {
            Ok(text) => parse_resources(file, &text, &mut objects, &mut problems),
            Err(e) => problems.push(format!("{file}: {e}")),
        }
    }
    let mut generated_files = BTreeMap::new();
    for generator in &kustomization.config_map_generator {
        let data = generate(dir, generator, &mut problems);
        generated_files.insert(generator.name.clone(), data.clone());
        objects.config_maps.insert(generator.name.clone(), data);
    }
    if !objects.namespaces.contains(&kustomization.namespace) {
        problems.push(format!(
            "namespace {} is not among the resources",
            kustomization.namespace
        ));
    }
    objects.images = kustomization
        .images
        .iter()
        .map(|i| i.name.clone())
        .collect();
    let pods: Vec<Pod> = objects
        .workloads
        .iter()
        .filter_map(|workload| check_workload(workload, &objects, &mut problems))
        .collect();
    for service in &objects.services {
        check_service(service, &objects, &mut problems);
    }
    check_api_access(&kustomization.namespace, &objects, &mut problems);
    network_policies::check(
        &kustomization.namespace,
        &objects.network_policies,
        &pods,
        &mut problems,
    );
    problems
}

/// Each workload's service account may do exactly what its role needs of the API server
/// (`API_ACCESS`): every binding names a role and account that exist, every rule only
/// reads, and a role that needs nothing mounts no token.
fn check_api_access(namespace: &str, objects: &Objects, problems: &mut Vec<String>) {
    let mut granted: BTreeMap<String, BTreeSet<(String, String, String)>> = BTreeMap::new();
    // Cluster-wide bindings of ClusterRoles, then namespaced bindings of Roles.
    let cluster = objects.cluster_role_bindings.iter().map(|binding| {
        let role = objects
            .cluster_roles
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(&binding.role_ref.name))
            .filter(|_| binding.role_ref.kind == "ClusterRole")
            .map(|r| r.rules.clone().unwrap_or_default());
        (
            "clusterrolebinding",
            &binding.metadata,
            &binding.role_ref,
            &binding.subjects,
            role,
            true,
        )
    });
    let namespaced = objects.role_bindings.iter().map(|binding| {
        let role = objects
            .roles
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(&binding.role_ref.name))
            .filter(|_| binding.role_ref.kind == "Role")
            .map(|r| r.rules.clone().unwrap_or_default());
        (
            "rolebinding",
            &binding.metadata,
            &binding.role_ref,
            &binding.subjects,
            role,
            false,
        )
    });
    for (what, metadata, role_ref, subjects, rules, cluster_wide) in cluster.chain(namespaced) {
        let name = metadata.name.clone().unwrap_or_default();
        let Some(rules) = rules else {
            problems.push(format!(
                "{what} {name}: {} {} is not among the resources",
                role_ref.kind, role_ref.name
            ));
            continue;
        };
        for subject in subjects.iter().flatten() {
            let account = subject.kind == "ServiceAccount"
                && subject.namespace.as_deref() == Some(namespace)
                && objects.service_accounts.contains(&subject.name);
            if !account {
                problems.push(format!(
                    "{what} {name}: subject {} {} is not a service account of namespace {namespace}",
                    subject.kind, subject.name
                ));
                continue;
            }
            let grants = granted.entry(subject.name.clone()).or_default();
            for rule in &rules {
                check_rule(&role_ref.name, rule, cluster_wide, problems);
                for group in rule.api_groups.iter().flatten() {
                    for resource in rule.resources.iter().flatten() {
                        for verb in &rule.verbs {
                            grants.insert((group.clone(), resource.clone(), verb.clone()));
                        }
                    }
                }
            }
        }
    }
    for workload in &objects.workloads {
        let Some(pod) = &workload.template.spec else {
            continue;
        };
        let role = pod
            .containers
            .first()
            .and_then(|c| c.args.as_ref())
            .and_then(|args| args.first())
            .cloned()
            .unwrap_or_default();
        let account = pod.service_account_name.clone().unwrap_or_default();
        let needed: BTreeSet<(String, String, String)> = API_ACCESS
            .iter()
            .filter(|(r, _)| *r == role)
            .flat_map(|(_, access)| access.iter())
            .map(|(g, r, v)| (g.to_string(), r.to_string(), v.to_string()))
            .collect();
        let mut allowed: BTreeSet<(String, String, String)> = needed
            .iter()
            .flat_map(|(g, r, _)| READ_VERBS.map(|v| (g.clone(), r.clone(), v.to_owned())))
            .collect();
        allowed.extend(needed.iter().cloned());
        let grants = granted.get(&account).cloned().unwrap_or_default();
        let what = &workload.what;
        let missing: Vec<String> = needed
            .difference(&grants)
            .map(|(g, r, v)| format!("{v} {r} ({g:?})"))
            .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{what}: service account {account} may not {}, which it needs",
                missing.join(", ")
            ));
        }
        let extra: Vec<String> = grants
            .difference(&allowed)
            .map(|(g, r, v)| format!("{v} {r} ({g:?})"))
            .collect();
        if !extra.is_empty() {
            problems.push(format!(
                "{what}: service account {account} may {}, which it does not need",
                extra.join(", ")
            ));
        }
        let mounts = pod.automount_service_account_token.unwrap_or(true);
        if needed.is_empty() && mounts {
            problems.push(format!(
                "{what}: mounts a service account token it does not use (automountServiceAccountToken: false)"
            ));
        }
        if !needed.is_empty() && !mounts {
            problems.push(format!(
                "{what}: reads the API server but mounts no service account token"
            ));
        }
    }
}

/// A rule names its groups, resources and verbs (no `resourceNames`, no URLs), and one
/// that writes does so in logpipe's namespace only.
fn check_rule(role: &str, rule: &PolicyRule, cluster_wide: bool, problems: &mut Vec<String>) {
    if rule.resource_names.is_some() || rule.non_resource_urls.is_some() {
        problems.push(format!(
            "role {role}: resourceNames and nonResourceURLs are not used"
        ));
    }
    let writes: Vec<&String> = rule
        .verbs
        .iter()
        .filter(|verb| !READ_VERBS.contains(&verb.as_str()))
        .collect();
    if cluster_wide && !writes.is_empty() {
        problems.push(format!(
            "clusterrole {role}: may {} in every namespace; writes belong in a Role of logpipe's namespace",
            writes.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
}

/// A file of the kustomization, which kustomize only reads inside its own directory.
fn read(dir: &Path, file: &str) -> Result<String, String> {
    let inside = Path::new(file)
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !inside {
        return Err("kustomize only reads files inside the kustomization's directory".into());
    }
    std::fs::read_to_string(dir.join(file)).map_err(|e| format!("cannot read: {e}"))
}

fn parse_resources(file: &str, text: &str, objects: &mut Objects, problems: &mut Vec<String>) {
    for document in serde_norway::Deserializer::from_str(text) {
        let value = match Value::deserialize(document) {
            Ok(Value::Null) => continue,
            Ok(value) => value,
            Err(e) => {
                problems.push(format!("{file}: {e}"));
                continue;
            }
        };
        let kind = value["kind"].as_str().unwrap_or_default().to_owned();
        let name = value["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let what = format!("{file}: {kind} {name}");
        if let Err(e) = parse_object(&kind, &what, value, objects) {
            problems.push(format!("{what}: {e}"));
        }
    }
}

fn parse_object(kind: &str, what: &str, value: Value, objects: &mut Objects) -> Result<(), String> {
    let name = value["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    match kind {
        "Namespace" => {
            typed::<Namespace>(value)?;
            objects.namespaces.insert(name);
        }
        "ServiceAccount" => {
            typed::<ServiceAccount>(value)?;
            objects.service_accounts.insert(name);
        }
        "PersistentVolumeClaim" => {
            typed::<PersistentVolumeClaim>(value)?;
            objects.claims.insert(name);
        }
        "ConfigMap" => {
            let map = typed::<ConfigMap>(value)?;
            objects
                .config_maps
                .insert(name, map.data.unwrap_or_default());
        }
        "Secret" => {
            let secret = typed::<Secret>(value)?;
            let mut keys: BTreeSet<String> = secret.data.unwrap_or_default().into_keys().collect();
            keys.extend(secret.string_data.unwrap_or_default().into_keys());
            objects.secrets.insert(name, keys);
        }
        "Service" => objects.services.push(typed::<Service>(value)?),
        "ClusterRole" => objects.cluster_roles.push(typed::<ClusterRole>(value)?),
        "Role" => objects.roles.push(typed::<RbacRole>(value)?),
        "RoleBinding" => objects.role_bindings.push(typed::<RoleBinding>(value)?),
        "ClusterRoleBinding" => objects
            .cluster_role_bindings
            .push(typed::<ClusterRoleBinding>(value)?),
        "NetworkPolicy" => {
            let policy = typed::<NetworkPolicy>(value)?;
            objects.network_policies.push((what.to_owned(), policy));
        }
        "Deployment" => {
            let spec = typed::<Deployment>(value)?.spec.ok_or("no spec")?;
            let strategy = spec
                .strategy
                .and_then(|s| s.type_)
                .unwrap_or_else(|| "RollingUpdate".into());
            let mut w = workload(what, &name, spec.template, None);
            w.rollout = Some((strategy, spec.replicas.unwrap_or(1)));
            objects.workloads.push(w);
        }
        "StatefulSet" => {
            let spec = typed::<StatefulSet>(value)?.spec.ok_or("no spec")?;
            let mut w = workload(what, &name, spec.template, spec.volume_claim_templates);
            w.service_name = spec.service_name;
            objects.workloads.push(w);
        }
        "DaemonSet" => {
            let spec = typed::<DaemonSet>(value)?.spec.ok_or("no spec")?;
            objects
                .workloads
                .push(workload(what, &name, spec.template, None));
        }
        other => return Err(format!("unknown kind {other}")),
    }
    Ok(())
}

fn workload(
    what: &str,
    name: &str,
    template: PodTemplateSpec,
    claims: Option<Vec<PersistentVolumeClaim>>,
) -> Workload {
    Workload {
        what: what.to_owned(),
        name: name.to_owned(),
        template,
        claim_templates: claims
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| c.metadata.name)
            .collect(),
        service_name: None,
        rollout: None,
    }
}

/// The document as its typed object. A field the type does not know (a misspelling, a
/// field at the wrong level) is refused by the API server's field validation, or dropped
/// silently where that is off: it fails here, before a cluster sees it.
fn typed<T: DeserializeOwned + serde::Serialize>(value: Value) -> Result<T, String> {
    let object: T = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
    let again = serde_json::to_value(&object).map_err(|e| e.to_string())?;
    let mut lost = Vec::new();
    dropped(&value, &again, String::new(), &mut lost);
    match lost.first() {
        None => Ok(object),
        Some(path) => Err(format!("field not in the typed object: {path}")),
    }
}

fn dropped(original: &Value, again: &Value, path: String, lost: &mut Vec<String>) {
    match (original, again) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                let here = format!("{path}/{key}");
                match b.get(key) {
                    Some(other) => dropped(value, other, here, lost),
                    None => lost.push(here),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                dropped(x, y, format!("{path}/{i}"), lost);
            }
        }
        (a, b) if a != b => lost.push(path),
        _ => {}
    }
}

/// The data of a generated ConfigMap; every file of a directory it reads from is listed,
/// so a new rule file is not left out of the cluster.
fn generate(
    dir: &Path,
    generator: &Generator,
    problems: &mut Vec<String>,
) -> BTreeMap<String, String> {
    let mut data = BTreeMap::new();
    let mut sources = BTreeSet::new();
    for entry in &generator.files {
        let (key, file) = entry
            .split_once('=')
            .unwrap_or_else(|| (entry.rsplit('/').next().unwrap(), entry.as_str()));
        match read(dir, file) {
            Ok(text) => {
                data.insert(key.to_owned(), text);
            }
            Err(e) => problems.push(format!("{file}: {e}")),
        }
        sources.insert(dir.join(file));
    }
    let mut lines = generator.literals.clone();
    for file in &generator.envs {
        match read(dir, file) {
            Ok(text) => lines.extend(text.lines().map(str::to_owned)),
            Err(e) => problems.push(format!("{file}: {e}")),
        }
    }
    for line in lines.iter().map(|l| l.trim()) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((key, value)) => data.insert(key.to_owned(), value.to_owned()),
            None => {
                problems.push(format!(
                    "configmap {}: `{line}` is not KEY=VALUE",
                    generator.name
                ));
                continue;
            }
        };
    }
    let parents: BTreeSet<PathBuf> = sources
        .iter()
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .filter(|p| p != dir)
        .collect();
    for parent in parents {
        for entry in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
            let path = entry.path();
            let yaml = matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            );
            if yaml && !sources.contains(&path) {
                problems.push(format!(
                    "configmap {}: {} is not listed",
                    generator.name,
                    path.display()
                ));
            }
        }
    }
    data
}

/// Checks a workload; its pod as the network policies see it, when it runs a role.
fn check_workload(
    workload: &Workload,
    objects: &Objects,
    problems: &mut Vec<String>,
) -> Option<Pod> {
    let what = &workload.what;
    let Some(pod) = &workload.template.spec else {
        problems.push(format!("{what}: no pod spec"));
        return None;
    };
    if let Some(name) = &workload.service_name {
        let headless = objects.services.iter().any(|s| {
            s.metadata.name.as_ref() == Some(name)
                && s.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
        });
        if !headless {
            problems.push(format!("{what}: service {name} is not a headless service"));
        }
    }
    match &pod.service_account_name {
        Some(name) if objects.service_accounts.contains(name) => {}
        other => problems.push(format!(
            "{what}: service account {other:?} is not among the resources"
        )),
    }
    let seccomp = pod
        .security_context
        .as_ref()
        .and_then(|s| s.seccomp_profile.as_ref())
        .map(|p| p.type_.as_str());
    if seccomp != Some("RuntimeDefault") {
        problems.push(format!("{what}: seccompProfile must be RuntimeDefault"));
    }
    let mut volumes = BTreeMap::new();
    for volume in pod.volumes.iter().flatten() {
        let source = if let Some(map) = &volume.config_map {
            match objects.config_maps.get(&map.name) {
                Some(data) => Some((
                    "configmap",
                    map.name.clone(),
                    data.keys().cloned().collect(),
                )),
                None => {
                    problems.push(format!(
                        "{what}: configmap {} is not among the resources",
                        map.name
                    ));
                    None
                }
            }
        } else if let Some(secret) = &volume.secret {
            let name = secret.secret_name.clone().unwrap_or_default();
            match objects.secrets.get(&name) {
                Some(keys) => Some(("secret", name, keys.clone())),
                None => {
                    problems.push(format!("{what}: secret {name} is not among the resources"));
                    None
                }
            }
        } else {
            if let Some(claim) = &volume.persistent_volume_claim
                && !objects.claims.contains(&claim.claim_name)
            {
                problems.push(format!(
                    "{what}: claim {} is not among the resources",
                    claim.claim_name
                ));
            }
            None
        };
        volumes.insert(volume.name.clone(), source);
    }
    for claim in &workload.claim_templates {
        volumes.insert(claim.clone(), None);
    }
    let mut found = None;
    for container in &pod.containers {
        let what = format!("{what}: container {}", container.name);
        if let Some(role) = check_container(&what, container, pod, &volumes, objects, problems) {
            found.get_or_insert(role);
        }
    }
    let (role, port, env) = found?;
    check_termination(what, &role, &env, pod, problems);
    // Alert state has one writer: two pods evaluating at once would each send every
    // alert, so a deploy stops the old pod before the new one starts.
    if role == "alerting"
        && let Some((strategy, replicas)) = &workload.rollout
        && (strategy != "Recreate" || *replicas > 1)
    {
        problems.push(format!(
            "{what}: alerting must run as one replica with the Recreate strategy \
             (got {strategy}, {replicas} replicas): two pods evaluating at once send every alert twice"
        ));
    }
    let value = |name: &str| env.get(name).cloned().flatten().unwrap_or_default();
    let list = |text: String| -> Vec<String> {
        text.split(',')
            .map(|item| item.trim().to_owned())
            .filter(|item| !item.is_empty())
            .collect()
    };
    Some(Pod {
        name: workload.name.clone(),
        role,
        labels: workload
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default(),
        port,
        ports: pod
            .containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten())
            .map(|p| PodPort {
                name: p.name.clone(),
                number: p.container_port,
                protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
            })
            .collect(),
        brokers: list(value("LOGPIPE_KAFKA_BROKERS")),
        indexers: list(value("LOGPIPE_QUERY_INDEXERS")),
    })
}

/// A container's role, its HTTP port and its environment, when it runs a role.
type Role = (String, i32, BTreeMap<String, Option<String>>);

/// A volume's ConfigMap or Secret: kind, name and keys; `None` for other sources.
type Mounted = Option<(&'static str, String, BTreeSet<String>)>;

fn check_container(
    what: &str,
    container: &Container,
    pod: &PodSpec,
    volumes: &BTreeMap<String, Mounted>,
    objects: &Objects,
    problems: &mut Vec<String>,
) -> Option<Role> {
    let mut problem = |message: String| problems.push(format!("{what}: {message}"));
    if container.command.is_some() {
        problem("command must be unset: the image's entrypoint is logpipe".into());
    }
    if !objects
        .images
        .contains(container.image.as_deref().unwrap_or_default())
    {
        problem(format!(
            "image {:?} is not in the kustomization's images",
            container.image
        ));
    }
    let role = container
        .args
        .as_ref()
        .and_then(|args| args.first())
        .map(String::as_str)
        .unwrap_or_default();
    let vars = SERVER_ROLES
        .contains(&role)
        .then(|| role_vars(role))
        .flatten();
    let Some(vars) = vars else {
        problem(format!(
            "args must start with a role ({})",
            SERVER_ROLES.join(", ")
        ));
        return None;
    };
    let known = |name: &str| vars.contains_key(name) || name.starts_with(KAFKA_PROPERTY_PREFIX);

    // Variables in the order the kubelet applies them: envFrom first, env overriding.
    let mut env: BTreeMap<String, Option<String>> = BTreeMap::new();
    for source in container.env_from.iter().flatten() {
        if let Some(map) = &source.config_map_ref {
            match objects.config_maps.get(&map.name) {
                Some(data) => env.extend(data.iter().map(|(k, v)| (k.clone(), Some(v.clone())))),
                None => problem(format!("configmap {} is not among the resources", map.name)),
            }
        }
        if let Some(secret) = &source.secret_ref {
            match objects.secrets.get(&secret.name) {
                Some(keys) => env.extend(keys.iter().map(|k| (k.clone(), None))),
                None => problem(format!("secret {} is not among the resources", secret.name)),
            }
        }
    }
    for var in container.env.iter().flatten() {
        let from = var.value_from.as_ref();
        if let Some(key) = from.and_then(|f| f.secret_key_ref.as_ref())
            && !objects
                .secrets
                .get(&key.name)
                .is_some_and(|keys| keys.contains(&key.key))
        {
            problem(format!(
                "{}: no key {} in secret {}",
                var.name, key.key, key.name
            ));
        }
        if let Some(key) = from.and_then(|f| f.config_map_key_ref.as_ref())
            && !objects
                .config_maps
                .get(&key.name)
                .is_some_and(|data| data.contains_key(&key.key))
        {
            problem(format!(
                "{}: no key {} in configmap {}",
                var.name, key.key, key.name
            ));
        }
        env.insert(var.name.clone(), var.value.clone());
    }
    for name in env.keys() {
        if (name.starts_with("LOGPIPE_") || name == "PORT") && !known(name) {
            problem(format!("{name} is not a variable of logpipe {role}"));
        }
    }

    // The HTTP port: PORT as set, else its default; probes and Services reach it.
    let port_text = env
        .get("PORT")
        .cloned()
        .flatten()
        .or_else(|| vars["PORT"].default.clone())
        .unwrap_or_default();
    let Ok(port) = port_text.parse::<i32>() else {
        problem(format!("PORT {port_text:?} is not a port number"));
        return None;
    };
    let ports = container.ports.as_deref().unwrap_or_default();
    if !ports.iter().any(|p| p.container_port == port) {
        problem(format!("no containerPort {port} (PORT)"));
    }
    let probes = [
        ("liveness", &container.liveness_probe, Some("/healthz")),
        ("readiness", &container.readiness_probe, Some("/readyz")),
        ("startup", &container.startup_probe, None),
    ];
    for (name, probe, path) in probes {
        match (probe, path) {
            (Some(probe), _) => {
                if let Err(e) = check_probe(probe, path, port, container) {
                    problem(format!("{name} probe: {e}"));
                }
            }
            (None, Some(_)) => problem(format!("no {name} probe")),
            (None, None) => {}
        }
    }

    // Mounts: each names a volume, and a path variable points into one, at a key of a
    // ConfigMap or Secret when it points into such a volume (the root FS is read-only).
    let mounts = container.volume_mounts.as_deref().unwrap_or_default();
    for mount in mounts {
        if !volumes.contains_key(&mount.name) {
            problem(format!("volume mount {} names no volume", mount.name));
        }
    }
    for (name, value) in &env {
        let (Some(var), Some(value)) = (vars.get(name), value) else {
            continue;
        };
        if !var.is_path {
            continue;
        }
        let under = mounts.iter().find_map(|m| {
            Path::new(value)
                .strip_prefix(&m.mount_path)
                .ok()
                .map(|rest| (m, rest.to_string_lossy().into_owned()))
        });
        match under {
            None => problem(format!(
                "{name}={value} is on no volume (the root filesystem is read-only)"
            )),
            Some((mount, rest)) => {
                if let Some(Some((kind, source, keys))) = volumes.get(&mount.name)
                    && !rest.is_empty()
                    && !keys.contains(&rest)
                {
                    problem(format!("{name}={value}: no key {rest} in {kind} {source}"));
                }
            }
        }
    }

    check_security(role, container, pod, &mut problem);
    let resources = container.resources.as_ref();
    for (name, amounts) in [
        ("requests", resources.and_then(|r| r.requests.as_ref())),
        ("limits", resources.and_then(|r| r.limits.as_ref())),
    ] {
        if !amounts.is_some_and(|a| a.contains_key("cpu") && a.contains_key("memory")) {
            problem(format!("resources: {name} need cpu and memory"));
        }
    }

    if role == "query" {
        check_indexers(&env, objects, &mut problem);
    }
    if env.contains_key("LOGPIPE_ALERTING_RULES_DIR") {
        check_rules(&env, mounts, volumes, objects, &mut problem);
    }
    Some((role.to_owned(), port, env))
}

/// Seconds a pod needs between the kubelet's decision to stop it and its exit, beyond
/// the drain window and the grace period: the HTTP server's last second and a margin.
const STOP_MARGIN_SECS: f64 = 2.0;

/// The pod's `terminationGracePeriodSeconds` (30 when unset) covers what the container
/// takes to stop: a `preStop` sleep, then after SIGTERM the drain window
/// (`LOGPIPE_SHUTDOWN_DRAIN_MS`, serving while not ready) and the role's own drain
/// (`LOGPIPE_SHUTDOWN_GRACE_MS`). A shorter period ends in SIGKILL mid-commit.
fn check_termination(
    what: &str,
    role: &str,
    env: &BTreeMap<String, Option<String>>,
    pod: &PodSpec,
    problems: &mut Vec<String>,
) {
    let defaults = role_vars(role).unwrap_or_default();
    let setting = |name: &str| -> Result<f64, String> {
        let text = env
            .get(name)
            .cloned()
            .flatten()
            .or_else(|| defaults.get(name).and_then(|var| var.default.clone()))
            .ok_or_else(|| format!("{name} has no value"))?;
        seconds(&text).ok_or_else(|| format!("{name}={text} is not a duration"))
    };
    let (drain, grace) = match (
        setting("LOGPIPE_SHUTDOWN_DRAIN_MS"),
        setting("LOGPIPE_SHUTDOWN_GRACE_MS"),
    ) {
        (Ok(drain), Ok(grace)) => (drain, grace),
        (Err(e), _) | (_, Err(e)) => return problems.push(format!("{what}: {e}")),
    };
    let pre_stop: f64 = pod
        .containers
        .iter()
        .filter_map(|c| c.lifecycle.as_ref()?.pre_stop.as_ref())
        .map(|hook| {
            let native = hook.sleep.as_ref().map(|s| s.seconds as f64);
            let command = hook.exec.as_ref().and_then(|exec| {
                match exec.command.as_deref().unwrap_or_default() {
                    [sleep, n] if sleep.ends_with("sleep") => seconds(&format!("{n}s")),
                    _ => None,
                }
            });
            native.or(command).unwrap_or(0.0)
        })
        .fold(0.0, f64::max);
    let period = pod.termination_grace_period_seconds.unwrap_or(30) as f64;
    let needed = pre_stop + drain + grace + STOP_MARGIN_SECS;
    if period < needed {
        problems.push(format!(
            "{what}: terminationGracePeriodSeconds {period} is shorter than the {needed} s \
             the container takes to stop (preStop {pre_stop} s, LOGPIPE_SHUTDOWN_DRAIN_MS \
             {drain} s, LOGPIPE_SHUTDOWN_GRACE_MS {grace} s and {STOP_MARGIN_SECS} s)"
        ));
    }
}

/// A duration as logpipe reads one: a bare number of milliseconds, or with a unit.
fn seconds(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit.trim() {
        "" | "ms" => 0.001,
        "s" => 1.0,
        "m" | "min" => 60.0,
        _ => return None,
    };
    Some(number * scale)
}

fn check_probe(
    probe: &Probe,
    path: Option<&str>,
    port: i32,
    container: &Container,
) -> Result<(), String> {
    let get = probe.http_get.as_ref().ok_or("must be httpGet")?;
    let got = get.path.as_deref().unwrap_or("/");
    let wanted = match path {
        Some(path) => vec![path],
        None => vec!["/healthz", "/readyz"],
    };
    if !wanted.contains(&got) {
        return Err(format!("path {got}, expected {}", wanted.join(" or ")));
    }
    let number = match &get.port {
        IntOrString::Int(n) => Some(*n),
        IntOrString::String(name) => container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name))
            .map(|p| p.container_port),
    };
    match number {
        Some(n) if n == port => Ok(()),
        Some(n) => Err(format!("port {n} is not PORT ({port})")),
        None => Err(format!("port {:?} names no container port", get.port)),
    }
}

fn check_security(
    role: &str,
    container: &Container,
    pod: &PodSpec,
    problem: &mut impl FnMut(String),
) {
    let context = container.security_context.clone().unwrap_or_default();
    let pod_context = pod.security_context.clone().unwrap_or_default();
    if context.read_only_root_filesystem != Some(true) {
        problem("readOnlyRootFilesystem must be true".into());
    }
    if context.allow_privilege_escalation != Some(false) {
        problem("allowPrivilegeEscalation must be false".into());
    }
    if context.privileged == Some(true) {
        problem("must not be privileged".into());
    }
    let drops_all = context
        .capabilities
        .as_ref()
        .and_then(|c| c.drop.as_ref())
        .is_some_and(|d| d.iter().any(|c| c == "ALL"));
    if !drops_all {
        problem("capabilities must drop ALL".into());
    }
    let non_root = context.run_as_non_root.or(pod_context.run_as_non_root);
    let user = context.run_as_user.or(pod_context.run_as_user);
    // Only the collector reads root-owned node files; every other role runs as a user.
    let root_allowed = role == "collector" && user == Some(0);
    if non_root != Some(true) && !root_allowed {
        problem("runAsNonRoot must be true".into());
    }
}

/// `LOGPIPE_QUERY_INDEXERS` names a headless Service on the indexers' port.
fn check_indexers(
    env: &BTreeMap<String, Option<String>>,
    objects: &Objects,
    problem: &mut impl FnMut(String),
) {
    let Some(Some(list)) = env.get("LOGPIPE_QUERY_INDEXERS") else {
        return;
    };
    for item in list.split(',').map(str::trim) {
        let Ok(url) = url::Url::parse(item) else {
            problem(format!("LOGPIPE_QUERY_INDEXERS: {item} is not a URL"));
            continue;
        };
        let host = url.host_str().unwrap_or_default();
        let service_name = host.split('.').next().unwrap_or_default();
        let port = url.port_or_known_default().map(i32::from);
        let service = objects
            .services
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(service_name));
        let spec = service.and_then(|s| s.spec.as_ref());
        let headless = spec.is_some_and(|s| s.cluster_ip.as_deref() == Some("None"));
        let has_port = spec.is_some_and(|s| s.ports.iter().flatten().any(|p| Some(p.port) == port));
        if !headless || !has_port {
            problem(format!(
                "LOGPIPE_QUERY_INDEXERS: {item} is not a headless service with that port"
            ));
        }
    }
}

/// The rules and notifiers the alerting container will see pass `logpipe alerting check`,
/// and every signing key a notifier names is in the container's environment.
fn check_rules(
    env: &BTreeMap<String, Option<String>>,
    mounts: &[k8s_openapi::api::core::v1::VolumeMount],
    volumes: &BTreeMap<String, Mounted>,
    objects: &Objects,
    problem: &mut impl FnMut(String),
) {
    // The container's ConfigMap volumes, written out where it would see them.
    let root = tempfile::tempdir().unwrap();
    for mount in mounts {
        if let Some(Some(("configmap", name, _))) = volumes.get(&mount.name) {
            let target = root.path().join(mount.mount_path.trim_start_matches('/'));
            std::fs::create_dir_all(&target).unwrap();
            for (key, value) in &objects.config_maps[name] {
                std::fs::write(target.join(key), value).unwrap();
            }
        }
    }
    let inside = |name: &str| {
        env.get(name)
            .cloned()
            .flatten()
            .map(|path| root.path().join(path.trim_start_matches('/')))
    };
    let rules = inside("LOGPIPE_ALERTING_RULES_DIR").unwrap();
    let mut args = vec![
        "alerting".to_owned(),
        "check".into(),
        rules.display().to_string(),
    ];
    let mut keys = Vec::new();
    if let Some(notifiers) = inside("LOGPIPE_ALERTING_NOTIFIERS_FILE") {
        let text = std::fs::read_to_string(&notifiers).unwrap_or_default();
        let parsed: BTreeMap<String, Value> = serde_norway::from_str(&text).unwrap_or_default();
        for (notifier, settings) in parsed {
            if let Some(var) = settings["secret_env"].as_str() {
                if !env.contains_key(var) {
                    problem(format!(
                        "notifier {notifier}: {var} (its secret_env) is not set"
                    ));
                }
                keys.push(var.to_owned());
            }
        }
        args.extend(["--notifiers".into(), notifiers.display().to_string()]);
    }
    let secrets: Vec<(&str, &str)> = keys
        .iter()
        .map(|k| (k.as_str(), TEST_WEBHOOK_SECRET))
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run(&args, &secrets);
    if !output.status.success() {
        let shown =
            String::from_utf8_lossy(&output.stderr).replace(&root.path().display().to_string(), "");
        problem(format!("logpipe alerting check failed:\n{shown}"));
    }
}

fn check_service(service: &Service, objects: &Objects, problems: &mut Vec<String>) {
    let name = service.metadata.name.clone().unwrap_or_default();
    let Some(spec) = &service.spec else {
        return problems.push(format!("service {name}: no spec"));
    };
    let selector = spec.selector.clone().unwrap_or_default();
    let pods: Vec<&PodTemplateSpec> = objects
        .workloads
        .iter()
        .map(|w| &w.template)
        .filter(|t| {
            let labels = t.metadata.as_ref().and_then(|m| m.labels.as_ref());
            !selector.is_empty()
                && selector
                    .iter()
                    .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        })
        .collect();
    if pods.is_empty() {
        return problems.push(format!("service {name}: its selector matches no pods"));
    }
    let container_ports: Vec<_> = pods
        .iter()
        .filter_map(|t| t.spec.as_ref())
        .flat_map(|s| &s.containers)
        .flat_map(|c| c.ports.iter().flatten())
        .collect();
    for port in spec.ports.iter().flatten() {
        let target = port
            .target_port
            .clone()
            .unwrap_or(IntOrString::Int(port.port));
        let found = container_ports.iter().any(|p| match &target {
            IntOrString::Int(n) => p.container_port == *n,
            IntOrString::String(s) => p.name.as_deref() == Some(s),
        });
        if !found {
            let shown = match &target {
                IntOrString::Int(n) => n.to_string(),
                IntOrString::String(s) => s.clone(),
            };
            problems.push(format!(
                "service {name}: target port {shown} is not a port of its pods"
            ));
        }
    }
}
