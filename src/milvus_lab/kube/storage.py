"""Where Milvus's PersistentVolumeClaim gets its volume.

kind ships a default StorageClass (`standard`, local-path provisioner): the claim is
provisioned dynamically. A cluster without one (the KWOK testenv) leaves the claim
Pending forever, so the lab pre-creates a static hostPath PersistentVolume bound to the
claim: the way volumes were provisioned before StorageClasses.
"""

from __future__ import annotations

from typing import Any

from milvus_lab.kube import manifests as m

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


def default_storage_class(conn: Any) -> str | None:
    """The name of the cluster's default StorageClass, if it has one."""
    from kubernetes import client

    for sc in client.StorageV1Api(conn.api_client).list_storage_class().items:
        if (sc.metadata.annotations or {}).get(DEFAULT_CLASS_ANNOTATION) == "true":
            return sc.metadata.name
    return None


def milvus_claim_name(statefulset: str = m.MILVUS_NAME, template: str = "milvus-data", ordinal: int = 0) -> str:
    """The PVC the StatefulSet controller creates: <template>-<statefulset>-<ordinal>."""
    return f"{template}-{statefulset}-{ordinal}"


def static_volumes(conn: Any, opts: m.StackOptions) -> list[Any]:
    """PersistentVolumes to pre-create for Milvus (none when a default StorageClass exists)."""
    if not opts.milvus or default_storage_class(conn):
        return []
    return [m.static_persistent_volume(milvus_claim_name(), opts.namespace, opts.lab, opts.storage)]
