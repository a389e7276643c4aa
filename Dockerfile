# syntax=docker/dockerfile:1
#
# The Kibana LLM Connector Bot: `python -m bot` as a non-root user.
#
#   docker build -t kibana-llm-connector-bot .
#   docker run -p 3000:3000 -v connector-bot-data:/data \
#     -e SLACK_BOT_TOKEN -e SLACK_SIGNING_SECRET -e KIBANA_URL -e KIBANA_API_KEY \
#     -e APPROVERS -e APPROVAL_CHANNEL kibana-llm-connector-bot
#
# Without DATABASE_URL the bot keeps a SQLite database and its generated encryption key in
# /data (the working directory): mount a volume there. The bot applies its migrations at start.

# Builder: resolve the locked dependencies into /app/.venv with uv.
# Both stages use the same Python image: the venv points at its interpreter's path.
FROM python:3.12-slim AS builder

# Pinned to the uv release that wrote uv.lock; bump both together (`uv lock`).
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /bin/

# Bytecode compiled at build time (faster start); copy, not hardlink, out of the cache mount;
# use the image's Python, never a downloaded one.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=0

WORKDIR /app

# Dependencies first, in their own layer: it is rebuilt only when uv.lock or pyproject.toml
# change. --locked fails the build if uv.lock is out of date with pyproject.toml.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --locked --no-install-project --no-dev

# Then the project itself, installed editable (uv's default), so /app/bot stays the code that
# runs and bot/db/migrate.py finds the Alembic scripts at /app/migrations.
COPY pyproject.toml uv.lock README.md ./
COPY bot ./bot
COPY migrations ./migrations
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev


# Runtime: the venv and the source, no uv, no build tools.
FROM python:3.12-slim

ARG SOURCE_URL=""
ARG LICENSES="NOASSERTION"
LABEL org.opencontainers.image.title="kibana-llm-connector-bot" \
      org.opencontainers.image.description="Slack bot through which people request Kibana LLM connectors; admins approve; the bot creates and tests them." \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="${LICENSES}"

# A fixed uid/gid, so a host directory mounted on /data can be given to 10001.
RUN groupadd --system --gid 10001 bot \
    && useradd --system --uid 10001 --gid bot --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin bot \
    && mkdir /data \
    && chown bot:bot /data

COPY --from=builder --chown=bot:bot /app /app

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1

# The default SQLite file (connector-bot.sqlite3) and its key file are created here.
WORKDIR /data
VOLUME ["/data"]

# Numeric, so Kubernetes' runAsNonRoot can verify it: this is the bot user.
USER 10001:10001

# HTTP mode: Slack on POST /slack/events; both modes: readiness on GET /healthz (PORT, default 3000).
EXPOSE 3000

# Exec form has no shell to expand ${PORT:-3000}: Python reads PORT itself. A 503 (database
# down, or in Socket Mode the socket not connected) raises HTTPError, so the check fails. The
# check works in both modes: in Socket Mode the bot serves only /healthz and /metrics on PORT.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + (os.environ.get('PORT') or '3000') + '/healthz', timeout=4)"]

# Migrates the database, then serves Slack; SIGTERM stops it cleanly.
CMD ["python", "-m", "bot"]
