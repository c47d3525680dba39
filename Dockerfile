# Production image: gunicorn serving idp.wsgi. Workers and beat use the same image.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# xmlsec1 for SAML signing; libpq is bundled by psycopg[binary].
RUN apt-get update \
    && apt-get install -y --no-install-recommends xmlsec1 \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 canopy
WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY --chown=canopy:canopy . .
# collectstatic needs settings to import; the key is a build-time placeholder, never used at run time.
RUN SECRET_KEY=build-only-placeholder python manage.py collectstatic --noinput

USER canopy
EXPOSE 8000
CMD ["gunicorn", "idp.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "4", "--access-logfile", "-"]
