//! Finding the files to tail: container logs in the kubelet layout and named host-file
//! globs, behind one narrow trait so the tailer knows nothing of Kubernetes.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use logpipe_common::K8s;

use crate::config::HostFiles;

/// What a file's events say about where they came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Pod {
        namespace: String,
        pod: String,
        uid: String,
        container: String,
    },
    Host {
        name: String,
    },
}

impl Origin {
    pub(crate) fn k8s(&self, node: &str) -> K8s {
        match self {
            Origin::Pod {
                namespace,
                pod,
                uid,
                container,
            } => K8s {
                namespace: Some(namespace.clone()),
                pod: Some(pod.clone()),
                pod_uid: Some(uid.clone()),
                container: Some(container.clone()),
                node: node.to_owned(),
                ..K8s::default()
            },
            Origin::Host { .. } => K8s {
                node: node.to_owned(),
                ..K8s::default()
            },
        }
    }

    /// The Kafka message key: `<namespace>/<pod>`, or `<node>/<source name>`.
    pub(crate) fn kafka_key(&self, node: &str) -> String {
        match self {
            Origin::Pod { namespace, pod, .. } => format!("{namespace}/{pod}"),
            Origin::Host { name } => format!("{node}/{name}"),
        }
    }

    pub(crate) fn source_name(&self) -> Option<&str> {
        match self {
            Origin::Pod { .. } => None,
            Origin::Host { name } => Some(name),
        }
    }

    /// Container logs are framed by the runtime (CRI or docker json-file); host files are
    /// plain lines.
    pub(crate) fn is_container_log(&self) -> bool {
        matches!(self, Origin::Pod { .. })
    }
}

/// A file found by a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    pub path: PathBuf,
    pub origin: Origin,
    /// A rotated-away file (kubelet's `0.log.<time>`): read only when it is known from
    /// the checkpoints or appeared while the collector was down.
    pub rotated: bool,
}

/// Lists the files to tail; called on every inotify event and every rescan.
pub trait PathsProvider: Send {
    fn discover(&self) -> Vec<Discovered>;
    /// Directories to watch with inotify.
    fn watch_roots(&self) -> Vec<PathBuf>;
}

/// Container logs under the kubelet's pods directory.
#[derive(Debug)]
pub struct KubeletPaths {
    pods_dir: PathBuf,
    include: GlobSet,
    exclude: GlobSet,
}

impl KubeletPaths {
    pub fn new(
        pods_dir: PathBuf,
        include: &[String],
        exclude: &[String],
    ) -> Result<Self, globset::Error> {
        Ok(KubeletPaths {
            pods_dir,
            include: glob_set(include)?,
            exclude: glob_set(exclude)?,
        })
    }

    fn wanted(&self, namespace: &str, pod: &str, container: &str) -> bool {
        let name = format!("{namespace}/{pod}/{container}");
        self.include.is_match(&name) && !self.exclude.is_match(&name)
    }
}

fn glob_set(patterns: &[String]) -> Result<GlobSet, globset::Error> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        builder.add(Glob::new(pattern)?);
    }
    builder.build()
}

/// `<namespace>_<pod>_<uid>`: namespace and pod names cannot contain `_`.
pub fn parse_pod_dir(name: &str) -> Option<(&str, &str, &str)> {
    let mut parts = name.splitn(3, '_');
    let namespace = parts.next().filter(|s| !s.is_empty())?;
    let pod = parts.next().filter(|s| !s.is_empty())?;
    let uid = parts.next().filter(|s| !s.is_empty() && !s.contains('_'))?;
    Some((namespace, pod, uid))
}

/// `0.log` is live; `0.log.20261127-050000` is rotated; compressed ones are not read.
fn classify_log_file(name: &str) -> Option<bool> {
    if name.ends_with(".log") {
        return Some(false);
    }
    let (_, suffix) = name.split_once(".log.")?;
    let compressed = [".gz", ".zst", ".bz2", ".xz", ".tmp"]
        .iter()
        .any(|ext| suffix.ends_with(ext));
    (!compressed).then_some(true)
}

fn read_dir_sorted(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .collect();
    paths.sort();
    paths
}

impl PathsProvider for KubeletPaths {
    fn discover(&self) -> Vec<Discovered> {
        let mut found = Vec::new();
        for pod_dir in read_dir_sorted(&self.pods_dir) {
            let Some(name) = pod_dir.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some((namespace, pod, uid)) = parse_pod_dir(name) else {
                continue;
            };
            for container_dir in read_dir_sorted(&pod_dir) {
                if !container_dir.is_dir() {
                    continue;
                }
                let Some(container) = container_dir.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                if !self.wanted(namespace, pod, container) {
                    continue;
                }
                for path in read_dir_sorted(&container_dir) {
                    let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
                        continue;
                    };
                    let Some(rotated) = classify_log_file(file_name) else {
                        continue;
                    };
                    if !path.is_file() {
                        continue;
                    }
                    found.push(Discovered {
                        path,
                        origin: Origin::Pod {
                            namespace: namespace.to_owned(),
                            pod: pod.to_owned(),
                            uid: uid.to_owned(),
                            container: container.to_owned(),
                        },
                        rotated,
                    });
                }
            }
        }
        found
    }

    fn watch_roots(&self) -> Vec<PathBuf> {
        vec![self.pods_dir.clone()]
    }
}

