"""Lab 06's domain code: SLO rules (Sloth) and their time-scaled lab copy, a real
Prometheus + Alertmanager + webhook receiver on 127.0.0.1, the incident drill's clock,
the incidents themselves, dashboards as code and the drill plot. One job per module."""
