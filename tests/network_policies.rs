//! The kustomization's network policies, applied as a network plugin applies them to the
//! parties of a cluster: logpipe's pods, the pods around them (Prometheus, the ingress
//! controller, DNS, Kafka, bystanders) and addresses inside and outside the cluster. Every
//! connection a role needs must be allowed, and every other connection between them denied,
//! so a policy that is too open fails as surely as one that breaks the pipeline.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::policy_engine::{
    Direction, Endpoint, NAMESPACE_NAME, allows, is_default_deny, is_empty, names_namespaces,
    selects,
};

/// A pod's labels, as written here.
type Labels = &'static [(&'static str, &'static str)];

/// The pods outside logpipe that its policies let in or out, as the EDIT notes of
/// `config/kubernetes/network-policies.yaml` name them: change both together.
const PROMETHEUS: (&str, Labels) = ("monitoring", &[("app.kubernetes.io/name", "prometheus")]);
const INGRESS_CONTROLLER: (&str, Labels) = (
    "ingress-nginx",
    &[
        ("app.kubernetes.io/name", "ingress-nginx"),
        ("app.kubernetes.io/component", "controller"),
    ],
);
const DNS: (&str, Labels) = ("kube-system", &[("k8s-app", "kube-dns")]);
/// A Kafka broker's pod, in the namespace its bootstrap address names.
const KAFKA_LABELS: Labels = &[("app.kubernetes.io/name", "kafka")];

/// The API server as the collectors reach it, on a control-plane address (not a pod):
/// `logpipe-allow-apiserver` names it.
const API_SERVER: &str = "10.0.0.10";
const API_SERVER_PORTS: [i32; 2] = [443, 6443];

/// Pods nothing of logpipe talks to; `None` stands for logpipe's own namespace.
const BYSTANDERS: &[(Option<&str>, Labels)] = &[
    (None, &[("app.kubernetes.io/name", "debug-shell")]),
    (Some("monitoring"), &[("app.kubernetes.io/name", "grafana")]),
    (Some("kube-system"), &[("k8s-app", "metrics-server")]),
    (Some("default"), &[("app", "web")]),
];

/// Addresses that are not pods, and whether they are on the public internet.
const ADDRESSES: &[(&str, &str, bool)] = &[
    ("203.0.113.10", "a public address", true),
    ("2001:db8::10", "a public IPv6 address", true),
    ("169.254.169.254", "the cloud metadata address", false),
    ("fd00:ec2::254", "the IPv6 cloud metadata address", false),
    ("10.96.0.1", "a private address (10.0.0.0/8)", false),
    ("172.20.0.10", "a private address (172.16.0.0/12)", false),
    ("192.168.1.10", "a private address (192.168.0.0/16)", false),
    ("100.64.0.10", "a shared address (100.64.0.0/10)", false),
];

/// Ports tried on every party besides its own and the roles'.
const COMMON_PORTS: [i32; 10] = [22, 53, 80, 443, 6443, 8080, 8443, 9090, 9092, 9093];
const PROTOCOLS: [&str; 2] = ["TCP", "UDP"];

/// A logpipe pod as its workload declares it.
#[derive(Debug, Clone)]
pub struct Pod {
    /// The workload's name.
    pub name: String,
    pub role: String,
    pub labels: BTreeMap<String, String>,
    /// `PORT`: health, metrics and the role's API.
    pub port: i32,
    pub ports: Vec<PodPort>,
    /// `LOGPIPE_KAFKA_BROKERS`, `host:port` items.
    pub brokers: Vec<String>,
    /// `LOGPIPE_QUERY_INDEXERS`, URLs.
    pub indexers: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct PodPort {
    pub name: Option<String>,
    pub number: i32,
    pub protocol: String,
}

/// What a party is, for the connections it needs.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Logpipe(usize),
    Prometheus,
    IngressController,
    Dns,
    /// A broker, with the ports of the addresses pointing at it.
    Kafka(BTreeSet<i32>),
    Bystander,
    Address {
        public: bool,
    },
    ApiServer,
}