/// Named host files matched by absolute globs, e.g. the API server's audit log.
#[derive(Debug)]
pub(crate) struct HostPaths {
    sources: Vec<(String, PathBuf, globset::GlobMatcher)>,
}

/// How deep a host-file glob's directory tree is walked.
const HOST_WALK_DEPTH: usize = 4;

impl HostPaths {
    pub(crate) fn new(host_files: &[HostFiles]) -> Result<Self, globset::Error> {
        let mut sources = Vec::new();
        for entry in host_files {
            let matcher = Glob::new(&entry.glob)?.compile_matcher();
            sources.push((entry.name.clone(), literal_prefix(&entry.glob), matcher));
        }
        Ok(HostPaths { sources })
    }
}

/// The deepest directory of `glob` without glob characters.
fn literal_prefix(glob: &str) -> PathBuf {
    let mut prefix = PathBuf::from("/");
    let components: Vec<&str> = glob.split('/').filter(|c| !c.is_empty()).collect();
    for component in &components[..components.len().saturating_sub(1)] {
        if component.contains(['*', '?', '[', '{']) {
            break;
        }
        prefix.push(component);
    }
    prefix
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    for path in read_dir_sorted(dir) {
        if path.is_dir() {
            if depth > 0 {
                walk(&path, depth - 1, out);
            }
        } else if path.is_file() {
            out.push(path);
        }
    }
}

impl PathsProvider for HostPaths {
    fn discover(&self) -> Vec<Discovered> {
        let mut found = Vec::new();
        for (name, base, matcher) in &self.sources {
            let mut files = Vec::new();
            walk(base, HOST_WALK_DEPTH, &mut files);
            for path in files.into_iter().filter(|path| matcher.is_match(path)) {
                found.push(Discovered {
                    path,
                    origin: Origin::Host { name: name.clone() },
                    rotated: false,
                });
            }
        }
        found
    }

    fn watch_roots(&self) -> Vec<PathBuf> {
        self.sources
            .iter()
            .map(|(_, base, _)| base.clone())
            .collect()
    }
}

/// Several providers as one.
pub(crate) struct AllPaths(pub(crate) Vec<Box<dyn PathsProvider>>);

impl std::fmt::Debug for AllPaths {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AllPaths({} providers)", self.0.len())
    }
}

impl PathsProvider for AllPaths {
    fn discover(&self) -> Vec<Discovered> {
        self.0
            .iter()
            .flat_map(|provider| provider.discover())
            .collect()
    }

    fn watch_roots(&self) -> Vec<PathBuf> {
        self.0
            .iter()
            .flat_map(|provider| provider.watch_roots())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"x\n").unwrap();
    }

    #[test]
    fn kubelet_layout() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(&root.join("shop_api-7d9f-x2_0b1c-22/api/0.log"));
        touch(&root.join("shop_api-7d9f-x2_0b1c-22/api/0.log.20261127-050000"));
        touch(&root.join("shop_api-7d9f-x2_0b1c-22/api/0.log.20261127-040000.gz"));
        touch(&root.join("shop_api-7d9f-x2_0b1c-22/istio-proxy/0.log"));
        touch(&root.join("logpipe_logpipe-collector-abc_9/collector/0.log"));
        touch(&root.join("not-a-pod-dir/c/0.log"));
        let paths = KubeletPaths::new(
            root.to_owned(),
            &["*/*/*".into()],
            &[
                "*/*/istio-proxy".into(),
                "logpipe/logpipe-collector-*/*".into(),
            ],
        )
        .unwrap();
        let found = paths.discover();
        assert_eq!(found.len(), 2, "{found:#?}");
        assert_eq!(
            found[0].origin,
            Origin::Pod {
                namespace: "shop".into(),
                pod: "api-7d9f-x2".into(),
                uid: "0b1c-22".into(),
                container: "api".into()
            }
        );
        assert!(!found[0].rotated);
        assert!(found[1].rotated);
        assert_eq!(found[0].origin.kafka_key("n1"), "shop/api-7d9f-x2");
    }

    #[test]
    fn host_globs() {
        let dir = tempfile::tempdir().unwrap();
        let audit = dir.path().join("kubernetes/audit");
        touch(&audit.join("audit.log"));
        touch(&audit.join("audit-2026-11-27T05-00-00.000.log"));
        touch(&audit.join("policy.yaml"));
        let glob = format!("{}/*.log", audit.display());
        let paths = HostPaths::new(&[HostFiles {
            name: "kube-audit".into(),
            glob,
        }])
        .unwrap();
        let found = paths.discover();
        assert_eq!(found.len(), 2);
        assert!(found.iter().all(|d| d.origin
            == Origin::Host {
                name: "kube-audit".into()
            }));
        assert_eq!(paths.watch_roots(), [audit]);
    }

    #[test]
    fn pod_dir_names() {
        assert_eq!(
            parse_pod_dir("kube-system_coredns-1_abc-1"),
            Some(("kube-system", "coredns-1", "abc-1"))
        );
        assert_eq!(parse_pod_dir("nounderscore"), None);
        assert_eq!(parse_pod_dir("a__b"), None);
    }
}
