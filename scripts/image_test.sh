#!/usr/bin/env bash
# Container image test: proves that `docker run airbyte/source-segment ...` works, on a machine without a
# Docker engine and without access to docker.io. CI (.ci/run) runs it beside ./scripts/test.sh.
#
#   1. installs podman, runc, mmdebstrap and eatmydata with apt if they are missing (needs the Debian mirror);
#   2. builds a stand-in for airbyte/python-connector-base once: Debian bookworm (Python 3.11, like the real
#      base) with python/pip on PATH under /usr/local and a non-root user `airbyte`, streamed by mmdebstrap
#      straight into `podman import`; kept in the podman storage and reused by later runs;
#   3. meanwhile downloads a wheelhouse for the base's Python (binary wheels for CPython 3.11 on glibc <= 2.36,
#      whatever the host's Python is; needs the Python package index, cached until pyproject.toml changes)
#      and builds the connector's wheel;
#   4. builds the connector image FROM the stand-in with `--network none` (the Dockerfile's offline wheelhouse
#      path); the previous image and any dangling layers are removed, so repeated runs do not pile up;
#   5. times a bare container start (fails if podman stalls, see below);
#   6. starts the Segment API simulator on the host, runs `spec`, `check`, `discover` and `read` (every stream)
#      in the container with `--network host`, the same `read` with the host's connector, and asserts the same
#      primary keys per stream, labels, AIRBYTE_ENTRYPOINT, the non-root user and no token in the output;
#   7. runs the CDK's image tests (`test_docker_image_*`) through a `docker` -> podman shim.
#
# Podman settings (see /work/shared/notes): runc (crun rejects the hybrid cgroup layout of some sandboxes),
# ulimits within what an unprivileged-resource sandbox allows (nofile<=20000, nproc<=32768), storage under
# IMAGE_TEST_DIR. Podman refuses a runroot longer than 50 characters when it cleans up after a container exits;
# the container's exit is then never recorded and every `podman run` waits out conmon's 20 s timeout. The
# runroot therefore lives at a short fixed path, /run/sst-<hash of IMAGE_TEST_DIR> (or /tmp/sst-<hash>).
#
# Usage: sudo ./scripts/image_test.sh [--rebuild-base] [--clean]
#   --rebuild-base  rebuild the stand-in base image even if it exists
#   --clean         remove IMAGE_TEST_DIR and the runroot (podman storage, images, caches, outputs) and exit
# Environment:
#   IMAGE_TEST_DIR  where podman storage, caches and outputs go (default build/image-test; about 580 MB)
#   DEBIAN_MIRROR   mirror for the stand-in base (default http://deb.debian.org/debian)
#   PYTHON          interpreter for .venv if it does not exist yet (default python3; 3.10 to 3.13)
#   MAX_START_SECONDS  a bare container start slower than this fails the test (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
WORK="${IMAGE_TEST_DIR:-$ROOT/build/image-test}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
MAX_START="${MAX_START_SECONDS:-3}"
SUITE=bookworm
BASE_PY=3.11  # bookworm's python3, and the Python of airbyte/python-connector-base 4.x
IMAGE="localhost/airbyte/source-segment:image-test"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)"
REBUILD_BASE=0
CLEAN=0

for arg in "$@"; do
  case "$arg" in
    --rebuild-base) REBUILD_BASE=1 ;;
    --clean) CLEAN=1 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { print }' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg (see --help)" >&2; exit 2 ;;
  esac
done

SCRIPT_START=$(date +%s)
step_start=0
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
step() { step_start=$(now); echo; echo "==> $*"; }
done_step() { echo "    done in $(since "$step_start") s"; }
fail() { echo "IMAGE TEST FAILED: $*" >&2; exit 1; }

if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    exec sudo -n --preserve-env=IMAGE_TEST_DIR,DEBIAN_MIRROR,PYTHON,MAX_START_SECONDS "$0" "$@"
  fi
  fail "run as root (podman runs rootful here, and apt/mmdebstrap need root): sudo $0 $*"
