# Production image: the pinned environment (uv.lock) and the project; one image, several roles (api, bot,
# migrate). Runs as an unprivileged user; the default healthcheck is the API's liveness (/healthz), and the bot's
# service overrides it (docker-compose.yml, docs/deploy.md).
FROM python:3.11-slim
ENV UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app/.venv PYTHONUNBUFFERED=1
WORKDIR /app
RUN pip install --no-cache-dir uv==0.13.9
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
RUN uv sync --frozen --no-dev \
    && useradd --system --uid 10001 --user-group --home-dir /app --no-create-home asesor \
    && mkdir -p /data/models /run/prometheus \
    && chown -R asesor:asesor /data /run/prometheus
ENV PATH="/app/.venv/bin:$PATH" ASESOR_DATA_DIR=/data
USER 10001:10001
VOLUME /data
EXPOSE 8000 8081
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]
CMD ["asesor", "api", "serve", "--host", "0.0.0.0"]
