#!/usr/bin/env bash
# Opt-in container image test (needs root and a few minutes; not part of ./scripts/test.sh or .ci/run).
#
# Without a Docker engine (and without access to docker.io), it proves the Dockerfile produces a working
# connector image:
#   1. installs podman, buildah, runc and debootstrap with apt if they are missing;
#   2. builds a local stand-in for airbyte/python-connector-base: Debian bookworm (debootstrap, minbase)
#      with python3 in a venv at /usr/local (so `python`/`pip` are on PATH as in the real base) and a
#      non-root user `airbyte`; built once, then reused from the project-local podman storage;
#   3. builds a wheelhouse on the host (`pip wheel -w`) and the connector image FROM the stand-in with
#      `--build-arg BASE_IMAGE=...` and `--network none` (the Dockerfile's offline wheelhouse path);
#   4. starts the Segment API simulator on the host and runs `spec`, `check`, `discover` and `read` (all 34
#      streams) in the container with `--network host`, runs the same `read` with the host's installed
#      connector, and asserts the container emitted the same records (primary-key sets per stream);
#   5. runs the CDK standard suite's image tests (`test_docker_image_*`) against the image through a
#      `docker` -> podman shim (spec, check, discover and a read of every stream).
#
# Podman settings follow the shared notes: runc (crun rejects the hybrid cgroup layout here), ulimits within
# what the sandbox allows (nofile<=20000, nproc<=32768), storage and temp files under build/image-test/.
#
# Usage: sudo ./scripts/image_test.sh [--rebuild-base] [--clean]
#   --rebuild-base  rebuild the stand-in base image even if it exists
#   --clean         remove build/image-test (podman storage, images, outputs) and exit
# Environment: IMAGE_TEST_DIR (default build/image-test), DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
WORK="${IMAGE_TEST_DIR:-$ROOT/build/image-test}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
ROOTFS_IMAGE="localhost/source-segment-standin-rootfs:bookworm"
BASE_IMAGE="localhost/source-segment-standin-base:bookworm"
IMAGE="localhost/airbyte/source-segment:image-test"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)"
REBUILD_BASE=0

for arg in "$@"; do
  case "$arg" in
    --rebuild-base) REBUILD_BASE=1 ;;
    --clean) CLEAN=1 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

SCRIPT_START=$(date +%s)
step_start=0
step() { step_start=$(date +%s); echo; echo "==> $*"; }
done_step() { echo "    done in $(( $(date +%s) - step_start )) s"; }
fail() { echo "IMAGE TEST FAILED: $*" >&2; exit 1; }

if [ "$(id -u)" != 0 ]; then
  fail "run as root (podman runs rootful here, and apt/debootstrap need root)"
fi

# --- podman configuration: everything under $WORK ----------------------------------------------------
mkdir -p "$WORK/containers/storage" "$WORK/containers/run" "$WORK/tmp"
cat > "$WORK/containers/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$WORK/containers/storage"
runroot = "$WORK/containers/run"
EOF
cat > "$WORK/containers/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
EOF
export CONTAINERS_STORAGE_CONF="$WORK/containers/storage.conf"
export CONTAINERS_CONF="$WORK/containers/containers.conf"
export TMPDIR="$WORK/tmp"

if [ "${CLEAN:-0}" = 1 ]; then
  if command -v podman >/dev/null; then podman system reset --force >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
  echo "removed $WORK"
  exit 0
fi

# --- 1. tools ---------------------------------------------------------------------------------------------
step "1/7 container tools"
missing=()
for tool in podman buildah runc debootstrap; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "    installing ${missing[*]} (and podman's helpers) with apt"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    podman buildah runc debootstrap uidmap netavark containernetworking-plugins golang-github-containers-common \
    >/dev/null
fi
podman --version; buildah --version; runc --version | head -1
done_step

# --- the connector venv on the host (reference run and simulator) ------------------------------------------
if [ ! -x .venv/bin/source-segment ]; then
  "${PYTHON:-python3}" -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
fi
HOST_PY_MINOR="$(.venv/bin/python -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"

