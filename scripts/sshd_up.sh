#!/usr/bin/env bash
# A throwaway sshd for the remote-attach tests: Debian's openssh-server with its own config, host key, client key
# and authorized_keys in DIR (default: a new temp dir), listening on 127.0.0.1 only, never the system config.
# HWMON_SSHD_SETENV / HWMON_SSHD_FORCECOMMAND add sshd_config's SetEnv / ForceCommand (tests of what a login prints).
# Prints shell assignments (eval them): HWMON_SSHD_DIR, HWMON_SSHD_PORT, HWMON_SSHD_PID and the client options.
# Stop it with scripts/sshd_down.sh DIR.
set -euo pipefail
SSHD=${SSHD:-/usr/sbin/sshd}
[ -x "$SSHD" ] || { echo "sshd_up: $SSHD not found (apt-get install openssh-server)" >&2; exit 3; }
command -v ssh-keygen >/dev/null || { echo "sshd_up: ssh-keygen not found (apt-get install openssh-client)" >&2; exit 3; }
DIR=${1:-$(mktemp -d "${TMPDIR:-/tmp}/hwmon-sshd.XXXXXX")}
mkdir -p "$DIR"
chmod 700 "$DIR"
PORT=${HWMON_SSHD_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
ssh-keygen -q -t ed25519 -N '' -f "$DIR/host_key" <<<y >/dev/null 2>&1 || true
ssh-keygen -q -t ed25519 -N '' -f "$DIR/client_key" <<<y >/dev/null 2>&1 || true
cp "$DIR/client_key.pub" "$DIR/authorized_keys"
chmod 600 "$DIR/authorized_keys" "$DIR/host_key" "$DIR/client_key"
printf '[127.0.0.1]:%s %s\n' "$PORT" "$(cut -d' ' -f1,2 "$DIR/host_key.pub")" >"$DIR/known_hosts"
cat >"$DIR/sshd_config" <<CONF
ListenAddress 127.0.0.1:$PORT
HostKey $DIR/host_key
PidFile $DIR/sshd.pid
AuthorizedKeysFile $DIR/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
LogLevel ERROR
MaxStartups 100:30:200
MaxSessions 100
${HWMON_SSHD_SETENV:+SetEnv $HWMON_SSHD_SETENV}
${HWMON_SSHD_FORCECOMMAND:+ForceCommand $HWMON_SSHD_FORCECOMMAND}
CONF
# Privilege separation needs this directory (normally made by the service unit).
[ -d /run/sshd ] || { mkdir -p /run/sshd && chmod 755 /run/sshd; }
"$SSHD" -f "$DIR/sshd_config" -E "$DIR/sshd.log"
for _ in $(seq 50); do [ -s "$DIR/sshd.pid" ] && break; sleep 0.05; done
[ -s "$DIR/sshd.pid" ] || { echo "sshd_up: sshd did not start; see $DIR/sshd.log" >&2; cat "$DIR/sshd.log" >&2; exit 1; }
echo "HWMON_SSHD_DIR=$DIR"
echo "HWMON_SSHD_PORT=$PORT"
echo "HWMON_SSHD_PID=$(cat "$DIR/sshd.pid")"
echo "HWMON_SSHD_KEY=$DIR/client_key"
echo "HWMON_SSHD_KNOWN_HOSTS=$DIR/known_hosts"
