#!/usr/bin/env bash
# Install or upgrade custody as a service on this workstation (systemd, udev; Debian,
# Ubuntu, Fedora or alike), from a checkout of the repository:
#
#   sudo scripts/install.sh              # install (or upgrade), enable and start custody.service
#   sudo scripts/install.sh --no-start   # install (or upgrade) and enable only
#   scripts/install.sh --check           # only check the unit files (no root needed)
#
# Options:
#   --allow-unsupported-node  install on a Node.js outside the supported lines (22, 24)
#   --deps-from DIR           link DIR/node_modules into the program instead of running
#                             npm ci --omit=dev (an offline install from a prepared tree)
#   --ready-timeout SEC       how long the started service has to answer /readyz (60)
#   --root DIR                install under DIR standing for / (the program, home, /etc,
#                             units and udev rules; no root needed, no account created):
#                             staged installs and tests
#   --service-user NAME       the service user (default custody)
#
# What it does (see docs/daemon.md and docs/operations.md):
#   - builds custody when dist/ is missing, installs it in /opt/custody with its runtime
#     dependencies (npm ci --omit=dev), links /usr/local/bin/custody;
#   - creates the system user and group "custody" (no shell, home /var/lib/custody);
#   - puts the recorder profiles in /etc/custody/recorders.yaml (kept if present: it is
#     the site's list of models) and the udev rules made from them in
#     /etc/udev/rules.d/70-custody-recorders.rules;
#   - installs systemd/custody.service and systemd/custody-ingest@.service;
#   - initialises the home /var/lib/custody as the custody user (idempotent), which
#     brings the catalog's schema up to date (the migrations).
#
# On an installed station it upgrades: it stops the service, snapshots the catalog (a
# consistent copy kept in /var/lib/custody/upgrades, and a snapshot into the vault with
# `custody backup` where the installed version has it), installs the new program beside
# the old one, migrates, starts the service and waits for /readyz. A migration that
# fails, or a service that does not become ready before it has written to the ledger,
# is rolled back: the catalog copy is put back, the previous program is put back and
# started again, and the script exits 1.
#
# The service manager's commands can be replaced through the environment (tests have
# no systemd): SYSTEMCTL, UDEVADM, SYSTEMD_ANALYZE.
set -euo pipefail

SRC="$(cd "$(dirname "$0")/.." && pwd)"
ROOT=""
USER_NAME=custody
SYSTEMCTL="${SYSTEMCTL:-systemctl}"
UDEVADM="${UDEVADM:-udevadm}"
SYSTEMD_ANALYZE="${SYSTEMD_ANALYZE:-systemd-analyze}"
SERVICE=custody.service
START=1
CHECK_ONLY=0
ALLOW_NODE=0
DEPS_FROM=""
READY_TIMEOUT=60

while [ $# -gt 0 ]; do
  case "$1" in
    --no-start) START=0 ;;
    --check) CHECK_ONLY=1 ;;
    --allow-unsupported-node) ALLOW_NODE=1 ;;
    --deps-from) DEPS_FROM="${2:?--deps-from needs a folder}"; shift ;;
    --ready-timeout) READY_TIMEOUT="${2:?--ready-timeout needs seconds}"; shift ;;
    --root) ROOT="$(realpath -m "${2:?--root needs a folder}")"; shift ;;
    --service-user) USER_NAME="${2:?--service-user needs a name}"; shift ;;
    -h|--help) sed -n '2,37p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

APP="$ROOT/opt/custody"
PREVIOUS="$ROOT/opt/custody.previous"
HOME_DIR="$ROOT/var/lib/custody"
ETC="$ROOT/etc/custody"
BIN_DIR="$ROOT/usr/local/bin"
UNIT_DIR="$ROOT/etc/systemd/system"
UDEV_DIR="$ROOT/etc/udev/rules.d"
MOUNT_DIR="$ROOT/media/custody"
CUSTODY="$BIN_DIR/custody"

log() { printf '== %s\n' "$*"; }
die() { echo "install.sh: $1" >&2; exit "${2:-2}"; }

