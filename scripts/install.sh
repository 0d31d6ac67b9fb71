#!/usr/bin/env bash
# Install custody as a service on this workstation (systemd, udev; Debian, Ubuntu,
# Fedora or alike), from a checkout of the repository:
#
#   sudo scripts/install.sh              # install, enable and start custody.service
#   sudo scripts/install.sh --no-start   # install and enable only
#   scripts/install.sh --check           # only check the unit files (no root needed)
#
# What it does (see docs/daemon.md):
#   - builds custody when dist/ is missing, copies it to /opt/custody and installs its
#     runtime dependencies there (npm ci --omit=dev), links /usr/local/bin/custody;
#   - creates the system user and group "custody" (no shell, home /var/lib/custody);
#   - puts the recorder profiles in /etc/custody/recorders.yaml (kept if present: it is
#     the site's list of models) and the udev rules made from them in
#     /etc/udev/rules.d/70-custody-recorders.rules;
#   - installs systemd/custody.service and systemd/custody-ingest@.service;
#   - initialises the home /var/lib/custody as the custody user (idempotent).
# Re-running it upgrades the program and keeps the home, profiles and configuration.
set -euo pipefail

SRC="$(cd "$(dirname "$0")/.." && pwd)"
APP=/opt/custody
HOME_DIR=/var/lib/custody
ETC=/etc/custody
USER_NAME=custody
START=1
CHECK_ONLY=0

for arg in "$@"; do
  case "$arg" in
    --no-start) START=0 ;;
    --check) CHECK_ONLY=1 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

log() { printf '== %s\n' "$*"; }

check_units() {
  if command -v systemd-analyze >/dev/null 2>&1; then
    systemd-analyze verify "$SRC/systemd/custody.service" "$SRC/systemd/custody-ingest@.service"
    log "unit files verified (systemd-analyze verify)"
  else
    log "systemd-analyze not found: unit files not verified"
  fi
}

if [ "$CHECK_ONLY" = 1 ]; then
  check_units
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (sudo $0)" >&2
  exit 2
fi
command -v systemctl >/dev/null 2>&1 || { echo "install.sh: systemd is required" >&2; exit 2; }
command -v node >/dev/null 2>&1 || { echo "install.sh: Node.js 20 or later is required" >&2; exit 2; }
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || { echo "install.sh: Node.js 20 or later is required" >&2; exit 2; }

check_units

if [ ! -f "$SRC/dist/cli/main.js" ]; then
  log "building custody"
  (cd "$SRC" && npm ci --no-audit --no-fund && npm run build)
fi

log "installing the program in $APP"
mkdir -p "$APP"
rm -rf "$APP/dist"
cp -a "$SRC/dist" "$SRC/config" "$SRC/systemd" "$SRC/udev" "$SRC/docs" "$SRC/package.json" "$SRC/package-lock.json" "$APP/"
(cd "$APP" && npm ci --omit=dev --no-audit --no-fund)
chmod 0755 "$APP/dist/cli/main.js"
ln -sfn "$APP/dist/cli/main.js" /usr/local/bin/custody

if ! getent group "$USER_NAME" >/dev/null; then
  log "creating group $USER_NAME"
  groupadd --system "$USER_NAME"
fi
if ! getent passwd "$USER_NAME" >/dev/null; then
  log "creating user $USER_NAME"
  useradd --system --gid "$USER_NAME" --home-dir "$HOME_DIR" --no-create-home --shell /usr/sbin/nologin "$USER_NAME"
fi
install -d -o "$USER_NAME" -g "$USER_NAME" -m 0750 "$HOME_DIR"

mkdir -p "$ETC"
if [ ! -f "$ETC/recorders.yaml" ]; then
  install -m 0644 "$SRC/config/recorders.yaml" "$ETC/recorders.yaml"
  log "recorder profiles in $ETC/recorders.yaml (add your models there)"
fi

log "udev rules for the known recorder models"
install -d /media/custody
custody devices udev-rules --profiles "$ETC/recorders.yaml" --user "$USER_NAME" --group "$USER_NAME" --mount-dir /media/custody \
  > /etc/udev/rules.d/70-custody-recorders.rules
if command -v udevadm >/dev/null 2>&1; then
  udevadm control --reload || true
fi

log "systemd units"
install -m 0644 "$SRC/systemd/custody.service" /etc/systemd/system/custody.service
install -m 0644 "$SRC/systemd/custody-ingest@.service" /etc/systemd/system/custody-ingest@.service
systemctl daemon-reload

log "initialising $HOME_DIR"
runuser -u "$USER_NAME" -- env CUSTODY_HOME="$HOME_DIR" custody init

if [ "$START" = 1 ]; then
  systemctl enable --now custody.service
  log "custody.service is running: journalctl -u custody -f -o cat"
else
  systemctl enable custody.service
  log "custody.service is enabled; start it with: systemctl start custody"
fi
