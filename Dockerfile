# syntax=docker/dockerfile:1
# The velero-exporter image: the package built as a wheel, installed into a virtual environment, run as a
# numeric non-root user.
#
#   docker build -t velero-exporter:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" \
#     --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" .
#
# The base is pinned by its full version tag (Python patch release and Debian release). Pin it by digest too
# (python:3.11.14-slim-bookworm@sha256:...) where the build can ask the registry for it; the digest was left
# out here because it could not be verified from the machine that wrote this file, and an unverified digest is
# worse than none. Both stages use the same base, so the virtual environment's interpreter path
# (/usr/local/bin/python3.11) exists in the final image.

FROM python:3.11.14-slim-bookworm AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY exporter/ exporter/

# The wheel of this package only (its dependencies come from PyPI as wheels: nothing is compiled, so no
# compiler is needed in either stage). The virtual environment has no pip of its own: the builder's pip
# installs into it with --python, so the final image carries no installer.
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
    && python -m venv --without-pip /opt/venv \
    && python -m pip --python /opt/venv/bin/python install --no-cache-dir /wheels/*.whl \
    && /opt/venv/bin/velero-exporter --version


FROM python:3.11.14-slim-bookworm

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
      org.opencontainers.image.base.name="docker.io/library/python:3.11.14-slim-bookworm"

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
EXPOSE 9898

# No HEALTHCHECK: Kubernetes ignores it, and the chart's liveness and readiness probes on /healthz and /readyz
# are the real checks; the image has no curl, and a Python one-liner would have to guess --web.listen-address.
ENTRYPOINT ["velero-exporter"]
