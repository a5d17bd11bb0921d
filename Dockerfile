# Production image: the pinned environment (uv.lock) and the project; one image, several roles (api, bot).
FROM python:3.11-slim
ENV UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app/.venv PYTHONUNBUFFERED=1
WORKDIR /app
RUN pip install --no-cache-dir uv==0.13.9
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
RUN uv sync --frozen --no-dev
ENV PATH="/app/.venv/bin:$PATH" ASESOR_DATA_DIR=/data
VOLUME /data
EXPOSE 8000
CMD ["asesor", "api", "serve", "--host", "0.0.0.0"]
