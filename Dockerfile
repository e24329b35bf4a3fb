# The search API image: `milvus-lab/search-api:<package version>` (lab 01, target kube).
#
#   docker build -t milvus-lab/search-api:0.1.0 .
#   docker build --network host --build-arg BASE_IMAGE=milvus-lab/debian-python:bookworm-<hash> -t milvus-lab/search-api:0.1.0 .
#   kind load docker-image milvus-lab/search-api:0.1.0 --name milvus-lab
#
# Two stages: dependencies are installed into a venv in the first, and only that venv
# is copied into the runtime image (no compilers, no pip cache). The process runs as a
# fixed non-root uid (10001) with a read-only root filesystem in the pod; the
# Deployment's securityContext enforces both (Pod Security "restricted").

# BASE_IMAGE: the public image users pull (default), or, where no registry is reachable (CI),
# the Debian bookworm + Python base built offline by `python -m milvus_lab.dockerenv images`
# (mmdebstrap + docker import). Either must provide python (with venv), useradd/groupadd.
ARG BASE_IMAGE=python:3.12-slim-bookworm

FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, from pyproject.toml alone: this layer stays cached until the
# dependency list changes (a code change then rebuilds in seconds, not minutes).
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt
COPY README*.md ./
COPY src ./src
RUN pip install --no-deps .

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="milvus-lab search API" \
      org.opencontainers.image.source="step05_production/01_kubernetes_deployment.py"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 app && useradd --system --uid 10001 --gid app --no-create-home app
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
EXPOSE 8000
# Settings come from the environment (ConfigMap + Secret + the Deployment's env).
CMD ["uvicorn", "milvus_lab.app.main:create_app", "--factory", \
     "--host", "0.0.0.0", "--port", "8000", \
     "--no-access-log", "--timeout-graceful-shutdown", "10"]