check_units() {
  if command -v "$SYSTEMD_ANALYZE" >/dev/null 2>&1; then
    "$SYSTEMD_ANALYZE" verify "$SRC/systemd/custody.service" "$SRC/systemd/custody-ingest@.service"
    log "unit files verified (systemd-analyze verify)"
  else
    log "systemd-analyze not found: unit files not verified"
  fi
}

if [ "$CHECK_ONLY" = 1 ]; then
  check_units
  exit 0
fi

if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then
  die "run as root (sudo $0)"
fi
command -v "$SYSTEMCTL" >/dev/null 2>&1 || die "systemd is required"
command -v node >/dev/null 2>&1 || die "Node.js 22 or 24 is required"
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
case "$NODE_MAJOR" in
  22|24) ;;
  *)
    if [ "$ALLOW_NODE" = 1 ] && [ "$NODE_MAJOR" -ge 20 ]; then
      log "warning: Node.js $(node --version) is not a supported line (22, 24); going on as asked"
    else
      die "Node.js $(node --version) is not supported: install Node.js 22 or 24 (the LTS lines), or pass --allow-unsupported-node"
    fi
    ;;
esac

# Run a command as the service user (directly when that is who runs this script).
as_service_user() {
  if [ "$(id -un)" = "$USER_NAME" ]; then
    env CUSTODY_HOME="$HOME_DIR" "$@"
  else
    runuser -u "$USER_NAME" -- env CUSTODY_HOME="$HOME_DIR" "$@"
  fi
}

# The address of /readyz as the installed program reads the station's configuration.
ready_url() {
  as_service_user node --input-type=module -e "
    const { loadConfig } = await import('$APP/dist/config/index.js');
    const c = loadConfig({ home: process.env.CUSTODY_HOME });
    const host = c.api.host === '0.0.0.0' || c.api.host === '::' ? '127.0.0.1' : c.api.host.includes(':') ? '[' + c.api.host + ']' : c.api.host;
    console.log('http://' + host + ':' + c.api.port + '/readyz');"
}