# --- 2. stand-in base image ---------------------------------------------------------------------------------
step "2/7 stand-in base image ($BASE_IMAGE)"
if [ "$REBUILD_BASE" = 1 ] || ! podman image exists "$BASE_IMAGE"; then
  if [ "$REBUILD_BASE" = 1 ] || ! podman image exists "$ROOTFS_IMAGE"; then
    rm -rf "$WORK/rootfs"
    echo "    debootstrap bookworm (minbase + python3) from $MIRROR"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$WORK/rootfs" "$MIRROR" \
      > "$WORK/debootstrap.log" 2>&1 || fail "debootstrap failed; see $WORK/debootstrap.log"
    rm -rf "$WORK"/rootfs/var/cache/apt/archives/*.deb "$WORK"/rootfs/var/lib/apt/lists/*
    tar -C "$WORK/rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$ROOTFS_IMAGE" >/dev/null
    rm -rf "$WORK/rootfs"
  fi
  mkdir -p "$WORK/base-context"
  cat > "$WORK/base-context/Containerfile" <<EOF
FROM $ROOTFS_IMAGE
# Like airbyte/python-connector-base: python and pip on PATH under /usr/local, a non-root user airbyte.
RUN python3 -m venv /usr/local \\
 && useradd --create-home --uid 1000 --user-group --shell /bin/bash airbyte \\
 && mkdir -p /airbyte && chown airbyte:airbyte /airbyte
ENV PYTHONUNBUFFERED=1
EOF
  podman build --quiet --network none -t "$BASE_IMAGE" "$WORK/base-context" >/dev/null
else
  echo "    reusing the existing stand-in base (--rebuild-base to rebuild it)"
fi
BASE_PY_MINOR="$(podman run --rm --network none "$BASE_IMAGE" python -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
[ "$BASE_PY_MINOR" = "$HOST_PY_MINOR" ] || \
  fail "the stand-in base has Python $BASE_PY_MINOR but the host venv has $HOST_PY_MINOR: the host-built wheelhouse would not fit"
echo "    Python $BASE_PY_MINOR in the base, as on the host"
done_step

# --- 3. wheelhouse and build context ------------------------------------------------------------------------
step "3/7 wheelhouse (pip wheel on the host)"
CONTEXT="$WORK/context"
rm -rf "$CONTEXT"
mkdir -p "$CONTEXT"
cp -r Dockerfile .dockerignore pyproject.toml README.md source_segment "$CONTEXT/"
find "$CONTEXT" -name __pycache__ -prune -exec rm -rf {} +
# Dependency wheels are kept between runs while pyproject.toml is unchanged; the connector's wheel is always rebuilt.
DEPS="$WORK/dependency-wheels"
DEPS_KEY="$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$DEPS/.pyproject-$DEPS_KEY" ]; then
  rm -rf "$DEPS"
  .venv/bin/python -m pip wheel --quiet --disable-pip-version-check -w "$DEPS" "$CONTEXT" > "$WORK/wheel.log" 2>&1 \
    || { tail -30 "$WORK/wheel.log"; fail "pip wheel failed; see $WORK/wheel.log"; }
  rm -f "$DEPS"/source_segment-*.whl
  touch "$DEPS/.pyproject-$DEPS_KEY"
else
  echo "    reusing dependency wheels (pyproject.toml unchanged)"
fi
mkdir -p "$CONTEXT/wheelhouse"
cp "$DEPS"/*.whl "$CONTEXT/wheelhouse/"
.venv/bin/python -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$CONTEXT/wheelhouse" "$CONTEXT" > "$WORK/wheel.log" 2>&1 \
  || { tail -30 "$WORK/wheel.log"; fail "pip wheel (connector) failed; see $WORK/wheel.log"; }
rm -rf "$CONTEXT/build" "$CONTEXT"/*.egg-info
echo "    $(ls "$CONTEXT/wheelhouse" | wc -l) wheels, $(du -sh "$CONTEXT/wheelhouse" | cut -f1)"
done_step

# --- 4. connector image ---------------------------------------------------------------------------------------
step "4/7 connector image ($IMAGE), built offline"
podman build --network none --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$IMAGE" -f "$CONTEXT/Dockerfile" "$CONTEXT" \
  > "$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log"; fail "podman build failed; see $WORK/build.log"; }
podman image inspect "$IMAGE" --format '{{json .Config}}' > "$WORK/image-config.json"
echo "    image size: $(podman image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')"
IMAGE_USER="$(podman run --rm --network none --entrypoint id "$IMAGE" -un)"
done_step

# --- 5. run spec/check/discover/read in the container and read on the host ---------------------------------------
step "5/7 spec, check, discover and read in the container (simulator on the host)"
RUN="$WORK/run"
rm -rf "$RUN"
mkdir -p "$RUN"
PORT="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
TOKEN="$(.venv/bin/python -c 'import json; print(json.load(open("integration_tests/sample_config.json"))["api_token"])')"
.venv/bin/python -m integration_tests.simulator --port "$PORT" --size tiny --seed 1 --token "$TOKEN" \
  > "$RUN/simulator.log" 2>&1 &
SIM_PID=$!
trap 'kill "$SIM_PID" 2>/dev/null || true' EXIT
.venv/bin/python - "$PORT" <<'EOF'
import sys, time, urllib.request, urllib.error
url = f"http://127.0.0.1:{sys.argv[1]}/"
for _ in range(100):
    try:
        urllib.request.urlopen(url, timeout=1)
    except urllib.error.HTTPError:
        break  # 401 without a token: the simulator is up
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("simulator did not start")
EOF
.venv/bin/python - "$PORT" "$RUN" <<'EOF'
import json, sys
port, run = sys.argv[1], sys.argv[2]
config = json.load(open("integration_tests/sample_config.json"))
config["base_url"] = f"http://127.0.0.1:{port}"
json.dump(config, open(f"{run}/config.json", "w"))
EOF
cp integration_tests/configured_catalog.json "$RUN/catalog.json"
chmod 755 "$RUN"; chmod 644 "$RUN/config.json" "$RUN/catalog.json"  # the container runs as `airbyte`

in_container() {
  local name="$1"; shift
  local started=$(date +%s)
  podman run --rm --network host -v "$RUN:/data:ro" "$IMAGE" "$@" > "$RUN/container-$name.jsonl" 2> "$RUN/container-$name.stderr" \
    || echo "$?" > "$RUN/container-$name.rc"
  echo "    container $name: $(( $(date +%s) - started )) s, $(wc -l < "$RUN/container-$name.jsonl") lines"
}
in_container spec spec
in_container check check --config /data/config.json
in_container discover discover --config /data/config.json
in_container read read --config /data/config.json --catalog /data/catalog.json
started=$(date +%s)
.venv/bin/source-segment read --config "$RUN/config.json" --catalog "$RUN/catalog.json" > "$RUN/host-read.jsonl" 2> "$RUN/host-read.stderr" \
  || echo "$?" > "$RUN/host-read.rc"
echo "    host read: $(( $(date +%s) - started )) s"
kill "$SIM_PID" 2>/dev/null || true
done_step

# --- 6. assertions -----------------------------------------------------------------------------------------------
step "6/7 compare"
if ! .venv/bin/python - "$RUN" "$WORK/image-config.json" "$IMAGE_USER" "$VERSION" "$TOKEN" <<'EOF'
import json, sys
from pathlib import Path

run, image_config, image_user, version, token = Path(sys.argv[1]), json.load(open(sys.argv[2])), sys.argv[3], sys.argv[4], sys.argv[5]
problems = []

def messages(name):
    out = []
    for line in (run / f"{name}.jsonl").read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            problems.append(f"{name}: a stdout line is not JSON: {line[:120]!r}")
    if (run / f"{name}.rc").exists():
        problems.append(f"{name}: exit code {(run / f'{name}.rc').read_text().strip()}")
    return out

def of_type(msgs, kind):
    return [m for m in msgs if m.get("type") == kind]

def errors(msgs):
    return [m["trace"]["error"]["message"] for m in of_type(msgs, "TRACE") if m["trace"].get("type") == "ERROR"]

labels = image_config.get("Labels") or {}
if labels.get("io.airbyte.name") != "airbyte/source-segment" or labels.get("io.airbyte.version") != version:
    problems.append(f"image labels: {labels}")
if "AIRBYTE_ENTRYPOINT=source-segment" not in (image_config.get("Env") or []):
    problems.append(f"image env lacks AIRBYTE_ENTRYPOINT: {image_config.get('Env')}")
if image_user != "airbyte":
    problems.append(f"the image runs as {image_user!r}, not the non-root user airbyte")

spec = of_type(messages("container-spec"), "SPEC")
if len(spec) != 1 or "api_token" not in spec[0]["spec"]["connectionSpecification"]["properties"]:
    problems.append("spec: no single SPEC message with the connector's spec")

check = messages("container-check")
statuses = [m["connectionStatus"]["status"] for m in of_type(check, "CONNECTION_STATUS")]
if statuses != ["SUCCEEDED"]:
    problems.append(f"check: statuses {statuses}, errors {errors(check)}")

catalog = of_type(messages("container-discover"), "CATALOG")
discovered = sorted(s["name"] for s in catalog[0]["catalog"]["streams"]) if catalog else []
configured = sorted(s["stream"]["name"] for s in json.load(open(run / "catalog.json"))["streams"])
if discovered != configured:
    problems.append(f"discover: {len(discovered)} streams, expected the {len(configured)} of the catalog")

keys = {s["stream"]["name"]: s["primary_key"] for s in json.load(open(run / "catalog.json"))["streams"]}

def pk_sets(msgs):
    sets = {}
    for m in of_type(msgs, "RECORD"):
        stream, data = m["record"]["stream"], m["record"]["data"]
        sets.setdefault(stream, set()).add(json.dumps([data.get(path[0]) for path in keys[stream]], sort_keys=True))
    return sets

container_read, host_read = messages("container-read"), messages("host-read")
for name, msgs in (("container read", container_read), ("host read", host_read)):
    if errors(msgs):
        problems.append(f"{name}: errors {errors(msgs)}")
container_sets, host_sets = pk_sets(container_read), pk_sets(host_read)
for stream in configured:
    c, h = container_sets.get(stream, set()), host_sets.get(stream, set())
    if not h:
        problems.append(f"{stream}: no records on the host either (the comparison would prove nothing)")
    elif c != h:
        problems.append(f"{stream}: container {len(c)} keys vs host {len(h)} keys ({len(c - h)} only in container, {len(h - c)} only on host)")

for path in run.glob("container-*"):
    if token in path.read_text(errors="replace"):
        problems.append(f"{path.name}: the API token appears in the output")

records = sum(len(s) for s in container_sets.values())
print(f"    container: {len(discovered)} streams discovered, {len(of_type(container_read, 'RECORD'))} records "
      f"({records} distinct keys) in {len(container_sets)} streams; host: {len(of_type(host_read, 'RECORD'))} records")
if problems:
    print("\n".join(f"    - {p}" for p in problems))
    sys.exit(1)
print("    same primary keys per stream in the container and on the host, for all "
      f"{len(configured)} streams; check SUCCEEDED; image runs as airbyte; labels and AIRBYTE_ENTRYPOINT set")
EOF
then
  fail "the container's output differs from what was expected (see above; outputs in $RUN)"
fi
done_step

# --- 7. the CDK's own image tests, through a docker -> podman shim ------------------------------------------------
step "7/7 CDK standard image tests (test_docker_image_*) against the image"
mkdir -p "$WORK/shim"
sed 's/^\[containers\]$/[containers]\nnetns = "host"/' "$WORK/containers/containers.conf" > "$WORK/containers/containers-hostnet.conf"
cat > "$WORK/shim/docker" <<EOF
#!/bin/sh
# docker -> podman, with host networking so containers reach the simulator on 127.0.0.1
export CONTAINERS_STORAGE_CONF="$WORK/containers/storage.conf" CONTAINERS_CONF="$WORK/containers/containers-hostnet.conf" TMPDIR="$WORK/tmp"
exec podman "\$@"
EOF
chmod +x "$WORK/shim/docker"
PATH="$WORK/shim:$PATH" .venv/bin/python -m pytest integration_tests/test_standard.py -k docker_image -q -rs -p no:cacheprovider \
  --connector-image="$IMAGE" --read-from-streams=all --read-scenarios=sample_config > "$WORK/standard-image-tests.log" 2>&1 \
  || { tail -40 "$WORK/standard-image-tests.log"; fail "the CDK standard image tests failed; see $WORK/standard-image-tests.log"; }
echo "    $(tail -1 "$WORK/standard-image-tests.log")"
done_step
echo
echo "IMAGE TEST PASSED in $(( $(date +%s) - SCRIPT_START )) s (outputs in ${RUN#$ROOT/})"
