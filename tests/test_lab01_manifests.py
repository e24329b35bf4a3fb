"""Lab 01 manifests without a cluster: labels, pinned images, schema, NetworkPolicy intent.

Why: `--dry-run` must work with no cluster and catch a broken object with a message
that names the object and the field; and every object must carry the labels cleanup
relies on, or cleanup would leave it behind.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubernetes import client

from milvus_lab.errors import PrerequisiteError
from milvus_lab.kube import apply
from milvus_lab.kube import manifests as m
from milvus_lab.kube.netpol import Source, ingress_allowed, selector_matches
from milvus_lab.kube.verify import netpol_intent_checks
from milvus_lab.labkit import load_impl

REPO = Path(__file__).resolve().parents[1]
SOLUTION = load_impl("lab01_kubernetes", "solutions")  # the HPA, PDB and NetworkPolicies live in the exercise


@pytest.fixture(scope="module")
def objs() -> list[dict]:
    return [apply.to_dict(o) for o in m.stack(m.StackOptions("01"), {"MILVUS_LAB_API_KEY": "s3cret"}, SOLUTION.builders())]


def _pod_templates(d: dict) -> list[dict]:
    spec = d.get("spec") or {}
    out = [spec["template"]] if "template" in spec else []
    out += spec.get("volumeClaimTemplates") or []
    return out


def test_every_object_and_template_carries_the_lab_labels(objs: list[dict]) -> None:
    want = m.lab_labels("01")
    for d in objs:
        for meta in [d["metadata"], *(t["metadata"] for t in _pod_templates(d))]:
            labels = meta.get("labels") or {}
            assert want.items() <= labels.items(), f"{apply.ref(d)} lacks {want}: {labels}"


def test_stack_has_every_kind_the_issue_lists(objs: list[dict]) -> None:
    kinds = {d["kind"] for d in objs}
    assert {"Namespace", "ResourceQuota", "LimitRange", "StatefulSet", "Service", "Deployment",
            "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "ConfigMap",
            "Secret"} <= kinds
    assert objs[0]["kind"] == "Namespace", "the namespace must be applied first"


def test_images_are_pinned_never_latest(objs: list[dict]) -> None:
    for d in objs:
        for t in _pod_templates(d):
            for c in (t.get("spec") or {}).get("containers", []):
                repo, _, tag = c["image"].rpartition(":")
                assert repo and tag and tag != "latest", f"{apply.ref(d)}: unpinned image {c['image']}"
    assert m.MILVUS_IMAGE.startswith("milvusdb/milvus:v2.6.")


def test_helm_values_pin_the_same_milvus_as_the_manifests() -> None:
    values = yaml.safe_load((REPO / "deploy/helm/milvus-values.yaml").read_text())
    assert f"milvusdb/milvus:{values['image']['all']['tag']}" == m.MILVUS_IMAGE
    assert values["cluster"]["enabled"] is False


def test_pod_security_labels_and_restricted_api_container(objs: list[dict]) -> None:
    ns = objs[0]["metadata"]["labels"]
    assert ns["pod-security.kubernetes.io/enforce"] == "baseline"
    assert ns["pod-security.kubernetes.io/warn"] == "restricted"
    dep = next(d for d in objs if d["kind"] == "Deployment")
    c = dep["spec"]["template"]["spec"]["containers"][0]
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"] and sc["seccompProfile"]["type"] == "RuntimeDefault"
    assert c["resources"]["requests"] and c["resources"]["limits"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_milvus_statefulset_probes_storage_and_resources(objs: list[dict]) -> None:
    sts = next(d for d in objs if d["kind"] == "StatefulSet")
    c = sts["spec"]["template"]["spec"]["containers"][0]
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert {"name": "metrics", "containerPort": 9091} in c["ports"]
    pvc = sts["spec"]["volumeClaimTemplates"][0]["spec"]
    assert "storageClassName" not in pvc, "no class: kind's default StorageClass provisions it"
    assert c["resources"]["limits"]["memory"] == "4Gi"


def test_api_service_selects_one_slot_and_preview_is_reusable() -> None:
    live = apply.to_dict(m.search_api_service(namespace="milvus-lab", lab="01"))
    preview = apply.to_dict(m.search_api_service("search-api-preview", "green", namespace="milvus-lab", lab="03",
                                                 node_port=m.NODE_PORTS.search_api_preview))
    assert live["spec"]["selector"] == {m.NAME_LABEL: "search-api", m.SLOT_LABEL: "blue"}
    assert preview["spec"]["selector"][m.SLOT_LABEL] == "green"
    green = apply.to_dict(m.search_api_deployment("green", "0.2.0", namespace="milvus-lab", lab="03"))
    assert green["metadata"]["name"] == "search-api-green"
    assert green["spec"]["template"]["metadata"]["labels"][m.VERSION_LABEL] == "0.2.0"
    assert selector_matches(green["spec"]["selector"], green["spec"]["template"]["metadata"]["labels"])


def test_the_whole_stack_passes_the_schema_offline(objs: list[dict]) -> None:
    assert apply.validate_offline(objs) == []
    assert apply.ensure_valid(objs) == len(objs)


def test_offline_validation_names_the_object_and_the_field(objs: list[dict]) -> None:
    dep = apply.redact(next(d for d in objs if d["kind"] == "Deployment"))
    dep["spec"]["replicas"] = "two"
    typo = apply.redact(dep)
    typo["spec"]["replicas"] = 2
    typo["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    old_api = apply.to_dict(SOLUTION.horizontal_pod_autoscaler("search-api-blue", "milvus-lab", "01"))
    old_api = {**old_api, "apiVersion": "autoscaling/v2beta2"}
    issues = apply.validate_offline([dep, typo, old_api])
    assert [str(i.ref) for i in issues] == [
        "Deployment milvus-lab/search-api-blue", "Deployment milvus-lab/search-api-blue",
        "HorizontalPodAutoscaler milvus-lab/search-api-blue"]
    assert issues[0].path == "spec.replicas" and "'two' is not of type 'integer'" in issues[0].message
    assert issues[1].path == "spec.template.spec.containers[0]" and "readinesProbe" in issues[1].message
    assert "autoscaling/v2beta2" in issues[2].message
    with pytest.raises(PrerequisiteError) as err:
        apply.ensure_valid([dep])
    assert "spec.replicas" in str(err.value) and "search-api-blue" in str(err.value)


def test_rendered_yaml_redacts_secrets(objs: list[dict]) -> None:
    text = apply.to_yaml(objs)
    assert "s3cret" not in text and apply.REDACTED in text
    assert len(list(yaml.safe_load_all(text))) == len(objs)


def test_reference_network_policies_do_what_they_claim() -> None:
    checks = netpol_intent_checks(SOLUTION.network_policies("milvus-lab", "01"))
    assert all(c.passed for c in checks), [c for c in checks if not c.passed]


def test_intent_checks_catch_a_too_open_policy_set() -> None:
    no_default_deny = SOLUTION.network_policies("milvus-lab", "01")[1:]
    assert not all(c.passed for c in netpol_intent_checks(no_default_deny))
    allow_all = [*SOLUTION.network_policies("milvus-lab", "01"), client.V1NetworkPolicy(
        api_version="networking.k8s.io/v1", kind="NetworkPolicy",
        metadata=client.V1ObjectMeta(name="allow-all"),
        spec=client.V1NetworkPolicySpec(pod_selector=client.V1LabelSelector(),
                                        ingress=[client.V1NetworkPolicyIngressRule()]))]
    failed = [c.name for c in netpol_intent_checks(allow_all) if not c.passed]
    assert "NetworkPolicy: other pod -> Milvus :19530 denied" in failed


def test_netpol_ip_blocks_and_expressions() -> None:
    pol = apply.to_dict(SOLUTION.network_policies("milvus-lab", "01", host_cidrs=["172.18.0.0/16"])[3])
    milvus = m.milvus_pod_labels()
    assert ingress_allowed([pol], milvus, Source.external("172.18.0.1"), 19530)
    assert not ingress_allowed([pol], milvus, Source.external("10.0.0.1"), 19530)
    assert selector_matches({"matchExpressions": [{"key": "a", "operator": "In", "values": ["x"]}]}, {"a": "x"})
    assert not selector_matches({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"a": "x"})


def test_kind_config_maps_every_node_port_to_localhost() -> None:
    cfg = yaml.safe_load((REPO / "kind-config.yaml").read_text())
    assert cfg["name"] == "milvus-lab"
    assert [n["role"] for n in cfg["nodes"]] == ["control-plane", "worker"]
    mappings = {p["containerPort"]: p for n in cfg["nodes"] for p in n.get("extraPortMappings", [])}
    assert {k: v["hostPort"] for k, v in mappings.items()} == m.HOST_PORTS
    assert all(p["listenAddress"] == "127.0.0.1" for p in mappings.values())
    assert set(mappings) == set(vars(m.NODE_PORTS).values())


def test_lab_label_must_be_two_digits() -> None:
    with pytest.raises(ValueError):
        m.lab_labels("1")
    assert m.lab_selector("03").endswith("milvus-lab/lab=03")


def test_rendered_deploy_yaml_is_current() -> None:
    from milvus_lab.kube import render

    assert render.main(["--check"]) == 0, "run `python -m milvus_lab.kube.render`"
    docs = list(yaml.safe_load_all((REPO / render.TARGET).read_text()))
    assert apply.validate_offline(docs) == []
