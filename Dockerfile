# syntax=docker/dockerfile:1
#
# One image definition for every service of the platform:
#
#   docker build --build-arg SERVICE=upload -t forge-upload .
#
# SERVICE is one of auth, upload, ghost, sonic, audit (no default: a build without it fails).
# The image carries the shared code plus only that service's extra from pyproject.toml and only
# the Debian packages that service calls, so sonic ships faster-whisper and its model and auth
# ships neither. Why one Dockerfile with an argument rather than five: docs/deploy.md, "Images".
#
# Run it as: ENTRYPOINT ["forge"], default CMD ["serve", "--services", "<SERVICE>"]; the same image
# also runs `forge migrate --services <SERVICE>` and (sonic, audit) `forge worker <SERVICE>`.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
# Global, so the last stage can pick `service-${SERVICE}`.
ARG SERVICE

###############################################################################
# builder: resolve the locked dependencies of one extra into /opt/venv
###############################################################################
FROM ${PYTHON_IMAGE} AS builder
ARG SERVICE
# uv comes from its official PyPI package (no curl | sh); keep in step with the uv that wrote uv.lock.
ARG UV_VERSION=0.13.9

RUN case "${SERVICE}" in \
      auth|upload|ghost|sonic|audit) ;; \
      *) echo "build with --build-arg SERVICE=auth|upload|ghost|sonic|audit (got '${SERVICE}')" >&2; exit 1 ;; \
    esac
RUN pip install --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}"

ENV UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy

WORKDIR /app
# Dependencies first (their layer survives code changes), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project --extra "${SERVICE}"
COPY forge ./forge
COPY libs ./libs
COPY services ./services
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --extra "${SERVICE}" \
 && /opt/venv/bin/python -m compileall -q -j 0 forge libs services

# ScanCode builds its license index (~400 MB, minutes) on first use, inside site-packages.
# Build it here: at run time site-packages is on a read-only root filesystem.
RUN if [ "${SERVICE}" = "audit" ]; then \
      /opt/venv/bin/python -c "from licensedcode.cache import get_cache; get_cache()"; \
    fi

###############################################################################
# runtime: the venv, the code, the service's Debian packages, a non-root user
###############################################################################
FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE

# Debian packages the service calls at run time (ExifTool, espeak-ng, ffmpeg are for tests only;
# sonic decodes audio with PyAV, whose wheels bundle FFmpeg).
RUN set -eux; \
    case "${SERVICE}" in \
      auth|sonic) packages="" ;; \
      upload|ghost) packages="libmagic1" ;; \
      audit) packages="git ca-certificates libmagic1 libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core" ;; \
      *) echo "unknown SERVICE '${SERVICE}'" >&2; exit 1 ;; \
    esac; \
    if [ -n "${packages}" ]; then \
      apt-get update; \
      apt-get install -y --no-install-recommends ${packages}; \
      rm -rf /var/lib/apt/lists/*; \
    fi; \
    groupadd --system --gid 10001 forge; \
    useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin forge; \
    install -d -o 10001 -g 10001 -m 0750 /data

COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app

# Read-only root filesystem: the process writes only to /tmp (HOME, caches, temp files) and /data
# (STORAGE_PATH when STORAGE_BACKEND=fs). Mount both writable (tmpfs/emptyDir and a volume).
ENV PATH=/opt/venv/bin:${PATH} \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    XDG_CACHE_HOME=/tmp/.cache \
    XDG_CONFIG_HOME=/tmp/.config \
    XDG_DATA_HOME=/tmp/.local/share \
    XDG_STATE_HOME=/tmp/.local/state \
    HF_HOME=/tmp/.cache/huggingface \
    HF_HUB_OFFLINE=1 \
    ENVIRONMENT=prod \
    HOST=0.0.0.0 \
    PORT=8000 \
    STORAGE_PATH=/data/objects \
    FORGE_SERVICE=${SERVICE}

LABEL org.opencontainers.image.title="forge-${SERVICE}" \
      org.opencontainers.image.description="Forge platform: the ${SERVICE} service" \
      org.opencontainers.image.licenses="Apache-2.0"

WORKDIR /app
USER 10001:10001
EXPOSE 8000 8081

# Liveness of whatever this container runs: `serve` listens on PORT, `forge worker` on 8081
# (set HEALTH_PORT=8081 for worker containers). Python's urllib: no curl in the image.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('HEALTH_PORT', os.environ.get('PORT', '8000')), timeout=4)"]

ENTRYPOINT ["forge"]

###############################################################################
# One tiny stage per service, only to give each image its default CMD: exec-form CMD does not
# expand build arguments, and a shell-form CMD would break ENTRYPOINT ["forge"].
###############################################################################
FROM runtime AS service-auth
CMD ["serve", "--services", "auth"]

FROM runtime AS service-upload
CMD ["serve", "--services", "upload"]

FROM runtime AS service-ghost
CMD ["serve", "--services", "ghost"]

FROM runtime AS service-sonic
CMD ["serve", "--services", "sonic"]

FROM runtime AS service-audit
CMD ["serve", "--services", "audit"]

# The image that is built: the stage of the chosen service.
FROM service-${SERVICE}
