"""A small NetworkPolicy evaluator: would this ingress connection be allowed?

The API server stores NetworkPolicies but never checks that they say what you meant, and
only a CNI that enforces them (Calico, Cilium, recent kindnet) makes them real. Evaluating
them here lets the lab and the checks prove the intent ("only the search API reaches
Milvus on 19530") on any cluster, or with no cluster at all.

Scope: ingress rules, pods in one namespace, ipBlock sources. Named ports and
namespaceSelectors other than "this namespace" are outside it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from milvus_lab.kube.apply import to_dict


@dataclass(frozen=True)
class Source:
    """Who opens the connection: a pod (its labels) in the namespace, or an IP outside it."""

    labels: Mapping[str, str] | None = None
    ip: str | None = None
    namespace_labels: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def pod(cls, **labels: str) -> Source:
        return cls(labels=labels)

    @classmethod
    def external(cls, ip: str) -> Source:
        return cls(ip=ip)


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Label-selector semantics: an empty selector matches everything; None matches nothing."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in labels
        if (op == "In" and (not present or labels[key] not in values)) \
                or (op == "NotIn" and present and labels[key] in values) \
                or (op == "Exists" and not present) \
                or (op == "DoesNotExist" and present):
            return False
    return True


def _peer_matches(peer: Mapping[str, Any], source: Source) -> bool:
    if "ipBlock" in peer:
        if source.ip is None:
            return False
        block = peer["ipBlock"]
        ip = ipaddress.ip_address(source.ip)
        if ip not in ipaddress.ip_network(block["cidr"], strict=False):
            return False
        return not any(ip in ipaddress.ip_network(c, strict=False) for c in block.get("except") or [])
    if source.labels is None:
        return False  # pod and namespace selectors only ever match pods
    if "namespaceSelector" in peer and not selector_matches(peer["namespaceSelector"], source.namespace_labels):
        return False
    if "podSelector" in peer:
        return selector_matches(peer["podSelector"], source.labels)
    return "namespaceSelector" in peer


def _port_matches(ports: Sequence[Mapping[str, Any]] | None, port: int, protocol: str) -> bool:
    if not ports:
        return True
    for p in ports:
        if p.get("protocol", "TCP") != protocol:
            continue
        if "port" not in p:
            return True
        low = p["port"]
        if isinstance(low, int) and low <= port <= int(p.get("endPort", low)):
            return True
    return False


def selects(policy: Mapping[str, Any], pod_labels: Mapping[str, str]) -> bool:
    """Does this policy isolate the pod for ingress?"""
    spec = policy.get("spec") or {}
    types = spec.get("policyTypes") or ["Ingress"]
    return "Ingress" in types and selector_matches(spec.get("podSelector", {}), pod_labels)


def ingress_allowed(
    policies: Sequence[Any], target_labels: Mapping[str, str], source: Source,
    port: int, protocol: str = "TCP",
) -> bool:
    """True when `source` may connect to a pod with `target_labels` on `port`."""
    selecting = [p for p in (to_dict(x) for x in policies) if selects(p, target_labels)]
    if not selecting:
        return True  # no policy selects the pod: it is not isolated
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            peers = rule.get("from")
            if (not peers or any(_peer_matches(peer, source) for peer in peers)) \
                    and _port_matches(rule.get("ports"), port, protocol):
                return True
    return False
