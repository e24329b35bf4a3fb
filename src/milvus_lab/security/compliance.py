"""Which checklist item each lab 05 control satisfies, and what our engine cannot show.

The report carries both so an auditor reads the mapping next to the evidence; the keys are
the lab's verification names, so a failed verification points at the control it breaks.
"""

from __future__ import annotations

CONTROLS = {
    "milvus least privilege": "SOC 2 CC6.3, ISO 27001 A.5.15/A.8.2, PCI DSS 7.2 (least privilege)",
    "milvus tls": "SOC 2 CC6.7, ISO 27001 A.8.24, PCI DSS 4.2 (encryption in transit)",
    "api keys": "SOC 2 CC6.1, ISO 27001 A.5.17, PCI DSS 8.3 (authentication, secrets hashed)",
    "key revocation": "SOC 2 CC6.2, ISO 27001 A.5.18 (access removal)",
    "key rotation": "PCI DSS 3.7/8.3.9, ISO 27001 A.5.17 (credential rotation)",
    "rate limit": "OWASP API4:2023 (unrestricted resource consumption)",
    "cert rotation without downtime": "ISO 27001 A.8.24 (key management), SOC 2 A1.2 (availability)",
    "audit chain intact": "SOC 2 CC7.2, ISO 27001 A.8.15, PCI DSS 10.3 (audit log integrity)",
    "attacks refused": "SOC 2 CC4.1, ISO 27001 A.8.29 (security testing)",
    "no unbaselined secrets": "SOC 2 CC8.1, ISO 27001 A.8.4/A.8.28 (no secrets in source)",  # pragma: allowlist secret
    "kubernetes least privilege": "CIS Kubernetes 5.1.x (RBAC), 5.2.x (Pod Security Standards)",
}

CANNOT_SHOW = (
    "Milvus 2.3.5 (the standalone engine) has no privilege groups and no grant_privilege_v2 "
    "(Milvus 2.4+/2.5+): grants here are one privilege at a time; GetLoadState is checked as "
    "PrivilegeLoad, so the least-privileged API proves readiness with a 1-row search; the "
    "metrics port has no authentication in any Milvus version (network policy is the fix); "
    "KWOK pods in the test control plane never run, so Secret files are proven in the pod "
    "spec, not read by a running process."
)
