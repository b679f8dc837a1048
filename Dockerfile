# The shop's image: web (gunicorn), live (uvicorn: python -m live.serve), worker and beat all run from it.

# Build stage: wheels for every pin, with a compiler at hand for any sdist-only package.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt /tmp/requirements.txt
RUN pip wheel --wheel-dir /wheels -r /tmp/requirements.txt

# Runtime stage: no compiler, a non-root user, static files collected at build time.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=shop.settings.production
RUN groupadd --system shop && useradd --system --gid shop --home-dir /app --shell /usr/sbin/nologin shop
WORKDIR /app
COPY requirements.txt .
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels -r requirements.txt
COPY . .
# collectstatic imports the production settings, which demand a secret and hosts: give it
# throwaway values for this one step; the real ones come at run time and never reach a layer.
RUN SECRET_KEY=collectstatic-only-not-a-secret ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p /app/media \
    && chown shop:shop /app/media
USER shop
EXPOSE 8000
# The live channel's uvicorn (docker-compose.yml's live service).
EXPOSE 8001
CMD ["gunicorn", "--config", "gunicorn.conf.py"]
