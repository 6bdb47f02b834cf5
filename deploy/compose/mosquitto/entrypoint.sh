#!/bin/sh
# Write Mosquitto's password file from the Docker secrets, hash it in place, start the broker.
# printf is a shell builtin: the passwords never appear on a command line (ps).
set -eu
run=/mosquitto/run
umask 077
mkdir -p "$run"
printf 'pubnet:%s\ngateway:%s\n' "$(cat /run/secrets/mqtt_password)" \
  "$(cat /run/secrets/mqtt_gateway_password)" > "$run/passwd"
mosquitto_passwd -U "$run/passwd"
if id mosquitto >/dev/null 2>&1; then
  chown -R mosquitto:mosquitto "$run"
fi
exec mosquitto -c /mosquitto/config/mosquitto.conf
