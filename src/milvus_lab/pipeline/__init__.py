"""Lab 02: one CI/CD pipeline (deploy/pipeline/pipeline.yaml), run locally stage by stage and
emitted for GitHub Actions and GitLab CI; one artifact promoted by digest dev -> staging -> prod."""
