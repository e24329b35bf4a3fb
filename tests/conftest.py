"""The project's own tests: real Milvus Lite, real uvicorn replicas, real router, real kube API.

The fixtures live in `milvus_lab.testing` so `checks/` (the learners' checkers) use exactly
the same ones.
"""

# ci_setup first: the kube and docker fixtures import it (a later plugin import warns)
pytest_plugins = ["milvus_lab.testing.ci_setup", "milvus_lab.testing.milvus_fixtures",
                  "milvus_lab.testing.kube_fixtures", "milvus_lab.testing.standalone_fixtures",
                  "milvus_lab.testing.docker_fixtures"]
