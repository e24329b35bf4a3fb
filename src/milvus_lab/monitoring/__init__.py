"""Lab 06 domain code: SLOs and alerts, anomalies, capacity, backup/restore, health."""
