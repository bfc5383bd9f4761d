# CareScreen API (and, with another command, the MLflow server and the retrain job of compose.yaml).
#
#   docker build -t carescreen .                                   # no model inside: mount var/ or use a server
#   docker build -t carescreen --build-arg TRAIN_DEFAULT_MODEL=true .  # the default model trained at build time
#   docker run -p 8000:8000 -e CARESCREEN_SECRET_KEY=... -v carescreen-var:/app/var carescreen
#
# Without a tracking server the model registry is the local store under /app/var (SQLite + mlruns): mount a
# volume there so a model trained on first start (or at build time) outlives the container.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="" \
    MLFLOW_DISABLE_TELEMETRY=true \
    HF_HUB_OFFLINE=1 \
    HOME=/home/carescreen \
    CARESCREEN_VAR_DIR=/app/var \
    CARESCREEN_MLFLOW_ARTIFACT_ROOT=/app/var/mlruns

RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/carescreen carescreen
WORKDIR /app

# torch first and pinned to the CPU wheel (as the Makefile pins it): PyPI's default build for Linux pulls
# several GB of CUDA libraries this service never uses.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

# The dependencies alone (from pyproject.toml), so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('/tmp/requirements.txt', 'w').write('\n'.join(deps) + '\n')" \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Editable, as `make install` does: the code reads datasets/ (care corpus, challenge suite) beside itself.
COPY carescreen ./carescreen
COPY models ./models
COPY storage ./storage
COPY training ./training
COPY service ./service
COPY evaluation ./evaluation
COPY datasets ./datasets
COPY deploy ./deploy
RUN pip install --no-deps -e . \
    && mkdir -p /app/var /mlflow/artifacts \
    && chown -R carescreen:carescreen /app/var /mlflow

USER carescreen

# Optional: the default model, trained and registered in the image's local store (/app/var). A volume mounted
# at /app/var starts as a copy of it. Off by default: with a tracking server (compose.yaml) the first model
# is trained against the server by the bootstrap job instead.
ARG TRAIN_DEFAULT_MODEL=false
ARG TRAIN_ARGS=""
RUN if [ "$TRAIN_DEFAULT_MODEL" = "true" ]; then carescreen train $TRAIN_ARGS; fi

EXPOSE 8000
# Ready (model, PII engine and database all working), not merely up: 503 fails the check.
HEALTHCHECK --interval=15s --timeout=5s --start-period=180s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status == 200 else 1)"]

CMD ["carescreen", "serve", "--host", "0.0.0.0", "--port", "8000"]
