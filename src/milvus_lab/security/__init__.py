"""Lab 05 domain code: API keys, the audit chain, Kubernetes RBAC, Milvus RBAC/TLS, attacks."""
