#!/bin/sh
# One-shot job before the API replicas and the retrain job start (compose.yaml):
#   1. bring the service's database schema up to date, once, before several replicas connect to it;
#   2. train and register the first champion unless the registry (the tracking server) already has one.
# Idempotent: on every later `docker compose up` it finds both done and exits at once. An unreachable registry
# is an error (exit 1), never a reason to train.
set -eu

python - <<'PY'
import carescreen  # noqa: F401  (offline environment first)
from carescreen.config import get_settings
from storage.db import migrate

migrate(get_settings().resolved_database_url())
print("database schema up to date", flush=True)
PY

status=0
python - <<'PY' || status=$?
import sys

import carescreen  # noqa: F401
from carescreen.config import get_settings
from storage import model_store

ref = model_store.get_alias(get_settings().model_alias)
print(f"champion: {ref.label}" if ref else "no champion registered yet", flush=True)
sys.exit(0 if ref else 3)
PY

# shellcheck disable=SC2086  # TRAIN_ARGS is a list of flags
case "$status" in
    0) exit 0 ;;
    3) exec carescreen train ${TRAIN_ARGS:-} ;;
    *) echo "model registry unavailable (exit $status)" >&2; exit 1 ;;
esac
