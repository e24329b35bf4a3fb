"""The project's own tests: real Milvus Lite, real uvicorn replicas, real router, real kube API.

The fixtures live in `milvus_lab.testing` so `checks/` (the learners' checkers) use exactly
the same ones.
"""

pytest_plugins = ["milvus_lab.testing.milvus_fixtures", "milvus_lab.testing.kube_fixtures",
                  "milvus_lab.testing.standalone_fixtures",
                  "milvus_lab.testing.docker_fixtures", "milvus_lab.testing.ci_setup"]