# Wait until /readyz answers 200 (the catalog and the vault answer), or the timeout.
wait_ready() {
  local url deadline
  url="$(ready_url)" || return 1
  deadline=$(( $(date +%s) + READY_TIMEOUT ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    if node -e "fetch(process.argv[1], { signal: AbortSignal.timeout(3000) }).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))" "$url"; then
      log "ready: $url"
      return 0
    fi
    sleep 1
  done
  echo "install.sh: $url did not answer 200 within ${READY_TIMEOUT}s" >&2
  return 1
}

# The number of ledger entries in a catalog file (0 when it cannot be read).
ledger_size() {
  node -e "
    const Database = require(process.argv[1] + '/node_modules/better-sqlite3');
    const db = new Database(process.argv[2], { readonly: true, fileMustExist: true });
    console.log(db.prepare('SELECT count(*) AS n FROM ledger').get().n);" "$1" "$2" 2>/dev/null || echo 0
}

# ---------------------------------------------------------------------------------
# An installed station: stop it and snapshot its catalog before anything changes.
UPGRADE=0
WAS_ACTIVE=0
SNAPSHOT=""
CATALOG="$HOME_DIR/catalog.db"
if [ -f "$APP/dist/cli/main.js" ] && [ -f "$CATALOG" ]; then
  UPGRADE=1
  OLD_VERSION="$(node -p "require('$APP/package.json').version" 2>/dev/null || echo unknown)"
  NEW_VERSION="$(node -p "require('$SRC/package.json').version")"
  log "upgrading custody $OLD_VERSION to $NEW_VERSION"
  if "$SYSTEMCTL" is-active --quiet "$SERVICE"; then WAS_ACTIVE=1; fi
  # Nothing changed yet: start again what was running, and stop.
  give_up() {
    if [ "$WAS_ACTIVE" = 1 ]; then "$SYSTEMCTL" start "$SERVICE" || true; fi
    die "$1; nothing was changed" 1
  }
  log "stopping $SERVICE (copies in flight finish or roll back; the ledger tail is sealed)"
  "$SYSTEMCTL" stop "$SERVICE"

  # A consistent copy of the catalog with SQLite's online backup (the write-ahead log
  # included), with the program that wrote it, for a rollback.
  install -d -o "$USER_NAME" -g "$(id -gn "$USER_NAME")" -m 0750 "$HOME_DIR/upgrades"
  SNAPSHOT="$HOME_DIR/upgrades/catalog-$OLD_VERSION-$(date -u +%Y%m%dT%H%M%SZ).db"
  as_service_user node -e "
    const Database = require(process.argv[1] + '/node_modules/better-sqlite3');
    const db = new Database(process.argv[2], { fileMustExist: true });
    db.backup(process.argv[3]).then(() => db.close(), (e) => { console.error(e.message); process.exit(1); });" \
    "$APP" "$CATALOG" "$SNAPSHOT" || give_up "could not snapshot the catalog"
  log "catalog snapshot for a rollback: $SNAPSHOT"
  # And a snapshot into the vault, ledgered, where the installed version can take one.
  if as_service_user "$CUSTODY" --help 2>/dev/null | grep -qE '^ +backup( |$)'; then
    if as_service_user "$CUSTODY" backup --json >/dev/null; then
      log "catalog snapshot taken into the vault (custody backup)"
    else
      give_up "custody backup failed"
    fi
  else
    log "custody $OLD_VERSION has no backup command: only the local snapshot is kept"
  fi
  # Keep the three newest rollback snapshots.
  ls -1t "$HOME_DIR"/upgrades/catalog-*.db 2>/dev/null | tail -n +4 | while read -r old; do rm -f -- "$old"; done

  rm -rf "$PREVIOUS"
  mv "$APP" "$PREVIOUS"
fi

# Put the previous program and the catalog snapshot back and start it again.
rollback() {
  local why="$1"
  echo "install.sh: $why: rolling back to custody $OLD_VERSION" >&2
  "$SYSTEMCTL" stop "$SERVICE" >/dev/null 2>&1 || true
  rm -rf "$APP"
  mv "$PREVIOUS" "$APP"
  ln -sfn "$APP/dist/cli/main.js" "$CUSTODY"
  cp "$SNAPSHOT" "$CATALOG.restoring"
  chown --reference="$CATALOG" "$CATALOG.restoring"
  chmod --reference="$CATALOG" "$CATALOG.restoring"
  # The new version's write-ahead log belongs to the catalog being replaced.
  rm -f "$CATALOG-wal" "$CATALOG-shm"
  mv "$CATALOG.restoring" "$CATALOG"
  log "catalog restored from $SNAPSHOT; custody $OLD_VERSION put back"
  if [ "$WAS_ACTIVE" = 1 ] || [ "$START" = 1 ]; then
    "$SYSTEMCTL" start "$SERVICE"
    if wait_ready; then
      log "custody $OLD_VERSION is running again"
    else
      echo "install.sh: custody $OLD_VERSION did not become ready either: journalctl -u custody -o cat" >&2
    fi
  fi
  exit 1
}

check_units

if [ ! -f "$SRC/dist/cli/main.js" ]; then
  log "building custody"
  (cd "$SRC" && npm ci --no-audit --no-fund && npm run build)
fi

# (Called as `install_program || …`, where set -e does not hold: each step checks itself.)
install_program() {
  log "installing the program in $APP"
  mkdir -p "$APP" || return 1
  rm -rf "$APP/dist" || return 1
  cp -a "$SRC/dist" "$SRC/config" "$SRC/systemd" "$SRC/udev" "$SRC/docs" "$SRC/package.json" "$SRC/package-lock.json" "$APP/" || return 1
  if [ -n "$DEPS_FROM" ]; then
    ln -sfn "$(cd "$DEPS_FROM" && pwd)/node_modules" "$APP/node_modules" || return 1
  else
    (cd "$APP" && npm ci --omit=dev --no-audit --no-fund) || return 1
  fi
  chmod 0755 "$APP/dist/cli/main.js" || return 1
  mkdir -p "$BIN_DIR" || return 1
  ln -sfn "$APP/dist/cli/main.js" "$CUSTODY" || return 1
}
if [ "$UPGRADE" = 1 ]; then
  install_program || rollback "the new program could not be installed"
else
  install_program
fi

if [ -z "$ROOT" ]; then
  if ! getent group "$USER_NAME" >/dev/null; then
    log "creating group $USER_NAME"
    groupadd --system "$USER_NAME"
  fi
  if ! getent passwd "$USER_NAME" >/dev/null; then
    log "creating user $USER_NAME"
    useradd --system --gid "$USER_NAME" --home-dir "$HOME_DIR" --no-create-home --shell /usr/sbin/nologin "$USER_NAME"
  fi
fi
install -d -o "$USER_NAME" -g "$(id -gn "$USER_NAME")" -m 0750 "$HOME_DIR"

mkdir -p "$ETC"
if [ ! -f "$ETC/recorders.yaml" ]; then
  install -m 0644 "$SRC/config/recorders.yaml" "$ETC/recorders.yaml"
  log "recorder profiles in $ETC/recorders.yaml (add your models there)"
fi

log "udev rules for the known recorder models"
install -d "$MOUNT_DIR" "$UDEV_DIR"
"$CUSTODY" devices udev-rules --profiles "$ETC/recorders.yaml" --user "$USER_NAME" --group "$(id -gn "$USER_NAME")" --mount-dir /media/custody \
  > "$UDEV_DIR/70-custody-recorders.rules"
if command -v "$UDEVADM" >/dev/null 2>&1; then
  "$UDEVADM" control --reload || true
fi

log "systemd units"
install -d "$UNIT_DIR"
install -m 0644 "$SRC/systemd/custody.service" "$UNIT_DIR/custody.service"
install -m 0644 "$SRC/systemd/custody-ingest@.service" "$UNIT_DIR/custody-ingest@.service"
"$SYSTEMCTL" daemon-reload

# `custody init` opens the catalog with the new program, which runs its migrations
# (each in one transaction); on an existing home it also checks that the ledger verifies.
log "initialising $HOME_DIR (migrations)"
if ! as_service_user "$CUSTODY" init; then
  if [ "$UPGRADE" = 1 ]; then rollback "the new version could not open or migrate the catalog"; fi
  die "custody init failed" 1
fi

if [ "$START" = 1 ] || [ "$WAS_ACTIVE" = 1 ]; then
  "$SYSTEMCTL" enable "$SERVICE"
  "$SYSTEMCTL" start "$SERVICE"
  if ! wait_ready; then
    if [ "$UPGRADE" = 1 ]; then
      # Only while the new version has written nothing to the ledger: entries it
      # recorded would be lost with the old catalog, so then it stays, stopped.
      if [ "$(ledger_size "$APP" "$CATALOG")" -le "$(ledger_size "$APP" "$SNAPSHOT")" ]; then
        rollback "the upgraded service did not become ready"
      fi
      "$SYSTEMCTL" stop "$SERVICE" || true
      die "the upgraded service did not become ready and has already written to the ledger, so it was not rolled back; it is stopped: read journalctl -u custody -o cat, fix, then $SYSTEMCTL start $SERVICE" 1
    fi
    die "custody.service did not become ready: journalctl -u custody -o cat" 1
  fi
  log "custody.service is running: journalctl -u custody -f -o cat"
  log "check the station: sudo -u $USER_NAME $CUSTODY doctor --home $HOME_DIR"
else
  "$SYSTEMCTL" enable "$SERVICE"
  log "custody.service is enabled; start it with: systemctl start custody"
fi

if [ "$UPGRADE" = 1 ]; then
  rm -rf "$PREVIOUS"
  log "upgraded custody $OLD_VERSION to $NEW_VERSION (rollback snapshot kept: $SNAPSHOT)"
fi
