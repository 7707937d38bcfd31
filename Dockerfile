# syntax=docker/dockerfile:1
# monitor: news-monitoring daemon.
#
#   docker build -t monitor .
#   docker run -d --name monitor -v monitor-data:/data monitor
#
# The base is an ARG so that a CI (or an air-gapped mirror) can substitute its own Python image:
#   docker build --build-arg PYTHON_IMAGE=registry.example/python:3.11-slim .
# Nothing below depends on the Python minor version or on where the base keeps its interpreter.
ARG PYTHON_IMAGE=python:3.11-slim
# (hadolint cannot see that the ARG's default is tagged, hence the DL3006 ignores)

# ---------------------------------------------------------------- builder: a current pip
# (older pips, e.g. 23.0, fail to resolve lxml[html_clean] against lxml[html-clean]); never in the final image
# hadolint ignore=DL3006
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python3 -m pip install --no-cache-dir --upgrade "pip>=24.2"
WORKDIR /src

# ---------------------------------------------------------------- deps: runtime dependencies in a venv
# Only pyproject.toml and constraints.txt are copied here, so this (slow) layer is rebuilt only when the
# dependencies change. constraints.txt pins every one of them (the versions the tests passed with): two builds
# of one commit get the same packages. The venv has no pip of its own: the builder's pip installs into it.
FROM builder AS deps
COPY pyproject.toml constraints.txt ./
RUN python3 -m venv --without-pip /opt/venv \
 && python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
      > /tmp/requirements.txt \
 && python3 -m pip --python /opt/venv/bin/python install --no-cache-dir -r /tmp/requirements.txt -c constraints.txt \
 && rm /tmp/requirements.txt

# ---------------------------------------------------------------- wheel: the project itself
FROM builder AS wheel
COPY pyproject.toml README.md LICENSE ./
COPY monitor ./monitor
COPY config ./config
RUN python3 -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# ---------------------------------------------------------------- final image
# hadolint ignore=DL3006
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="monitor" \
      org.opencontainers.image.description="News-monitoring daemon: polls feeds, extracts, deduplicates and tags articles, emails alerts" \
      org.opencontainers.image.licenses="MIT"

# tini as PID 1: forwards SIGTERM to the daemon and reaps zombies (Python as PID 1 would ignore SIGTERM
# unless it installed a handler, and `docker compose` does not add an init by default).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 monitor \
 && useradd --system --uid 10001 --gid monitor --home-dir /data --no-create-home --shell /usr/sbin/nologin monitor \
 && mkdir -p /data \
 && chown monitor:monitor /data

COPY --from=deps /opt/venv /opt/venv
# The project wheel (~0.1 MB), installed, not editable. COPY rather than RUN --mount=from=wheel: buildah
# (podman build) does not invalidate a RUN step's cache when a mounted stage changes.
COPY --from=wheel /wheels /tmp/wheels
RUN python3 -m pip --python /opt/venv/bin/python install --no-cache-dir --no-deps --no-index \
      --disable-pip-version-check --root-user-action=ignore /tmp/wheels/*.whl \
 && rm -rf /tmp/wheels

COPY config /app/config

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MONITOR_CONFIG=/app/config/monitor.toml \
    MONITOR_DATABASE_URL=sqlite:////data/monitor.db \
    MONITOR_HEARTBEAT_FILE=/data/heartbeat

WORKDIR /data
VOLUME ["/data"]
USER 10001:10001

STOPSIGNAL SIGTERM
HEALTHCHECK --interval=60s --timeout=15s --start-period=120s --retries=3 CMD ["monitor", "health"]
ENTRYPOINT ["tini", "--"]
CMD ["monitor", "run"]
