//! NetworkPolicy as the Kubernetes API defines it: whether the policies of a namespace
//! let one endpoint open a port on another, in one direction. Pods that no policy of a
//! direction selects are not isolated in it; a rule without peers or ports matches all;
//! named ports are the destination pod's; ipBlocks are matched against any address.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::network_policies::PodPort;

/// The label Kubernetes sets on every namespace to its name.
pub const NAMESPACE_NAME: &str = "kubernetes.io/metadata.name";

/// A rule's peers and ports, ingress or egress alike.
type Rule = (
    Option<Vec<NetworkPolicyPeer>>,
    Option<Vec<NetworkPolicyPort>>,
);

/// One end of a connection: a pod (its namespace, labels and ports) or an address.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `None`: not a pod.
    pub namespace: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub ip: IpAddr,
    pub ports: Vec<PodPort>,
}

#[derive(Debug, Clone, Copy)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    fn policy_type(self) -> &'static str {
        match self {
            Direction::Ingress => "Ingress",
            Direction::Egress => "Egress",
        }
    }
}

/// Whether the policies of `namespace` let `subject` open `port` on `other` (egress) or
/// accept it from `other` (ingress). A pod that no policy of this direction selects is not
/// isolated in it.
pub fn allows(
    namespace: &str,
    policies: &[(String, NetworkPolicy)],
    direction: Direction,
    subject: &Endpoint,
    other: &Endpoint,
    port: i32,
    protocol: &str,
) -> bool {
    // Named ports are those of the pod connected to.
    let to = match direction {
        Direction::Egress => other,
        Direction::Ingress => subject,
    };
    let mut isolated = false;
    for (_, policy) in policies {
        let spec = policy.spec.clone().unwrap_or_default();
        let selects = spec
            .pod_selector
            .as_ref()
            .is_none_or(|s| selects(s, &subject.labels));
        if !selects || !policy_types(policy).contains(direction.policy_type()) {
            continue;
        }
        isolated = true;
        let rules: Vec<Rule> = match direction {
            Direction::Ingress => spec
                .ingress
                .into_iter()
                .flatten()
                .map(|r| (r.from, r.ports))
                .collect(),
            Direction::Egress => spec
                .egress
                .into_iter()
                .flatten()
                .map(|r| (r.to, r.ports))
                .collect(),
        };
        for (peers, ports) in rules {
            let peer_ok = match peers.as_deref() {
                None | Some([]) => true,
                Some(peers) => peers.iter().any(|p| peer_matches(p, other, namespace)),
            };
            if peer_ok && ports_match(ports.as_deref(), to, port, protocol) {
                return true;
            }
        }
    }
    !isolated
}

/// `policyTypes` as the API server defaults it: Ingress always, Egress with egress rules.
pub fn policy_types(policy: &NetworkPolicy) -> BTreeSet<&str> {
    let spec = policy.spec.as_ref();
    match spec.and_then(|s| s.policy_types.as_ref()) {
        Some(types) if !types.is_empty() => types.iter().map(String::as_str).collect(),
        _ => {
            let mut types = BTreeSet::from(["Ingress"]);
            if spec.is_some_and(|s| s.egress.is_some()) {
                types.insert("Egress");
            }
            types
        }
    }
}

fn peer_matches(peer: &NetworkPolicyPeer, party: &Endpoint, namespace: &str) -> bool {
    if let Some(block) = &peer.ip_block {
        let inside = |cidr: &str| cidr.parse::<IpNet>().is_ok_and(|n| n.contains(&party.ip));
        return inside(&block.cidr) && !block.except.iter().flatten().any(|c| inside(c));
    }
    if peer.namespace_selector.is_none() && peer.pod_selector.is_none() {
        return false;
    }
    let Some(party_ns) = &party.namespace else {
        return false;
    };
    let namespace_ok = match &peer.namespace_selector {
        None => party_ns == namespace,
        Some(selector) => selects(
            selector,
            &BTreeMap::from([(NAMESPACE_NAME.to_owned(), party_ns.clone())]),
        ),
    };
    namespace_ok
        && peer
            .pod_selector
            .as_ref()
            .is_none_or(|s| selects(s, &party.labels))
}

/// Whether `port`/`protocol` on `to` is among `ports`; a named port is looked up on `to`.
fn ports_match(
    ports: Option<&[NetworkPolicyPort]>,
    to: &Endpoint,
    port: i32,
    protocol: &str,
) -> bool {
    let Some(ports) = ports.filter(|p| !p.is_empty()) else {
        return true;
    };
    ports.iter().any(|p| {
        p.protocol.as_deref().unwrap_or("TCP") == protocol
            && match &p.port {
                None => true,
                Some(IntOrString::Int(n)) => match p.end_port {
                    Some(end) => (*n..=end).contains(&port),
                    None => *n == port,
                },
                Some(IntOrString::String(name)) => to.ports.iter().any(|named| {
                    named.name.as_deref() == Some(name)
                        && named.protocol == protocol
                        && named.number == port
                }),
            }
    })
}

pub fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let by_labels = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let by_expressions = selector.match_expressions.iter().flatten().all(|e| {
        let value = labels.get(&e.key);
        let values = e.values.as_deref().unwrap_or_default();
        match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    by_labels && by_expressions
}

pub fn is_empty(selector: Option<&LabelSelector>) -> bool {
    selector.is_none_or(|s| {
        s.match_labels.as_ref().is_none_or(|m| m.is_empty())
            && s.match_expressions.as_ref().is_none_or(|e| e.is_empty())
    })
}

/// Every pod of the namespace, both directions, nothing allowed.
pub fn is_default_deny(policy: &NetworkPolicy) -> bool {
    let Some(spec) = &policy.spec else {
        return false;
    };
    let types = policy_types(policy);
    is_empty(spec.pod_selector.as_ref())
        && types.contains("Ingress")
        && types.contains("Egress")
        && spec.ingress.as_ref().is_none_or(|r| r.is_empty())
        && spec.egress.as_ref().is_none_or(|r| r.is_empty())
}

/// A namespace selector that picks namespaces by name, so the check knows who it admits.
pub fn names_namespaces(selector: &LabelSelector) -> bool {
    let by_label = selector
        .match_labels
        .as_ref()
        .is_some_and(|m| m.contains_key(NAMESPACE_NAME));
    let by_expression = selector
        .match_expressions
        .iter()
        .flatten()
        .any(|e| e.key == NAMESPACE_NAME && e.operator == "In");
    by_label || by_expression
}