fi
case "$WORK" in /*) ;; *) WORK="$ROOT/$WORK" ;; esac

# --- podman configuration: storage under $WORK, runtime state under a short path ----------------------------
HASH="$(printf '%s' "$WORK" | sha256sum | cut -c1-12)"
RUNBASE=/run
[ -d /run ] && [ -w /run ] || RUNBASE=/tmp
RUNROOT="$RUNBASE/sst-$HASH"
if [ "${#RUNROOT}" -gt 50 ]; then
  fail "podman's runroot $RUNROOT is ${#RUNROOT} characters; podman allows at most 50"
fi
mkdir -p "$WORK/containers/storage" "$WORK/tmp" "$RUNROOT"
for netns in private host; do
  {
    echo '[containers]'
    echo 'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]'
    # The CDK's image tests call plain `docker run`; they reach the simulator on 127.0.0.1 only with host networking.
    [ "$netns" = host ] && echo 'netns = "host"'
    echo '[network]'
    echo 'network_backend = "netavark"'
    echo '[engine]'
    echo 'runtime = "runc"'
    # Exit files and locks; its default /run/libpod is shared with any system podman.
    echo "tmp_dir = \"$RUNROOT/libpod\""
    # Nobody reads podman's events here, and their log would grow with every run.
    echo 'events_logger = "none"'
  } > "$WORK/containers/containers-$netns.conf"
done
cat > "$WORK/containers/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$WORK/containers/storage"
runroot = "$RUNROOT"
EOF
export CONTAINERS_STORAGE_CONF="$WORK/containers/storage.conf"
export CONTAINERS_CONF="$WORK/containers/containers-private.conf"
export TMPDIR="$WORK/tmp"

if [ "$CLEAN" = 1 ]; then
  if command -v podman >/dev/null; then podman system reset --force >/dev/null 2>&1 || true; fi
  # `system reset` unmounts podman's storage; anything still mounted below $WORK would make rm fail.
  grep -o " $WORK/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$WORK" "$RUNROOT"
  echo "removed $WORK and $RUNROOT"
  exit 0
fi

exec 9> "$WORK/.lock"
flock -n 9 || fail "another image test is using $WORK (wait for it, or set IMAGE_TEST_DIR)"
SIM_PID=""
WHEELS_PID=""
cleanup() {
  [ -n "$SIM_PID" ] && kill $SIM_PID 2>/dev/null
  [ -n "$WHEELS_PID" ] && pkill -P "$WHEELS_PID" 2>/dev/null && kill "$WHEELS_PID" 2>/dev/null
  return 0
}
trap cleanup EXIT
echo "podman storage: $WORK/containers/storage; runroot: $RUNROOT"

# --- 3 (in the background from the start): host venv, connector wheel and the wheelhouse for the base's Python --
CONTEXT="$WORK/context"
DEPS="$WORK/dependency-wheels"
PLATFORMS=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)
for minor in $(seq 5 36); do PLATFORMS+=(--platform "manylinux_2_${minor}_x86_64"); done  # bookworm: glibc 2.36
DEPS_KEY="$(cat pyproject.toml <(echo "$BASE_PY ${PLATFORMS[*]}") | sha256sum | cut -c1-16)"
wheelhouse() {
  set -e
  local started=$(now)
  # The same install as ./scripts/test.sh; when CI runs that script beside this one, whichever comes second waits
  # for the first (scripts/install.sh holds a lock) and then finds .venv ready.
  ./scripts/install.sh dev
  echo "+ .venv ready after $(since "$started") s"
  rm -rf "$CONTEXT"
  mkdir -p "$CONTEXT/wheelhouse"
  cp -r Dockerfile .dockerignore pyproject.toml README.md LICENSE source_segment "$CONTEXT/"
  find "$CONTEXT" -name __pycache__ -prune -exec rm -rf {} +
  .venv/bin/python -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$CONTEXT/wheelhouse" "$CONTEXT"
  rm -rf "$CONTEXT/build" "$CONTEXT"/*.egg-info
  echo "+ connector wheel after $(since "$started") s"
  if [ ! -f "$DEPS/.key-$DEPS_KEY" ]; then
    rm -rf "$DEPS"
    # Binary wheels only, chosen for the image's CPython and glibc rather than the host's, so the host may run
    # any Python the connector supports and nothing is compiled against the host's libraries.
    .venv/bin/python -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
      --python-version "$BASE_PY" --implementation cp --abi "cp${BASE_PY/./}" "${PLATFORMS[@]}" \
      -d "$DEPS" "$CONTEXT"/wheelhouse/source_segment-*.whl
    rm -f "$DEPS"/source_segment-*.whl
    touch "$DEPS/.key-$DEPS_KEY"
    echo "+ dependency wheels downloaded after $(since "$started") s"
  else
    echo "+ dependency wheels reused (pyproject.toml unchanged)"
  fi
  cp "$DEPS"/*.whl "$CONTEXT/wheelhouse/"
}
wheelhouse > "$WORK/wheelhouse.log" 2>&1 &
WHEELS_PID=$!

# --- 1. tools ---------------------------------------------------------------------------------------------------
step "1/7 container tools"
missing=()
for tool in podman runc mmdebstrap eatmydata; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
[ -x /usr/lib/podman/netavark ] || missing+=(netavark)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "    installing ${missing[*]} with apt"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    podman runc mmdebstrap eatmydata netavark golang-github-containers-common > "$WORK/apt.log" 2>&1 \
    || { tail -20 "$WORK/apt.log"; fail "apt-get install failed; see $WORK/apt.log"; }
fi
echo "    $(podman --version), $(runc --version | head -1), mmdebstrap $(mmdebstrap --version | awk '{print $2}')"
done_step

# --- 2. stand-in base image ---------------------------------------------------------------------------------------
# The recipe is part of the tag, so editing it rebuilds the base instead of reusing a stale one.
BASE_RECIPE=(--variant=essential --include=passwd,python3,python3-venv,ca-certificates
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --customize-hook='chroot "$1" python3 -m venv /usr/local'
  --customize-hook='chroot "$1" useradd --create-home --uid 1000 --user-group --shell /bin/bash airbyte'
  --customize-hook='mkdir -p "$1/airbyte" && chroot "$1" chown airbyte:airbyte /airbyte')
BASE_REPO="localhost/source-segment-standin-base"
BASE_IMAGE="$BASE_REPO:$SUITE-$(printf '%s\n' "$SUITE" "${BASE_RECIPE[@]}" | sha256sum | cut -c1-8)"
step "2/7 stand-in base image ($BASE_IMAGE)"
if [ "$REBUILD_BASE" = 1 ] || ! podman image exists "$BASE_IMAGE"; then
  echo "    mmdebstrap $SUITE (python3, python3-venv, ca-certificates) from $MIRROR"
  # Streamed as a tarball into podman: no root filesystem on disk, no second build step.
  # eatmydata drops dpkg's fsync calls, which buy nothing for a tree that is streamed away as a tarball.
  if ! mmdebstrap --quiet --hook-dir=/usr/share/mmdebstrap/hooks/eatmydata "${BASE_RECIPE[@]}" "$SUITE" - "$MIRROR" \
      2> "$WORK/mmdebstrap.log" \
      | podman import --quiet --change 'ENV PYTHONUNBUFFERED=1' --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" \
      > /dev/null 2>> "$WORK/mmdebstrap.log"; then
    tail -20 "$WORK/mmdebstrap.log"
    fail "building the stand-in base failed (needs $MIRROR; set DEBIAN_MIRROR for another mirror); see $WORK/mmdebstrap.log"
  fi
else
  echo "    reusing the existing stand-in base (--rebuild-base to rebuild it)"
fi
for old in $(podman images --format '{{.Repository}}:{{.Tag}}' "$BASE_REPO"); do
  [ "$old" = "$BASE_IMAGE" ] || podman rmi "$old" > /dev/null
done
started=$(now)
IMAGE_PY="$(podman run --rm --network none "$BASE_IMAGE" python -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
echo "    Python $IMAGE_PY in the base (container start and exit: $(since "$started") s)"
[ "$IMAGE_PY" = "$BASE_PY" ] || fail "the stand-in base has Python $IMAGE_PY, the wheelhouse targets $BASE_PY"
done_step

# --- 3. wheelhouse ----------------------------------------------------------------------------------------------
step "3/7 wheelhouse for CPython $BASE_PY (started in the background at the beginning)"
if ! wait "$WHEELS_PID"; then
  WHEELS_PID=""
  tail -30 "$WORK/wheelhouse.log"
  fail "building the wheelhouse failed (needs the Python package index on the first run); see $WORK/wheelhouse.log"
fi
WHEELS_PID=""
sed -n 's/^+ /    /p' "$WORK/wheelhouse.log"
echo "    $(ls "$CONTEXT/wheelhouse" | wc -l) wheels, $(du -sh "$CONTEXT/wheelhouse" | cut -f1)"
done_step

# --- 4. connector image ------------------------------------------------------------------------------------------
step "4/7 connector image ($IMAGE), built offline"
# --layers=false: the context changes on every run (a new connector wheel), so cached layers would only pile up.
podman build --layers=false --network none --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$IMAGE" -f "$CONTEXT/Dockerfile" \
  "$CONTEXT" > "$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log"; fail "podman build failed; see $WORK/build.log"; }
# The previous run's image is now untagged: remove it and anything else dangling.
podman image prune --force > /dev/null
rm -rf "$CONTEXT/wheelhouse"
podman image inspect "$IMAGE" --format '{{json .Config}}' > "$WORK/image-config.json"
echo "    image size: $(podman image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}');" \
  "images in storage: $(podman images --all --quiet | wc -l)"
done_step

# --- 5. container start time ---------------------------------------------------------------------------------------
step "5/7 container start and exit (limit $MAX_START s)"
slow=0
for i in 1 2 3; do
  started=$(now)
  podman run --rm --network none --entrypoint /bin/true "$IMAGE"
  took=$(since "$started")
  echo "    podman run $IMAGE /bin/true: $took s"
  awk -v t="$took" -v m="$MAX_START" 'BEGIN { exit !(t > m) }' && slow=$((slow + 1))
done
IMAGE_USER="$(podman run --rm --network none --entrypoint id "$IMAGE" -un)"
# Three slow starts out of three is the stall (conmon's 20 s exit timeout), not a busy machine.
[ "$slow" -lt 3 ] || fail "every container start took over $MAX_START s (MAX_START_SECONDS). A runroot over 50 characters \
makes each one wait 20 s; this one is $RUNROOT. To see why: CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF \
CONTAINERS_CONF=$CONTAINERS_CONF podman --log-level=debug run --rm --entrypoint /bin/true $IMAGE"
done_step

# --- 6. run spec/check/discover/read in the container and read on the host ---------------------------------------
step "6/7 spec, check, discover and read in the container (simulator on the host)"
RUN="$WORK/run"
rm -rf "$RUN"
mkdir -p "$RUN"
TOKEN="$(.venv/bin/python -c 'import json; print(json.load(open("integration_tests/sample_config.json"))["api_token"])')"
# Two simulators of the same workspace: one for the container's commands, one for the host's read. With one, the
# second read would find the first one's requests in the server's per-minute windows (2 a minute for warehouse
# syncs) and wait out a minute.
start_simulator() {  # NAME: starts it in the background, waits until it answers, writes $RUN/config-NAME.json
  local name="$1" port
  port="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  .venv/bin/python -m integration_tests.simulator --port "$port" --size tiny --seed 1 --token "$TOKEN" \
    > "$RUN/simulator-$name.log" 2>&1 &
  SIM_PID="$SIM_PID $!"
  .venv/bin/python - "$port" "$RUN/config-$name.json" <<'EOF'
import json, sys, time, urllib.request, urllib.error
port, path = sys.argv[1], sys.argv[2]
for _ in range(100):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
    except urllib.error.HTTPError:
        break  # 401 without a token: the simulator is up
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("simulator did not start")
config = json.load(open("integration_tests/sample_config.json"))
config["base_url"] = f"http://127.0.0.1:{port}"
json.dump(config, open(path, "w"))
EOF
}
start_simulator container
start_simulator host
cp integration_tests/configured_catalog.json "$RUN/catalog.json"
chmod 755 "$RUN"; chmod 644 "$RUN"/config*.json "$RUN/catalog.json"  # the container runs as `airbyte`

in_container() {
  local name="$1"; shift
  local started=$(now)
  podman run --rm --network host -v "$RUN:/data:ro" "$IMAGE" "$@" > "$RUN/container-$name.jsonl" 2> "$RUN/container-$name.stderr" \
    || echo "$?" > "$RUN/container-$name.rc"
  echo "    podman run $name: $(since "$started") s, $(wc -l < "$RUN/container-$name.jsonl") lines"
}
in_container spec spec
in_container check check --config /data/config-container.json
in_container discover discover --config /data/config-container.json
in_container read read --config /data/config-container.json --catalog /data/catalog.json
started=$(now)
.venv/bin/source-segment read --config "$RUN/config-host.json" --catalog "$RUN/catalog.json" > "$RUN/host-read.jsonl" 2> "$RUN/host-read.stderr" \
  || echo "$?" > "$RUN/host-read.rc"
echo "    the same read on the host: $(since "$started") s"
kill $SIM_PID 2>/dev/null || true
SIM_PID=""
done_step

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
: > "$WORK/shim/calls.log"
cat > "$WORK/shim/docker" <<EOF
#!/bin/sh
# docker -> podman with this test's storage and host networking (the simulator listens on 127.0.0.1);
# each call's duration goes to calls.log.
export CONTAINERS_STORAGE_CONF="$CONTAINERS_STORAGE_CONF" CONTAINERS_CONF="$WORK/containers/containers-host.conf" TMPDIR="$TMPDIR"
started=\$(date +%s.%N)
podman "\$@"
rc=\$?
echo "\$(awk -v a="\$started" -v b="\$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') rc=\$rc docker \$*" >> "$WORK/shim/calls.log"
exit \$rc
EOF
chmod +x "$WORK/shim/docker"
PATH="$WORK/shim:$PATH" .venv/bin/python -m pytest integration_tests/test_standard.py -k docker_image -q -rs -p no:cacheprovider \
  --connector-image="$IMAGE" --read-from-streams=all --read-scenarios=sample_config > "$WORK/standard-image-tests.log" 2>&1 \
  || { tail -40 "$WORK/standard-image-tests.log"; fail "the CDK standard image tests failed; see $WORK/standard-image-tests.log"; }
awk -v image="$IMAGE" '$4 == "run" { for (i = 5; i <= NF; i++) if ($i == image) break
  printf "    podman run %s (CDK, through the docker shim): %s s, %s\n", $(i + 1), $1, $2 }' "$WORK/shim/calls.log"
echo "    $(tail -1 "$WORK/standard-image-tests.log")"
done_step

leftover="$(pgrep -f -- "$RUNROOT" || true)"
[ -z "$leftover" ] || echo "WARNING: processes still use $RUNROOT: $leftover"
echo
echo "disk: $(du -sxh "$WORK" | cut -f1) in ${WORK#$ROOT/}, $(du -sxh "$RUNROOT" | cut -f1) in $RUNROOT" \
  "(podman storage $(du -sxh "$WORK/containers/storage" | cut -f1))"
echo "IMAGE TEST PASSED in $(( $(date +%s) - SCRIPT_START )) s (outputs in ${RUN#$ROOT/})"