#[derive(Debug, Clone)]
struct Party {
    name: String,
    kind: Kind,
    at: Endpoint,
}

/// Every problem with the policies, as lowercase messages.
pub fn check(
    namespace: &str,
    policies: &[(String, NetworkPolicy)],
    pods: &[Pod],
    problems: &mut Vec<String>,
) {
    for (what, policy) in policies {
        check_policy(what, policy, pods, problems);
    }
    if !policies.iter().any(|(_, p)| is_default_deny(p)) {
        problems.push(
            "network policies: no default-deny policy (podSelector {}, policyTypes Ingress and Egress, no rules)"
                .into(),
        );
    }
    let Some(parties) = parties(namespace, pods, problems) else {
        return;
    };
    let mut ports: BTreeSet<i32> = COMMON_PORTS.into();
    for party in &parties {
        ports.extend(party.at.ports.iter().map(|p| p.number));
    }
    // Each side on its own: a pod's ingress must not rely on every other pod's egress
    // being tight, nor the other way round.
    let governed = |p: &Party| p.at.namespace.as_deref() == Some(namespace);
    for from in &parties {
        for to in &parties {
            if std::ptr::eq(from, to) {
                continue;
            }
            for direction in [Direction::Egress, Direction::Ingress] {
                let (subject, other) = match direction {
                    Direction::Egress => (from, to),
                    Direction::Ingress => (to, from),
                };
                if !governed(subject) {
                    continue;
                }
                let mut extra = Vec::new();
                let mut missing = Vec::new();
                for protocol in PROTOCOLS {
                    for &port in &ports {
                        let allowed = allows(
                            namespace,
                            policies,
                            direction,
                            &subject.at,
                            &other.at,
                            port,
                            protocol,
                        );
                        match (allowed, needed(pods, from, to, port, protocol)) {
                            (true, false) => extra.push(format!("{port}/{protocol}")),
                            (false, true) => missing.push(format!("{port}/{protocol}")),
                            _ => {}
                        }
                    }
                }
                let (a, b) = (&from.name, &to.name);
                let connection = match direction {
                    Direction::Egress => format!("egress from {a} to {b}"),
                    Direction::Ingress => format!("ingress to {b} from {a}"),
                };
                if extra.len() == ports.len() * PROTOCOLS.len() {
                    problems.push(format!(
                        "network policies: {connection} is allowed on every port tried, which is not needed"
                    ));
                } else if !extra.is_empty() {
                    problems.push(format!(
                        "network policies: {connection} is allowed on {}, which is not needed",
                        extra.join(", ")
                    ));
                }
                if !missing.is_empty() {
                    problems.push(format!(
                        "network policies: {connection} is denied on {}, which is needed",
                        missing.join(", ")
                    ));
                }
            }
        }
    }
}

/// The connections the roles need, and nothing else.
fn needed(pods: &[Pod], from: &Party, to: &Party, port: i32, protocol: &str) -> bool {
    let tcp = protocol == "TCP";
    if let Kind::Logpipe(i) = from.kind {
        let pod = &pods[i];
        let reaches = match &to.kind {
            Kind::Dns => port == 53,
            Kind::Kafka(ports) => {
                tcp && ports.contains(&port) && broker_ports(pod).any(|p| p == port)
            }
            Kind::Logpipe(j) if pod.role == "query" && pods[*j].role == "indexer" => {
                tcp && indexer_ports(pod).any(|p| p == port)
            }
            Kind::Address { public: true } if pod.role == "alerting" => tcp && port == 443,
            Kind::ApiServer if pod.role == "collector" => tcp && API_SERVER_PORTS.contains(&port),
            _ => false,
        };
        if reaches {
            return true;
        }
    }
    if let Kind::Logpipe(j) = to.kind {
        let pod = &pods[j];
        let opens = match &from.kind {
            Kind::Prometheus => true,
            Kind::IngressController => pod.role == "query",
            _ => false,
        };
        return opens && tcp && port == pod.port;
    }
    false
}

