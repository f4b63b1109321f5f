# syntax=docker/dockerfile:1
# The velero-exporter image: its dependencies installed from requirements.lock (every version pinned, every file
# checked against its hash), the package built as a wheel on top, in a virtual environment, run as a numeric
# non-root user. The auth extra (bcrypt, for basic_auth_users in --web.config.file) is part of the lock.
#
#   docker build -t velero-exporter:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" \
#     --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" .
#
# The lock is regenerated with one command whenever pyproject.toml's dependencies change (uv from PyPI,
# `pip install uv`; tests/test_dockerfile.py fails when the lock no longer satisfies pyproject.toml):
#
#   uv pip compile pyproject.toml --extra auth --generate-hashes --universal --python-version 3.11 -o requirements.lock
#
# The base is pinned by its full version tag and by the digest of that tag's multi-architecture index. The digest
# could not be pulled or checked from the machine that wrote this line (it has no registry access); it is the one
# public repositories pin for python:3.11.14-slim-bookworm (one of them names it the multi-architecture index).
# Verify it before relying on it, and when moving the tag:
#   docker buildx imagetools inspect python:3.11.14-slim-bookworm --format '{{json .Manifest.Digest}}'
# Both stages use the same base, so the virtual environment's interpreter path (/usr/local/bin/python3.11) exists
# in the final image.

FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY requirements.lock pyproject.toml README.md ./
COPY exporter/ exporter/

# The dependencies exactly as locked (--require-hashes: a file whose hash differs stops the build; all are
# wheels, nothing is compiled, so no compiler is needed in either stage), then the wheel of this package alone.
# The virtual environment has no pip of its own: the builder's pip installs into it with --python, so the final
# image carries no installer. The last line fails the build if bcrypt (basic auth) is missing.
RUN python -m venv --without-pip /opt/venv \
    && python -m pip --python /opt/venv/bin/python install --no-cache-dir --require-hashes --only-binary=:all: \
        -r requirements.lock \
    && python -m pip wheel --no-deps --wheel-dir /wheels . \
    && python -m pip --python /opt/venv/bin/python install --no-cache-dir --no-deps /wheels/*.whl \
    && /opt/venv/bin/velero-exporter --version \
    && /opt/venv/bin/python -c "import bcrypt"


FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=unknown

LABEL org.opencontainers.image.title="velero-exporter" \
      org.opencontainers.image.description="Prometheus exporter, alerts and dashboards that tell whether Velero backups meet their RPO and RTO" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11.14-slim-bookworm" \
      org.opencontainers.image.base.digest="sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d"

# A named account for the numeric user (so tools that look the user up find one) with no home and no shell;
# the base image's own pip, setuptools and wheel go: the exporter needs no installer at run time.
RUN groupadd --system --gid 65532 velero-exporter \
    && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin velero-exporter \
    && python -m pip uninstall --yes --no-cache-dir pip setuptools wheel \
    && rm -rf /root/.cache

COPY --from=builder /opt/venv /opt/venv

# Bytecode was compiled at install time; the root filesystem is read-only in the chart, so never write more.
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

USER 65532:65532
# 9898: metrics and the status page; 9899: /healthz and /readyz for probes, when --web.health-address says so.
EXPOSE 9898 9899

# No HEALTHCHECK: Kubernetes ignores it, and the chart's liveness and readiness probes on /healthz and /readyz
# are the real checks; the image has no curl, and a Python one-liner would have to guess --web.listen-address.
ENTRYPOINT ["velero-exporter"]
