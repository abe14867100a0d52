#!/bin/sh
# /usr/bin/fit-converter: the command-line tool of the package's venv, started with
# the appliance's settings so that `sudo fit-converter set-password` or
# `sudo fit-converter doctor` act on the files the services use.
#
# - The FIT_CONVERTER_* and FLASK_SECRET_KEY lines of /etc/fit-converter/app.env are
#   exported when the file is readable (root or the group fitconv) and
#   FIT_CONVERTER_STATE_DIR is not already set. Lines are read as data, never run
#   as shell code.
# - Started by root, every subcommand except `convert` and `doctor` runs as the user
#   fitconv, so that the files it writes (password hash, API tokens, ledger) belong
#   to the services' user. `convert` reads and writes the caller's own files, and
#   `doctor` needs root to read every file it checks.
set -e

CLI=/opt/fit-converter/.venv/bin/fit-converter
ENV_FILE=/etc/fit-converter/app.env

if [ -z "${FIT_CONVERTER_STATE_DIR:-}" ] && [ -r "$ENV_FILE" ]; then
	while IFS= read -r line || [ -n "$line" ]; do
		case "$line" in
			FIT_CONVERTER_*=* | FLASK_SECRET_KEY=*) export "${line?}" ;;
		esac
	done <"$ENV_FILE"
fi

if [ "$(id -u)" -eq 0 ] && getent passwd fitconv >/dev/null; then
	case "${1:-}" in
		convert | doctor) ;;
		*) exec setpriv --reuid=fitconv --regid=fitconv --init-groups "$CLI" "$@" ;;
	esac
fi
exec "$CLI" "$@"