fn broker_ports(pod: &Pod) -> impl Iterator<Item = i32> + '_ {
    pod.brokers
        .iter()
        .filter_map(|b| b.rsplit_once(':')?.1.parse().ok())
}

fn indexer_ports(pod: &Pod) -> impl Iterator<Item = i32> + '_ {
    pod.indexers.iter().filter_map(|u| {
        url::Url::parse(u)
            .ok()?
            .port_or_known_default()
            .map(i32::from)
    })
}

/// The parties of the cluster: logpipe's pods, the pods around them, the brokers and
/// addresses that are not pods.
fn parties(namespace: &str, pods: &[Pod], problems: &mut Vec<String>) -> Option<Vec<Party>> {
    let mut next = 0u8;
    let mut pod_ip = || {
        next += 1;
        IpAddr::from([10, 244, 0, next])
    };
    let owned = |labels: &[(&str, &str)]| -> BTreeMap<String, String> {
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let mut parties = Vec::new();
    for (i, pod) in pods.iter().enumerate() {
        parties.push(Party {
            name: format!("{} pods", pod.name),
            kind: Kind::Logpipe(i),
            at: Endpoint {
                namespace: Some(namespace.to_owned()),
                labels: pod.labels.clone(),
                ip: pod_ip(),
                ports: pod.ports.clone(),
            },
        });
    }
    let dns_ports = PROTOCOLS.map(|protocol| PodPort {
        name: Some("dns".into()),
        number: 53,
        protocol: protocol.into(),
    });
    for (kind, (ns, labels), ports) in [
        (Kind::Prometheus, PROMETHEUS, vec![]),
        (Kind::IngressController, INGRESS_CONTROLLER, vec![]),
        (Kind::Dns, DNS, dns_ports.to_vec()),
    ] {
        let name = labels[0].1;
        parties.push(Party {
            name: format!("{name} (namespace {ns})"),
            kind,
            at: Endpoint {
                namespace: Some(ns.into()),
                labels: owned(labels),
                ip: pod_ip(),
                ports,
            },
        });
    }
    for (ns, labels) in BYSTANDERS {
        let ns = ns.unwrap_or(namespace);
        parties.push(Party {
            name: format!("another pod ({}) in namespace {ns}", labels[0].1),
            kind: Kind::Bystander,
            at: Endpoint {
                namespace: Some(ns.into()),
                labels: owned(labels),
                ip: pod_ip(),
                ports: vec![],
            },
        });
    }
    // One broker party per bootstrap host, with every port named for it.
    let mut brokers: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
    for pod in pods {
        for broker in &pod.brokers {
            let Some((host, port)) = broker.rsplit_once(':') else {
                problems.push(format!(
                    "network policies: broker {broker} is not host:port"
                ));
                return None;
            };
            let Ok(port) = port.parse() else {
                problems.push(format!(
                    "network policies: broker {broker} is not host:port"
                ));
                return None;
            };
            brokers.entry(host.to_owned()).or_default().insert(port);
        }
    }
    for (host, ports) in brokers {
        let (broker_ns, ip) = match host.parse::<IpAddr>() {
            Ok(ip) => (None, ip),
            Err(_) => {
                let labels: Vec<&str> = host.split('.').collect();
                let ns = match labels.as_slice() {
                    [_] => namespace,
                    [_, ns] => ns,
                    [_, ns, "svc", ..] => ns,
                    _ => {
                        problems.push(format!(
                            "network policies: broker {host} is not a service of the cluster \
                             (service, service.namespace or service.namespace.svc...): the check \
                             cannot tell where it is"
                        ));
                        return None;
                    }
                };
                (Some(ns.to_owned()), pod_ip())
            }
        };
        parties.push(Party {
            name: format!("kafka broker {host}"),
            kind: Kind::Kafka(ports.clone()),
            at: Endpoint {
                namespace: broker_ns,
                labels: owned(KAFKA_LABELS),
                ip,
                ports: ports
                    .iter()
                    .map(|&number| PodPort {
                        name: None,
                        number,
                        protocol: "TCP".into(),
                    })
                    .collect(),
            },
        });
    }
    parties.push(Party {
        name: format!("the API server ({API_SERVER})"),
        kind: Kind::ApiServer,
        at: Endpoint {
            namespace: None,
            labels: BTreeMap::new(),
            ip: API_SERVER.parse().unwrap(),
            ports: vec![],
        },
    });
    for (address, what, public) in ADDRESSES {
        parties.push(Party {
            name: format!("{address} ({what})"),
            kind: Kind::Address { public: *public },
            at: Endpoint {
                namespace: None,
                labels: BTreeMap::new(),
                ip: address.parse().unwrap(),
                ports: vec![],
            },
        });
    }
    Some(parties)
}

/// What the evaluation cannot judge: selectors that match none of logpipe's pods (a label
/// mistyped), peers in namespaces not named, malformed peers and operators.
fn check_policy(what: &str, policy: &NetworkPolicy, pods: &[Pod], problems: &mut Vec<String>) {
    let Some(spec) = &policy.spec else {
        return problems.push(format!("{what}: no spec"));
    };
    let selects_a_pod =
        |selector: &LabelSelector| pods.iter().any(|pod| selects(selector, &pod.labels));
    let mut selectors = vec![("podSelector", spec.pod_selector.as_ref())];
    if !is_empty(spec.pod_selector.as_ref())
        && !spec.pod_selector.as_ref().is_some_and(selects_a_pod)
    {
        problems.push(format!(
            "{what}: podSelector selects no pod of the kustomization"
        ));
    }
    let peers = spec
        .ingress
        .iter()
        .flatten()
        .flat_map(|r| r.from.iter().flatten())
        .chain(
            spec.egress
                .iter()
                .flatten()
                .flat_map(|r| r.to.iter().flatten()),
        );
    for peer in peers {
        let fields = [
            peer.ip_block.is_some(),
            peer.namespace_selector.is_some(),
            peer.pod_selector.is_some(),
        ];
        if fields == [false; 3] || (fields[0] && (fields[1] || fields[2])) {
            problems.push(format!(
                "{what}: a peer is an ipBlock alone, or a namespaceSelector and/or podSelector"
            ));
        }
        if let Some(block) = &peer.ip_block {
            for cidr in std::iter::once(&block.cidr).chain(block.except.iter().flatten()) {
                if cidr.parse::<IpNet>().is_err() {
                    problems.push(format!("{what}: {cidr} is not a CIDR"));
                }
            }
        }
        match (&peer.namespace_selector, &peer.pod_selector) {
            (None, Some(selector)) if !selects_a_pod(selector) => problems.push(format!(
                "{what}: a peer's podSelector selects no pod of the kustomization"
            )),
            (Some(selector), _) if !names_namespaces(selector) => problems.push(format!(
                "{what}: a namespaceSelector must name its namespaces ({NAMESPACE_NAME})"
            )),
            _ => {}
        }
        selectors.push(("namespaceSelector", peer.namespace_selector.as_ref()));
        selectors.push(("podSelector", peer.pod_selector.as_ref()));
    }
    for (field, selector) in selectors {
        let operators = selector
            .and_then(|s| s.match_expressions.as_ref())
            .into_iter()
            .flatten()
            .map(|e| e.operator.as_str());
        for operator in operators {
            if !["In", "NotIn", "Exists", "DoesNotExist"].contains(&operator) {
                problems.push(format!("{what}: {field}: unknown operator {operator}"));
            }
        }
    }
}
