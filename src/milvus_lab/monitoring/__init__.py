"""Lab 06's domain code, one job per module: SLO rules (Sloth) and their time-scaled lab
copy, a real Prometheus + Alertmanager + webhook receiver on 127.0.0.1, the incident
drill's clock and incidents, dashboards as code, the drill plot (part A); anomalies,
capacity, backup/restore and health (part B)."""
