# peerrooms: the HTTP and Socket.IO server. docker-compose.yml runs two of these behind nginx.
#   docker build -t peerrooms .
#   docker run -e PEERROOMS_SECRET_KEY=... -e PEERROOMS_DATABASE_URL=... -p 8080:8080 peerrooms
# Settings come from PEERROOMS_* variables (README.md), or a file mounted at
# /app/config/peerrooms.toml. With PostgreSQL, run `peerrooms db upgrade` (same image) before
# starting a new version; docker-compose.yml's `migrate` service does.
# The web client is built in its own stage; only web/dist reaches the final image.
FROM node:20-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web ./
RUN npm run build

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Every package comes from uv.lock with its hash, as in `make setup`; uv itself is pinned by
# hash in requirements-uv.txt and leaves the image once the environment is built.
WORKDIR /src
COPY requirements-uv.txt pyproject.toml uv.lock README.md ./
COPY server ./server
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
RUN pip install --require-hashes -r requirements-uv.txt \
 && UV_PROJECT_ENVIRONMENT=/opt/venv UV_PYTHON_DOWNLOADS=never \
    uv sync --locked --no-editable --compile-bytecode --no-cache \
 && pip uninstall --yes uv \
 && groupadd --system --gid 10001 peerrooms \
 && useradd --system --uid 10001 --gid peerrooms --home-dir /app --shell /usr/sbin/nologin peerrooms \
 && mkdir -p /app/data \
 && chown peerrooms:peerrooms /app/data

# The working directory is where relative settings point: ./data/ (the SQLite default and the
# generated secret key file, when PEERROOMS_SECRET_KEY is not set) and ./config/peerrooms.toml.
WORKDIR /app
COPY --from=web /web/dist ./web/dist
# Numeric, so a runtime can check it is not root (Kubernetes' runAsNonRoot).
USER 10001:10001
EXPOSE 8080

HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]

# SIGTERM (docker stop) shuts down gracefully: events under way finish (up to 10 s), then every
# socket is closed so clients reconnect to another replica. Give it a stop timeout above 10 s.
CMD ["peerrooms", "serve", "--host", "0.0.0.0", "--port", "8080"]
