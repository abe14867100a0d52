#!/bin/bash
# Checks of the fit-converter .deb inside a booted Bookworm container; run by
# run-container-test through nsenter, never on a real machine (it installs, upgrades
# and purges the package, and enables ufw).
#
# Reads: /srv/debs/fit-converter_*_<arch>.deb (the package under test),
#        /srv/upgrade/*.deb (the same package with a higher version),
#        /srv/tests/make_fit.py.
# Environment: CHECK_ARCH (amd64 or arm64), QEMU_USER=1 when the container runs
# through qemu-user (no ufw, services without their namespace sandboxing),
# WATCHER_NOTIFY=0 when the packaged watcher does not send
# READY=1 (the unit then runs as Type=simple through a test-only drop-in).
# Prints one line per check and ends with "N passed, N failed, N skipped"; exits 1
# if a check failed.
set -uo pipefail

ARCH="${CHECK_ARCH:-amd64}"
DEB=$(ls /srv/debs/fit-converter_*_"$ARCH".deb)
UPGRADE_DEB=$(ls /srv/upgrade/fit-converter_*_"$ARCH".deb)
VENV=/opt/fit-converter/.venv
DATA=/var/lib/fit-converter/data
STATE=/var/lib/fit-converter/state
WORK=/root/checks
mkdir -p "$WORK"
export DEBIAN_FRONTEND=noninteractive

passed=0
failed=0
skipped=0
phase_started=$(date +%s)

phase() {
	local now
	now=$(date +%s)
	echo "--- $* (previous phase took $((now - phase_started)) s)"
	phase_started=$now
}

# Run one check: NAME COMMAND... The command's output is shown only on failure.
check() {
	local name="$1" output
	shift
	if output=$("$@" 2>&1); then
		echo "ok      $name"
		passed=$((passed + 1))
	else
		echo "FAILED  $name"
		printf '%s\n' "$output" | tail -n 25 | sed 's/^/        /'
		failed=$((failed + 1))
	fi
}

skip() {
	echo "SKIPPED $1: $2"
	skipped=$((skipped + 1))
}

# Poll COMMAND... every 0.2 s until it succeeds or TIMEOUT seconds pass.
wait_until() {
	local timeout="$1" deadline
	shift
	deadline=$(($(date +%s) + timeout))
	until "$@" >/dev/null 2>&1; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			echo "timed out after $timeout s waiting for: $*"
			return 1
		fi
		sleep 0.2
	done
}

# Run a command as fitconv with the web app's settings, as the service does.
as_fitconv() {
	runuser -u fitconv -- sh -c 'set -a; . /etc/fit-converter/app.env; set +a; exec "$@"' sh "$@"
}

expect_owner_mode() {
	local path="$1" expected="$2" actual
	actual=$(stat -c '%U:%G %a' "$path") || return 1
	if [ "$actual" != "$expected" ]; then
		echo "$path is $actual, expected $expected"
		return 1
	fi
}

expect_contains() {
	local text="$1" pattern="$2"
	if ! grep -qE -- "$pattern" <<<"$text"; then
		echo "pattern '$pattern' not found in:"
		printf '%s\n' "$text" | head -n 20
		return 1
	fi
}

unit_running() {
	local unit="$1"
	[ "$(systemctl is-enabled "$unit")" = enabled ] || { echo "$unit is not enabled"; return 1; }
	wait_until 60 systemctl is-active --quiet "$unit" || {
		systemctl status --no-pager "$unit"
		journalctl -u "$unit" --no-pager -n 30
		return 1
	}
}

secret_key() {
	sed -n 's/^FLASK_SECRET_KEY=//p' /etc/fit-converter/app.env
}

main_pid() {
	systemctl show -p MainPID --value "$1"
}

https_status() {
	curl -sk -o /dev/null -w '%{http_code}' "https://localhost$1"
}

app_reachable() {
	wait_until 30 sh -c '[ "$(curl -sk -o /dev/null -w "%{http_code}" https://localhost/healthz)" = 200 ]' || {
		curl -skv https://localhost/healthz
		journalctl -u caddy --no-pager -n 20
		return 1
	}
}

# --- install ------------------------------------------------------------------

install_package() {
	# Preseed the firewall question to "no": the reconfigure phase then checks the
	# answer "yes" and the enabling path.
	echo "fit-converter fit-converter/enable-firewall boolean false" | debconf-set-selections
	if [ "${QEMU_USER:-0}" = 1 ]; then
		# qemu-user implements none of the namespace system calls behind these
		# options, so the services would fail at their NAMESPACE step. The
		# hardening is architecture-independent and checked on the native run.
		local unit
		for unit in fit-converter-app fit-converter-watcher; do
			mkdir -p "/etc/systemd/system/$unit.service.d"
			cat >"/etc/systemd/system/$unit.service.d/test-qemu-user.conf" <<-'EOF'
				[Service]
				ProtectSystem=no
				ProtectHome=no
				PrivateTmp=no
				PrivateDevices=no
				PrivateMounts=no
				PrivateIPC=no
				PrivateUsers=no
				PrivateNetwork=no
				ProtectProc=default
				ProcSubset=all
				ProtectKernelTunables=no
				ProtectKernelModules=no
				ProtectKernelLogs=no
				ProtectControlGroups=no
				ProtectClock=no
				ProtectHostname=no
				RestrictNamespaces=no
				MemoryDenyWriteExecute=no
				SystemCallFilter=
				SystemCallArchitectures=
				IPAddressDeny=
			EOF
		done
	fi
	if [ "${WATCHER_NOTIFY:-1}" = 0 ]; then
		mkdir -p /etc/systemd/system/fit-converter-watcher.service.d
		printf '[Service]\nType=simple\nWatchdogSec=0\n' \
			>/etc/systemd/system/fit-converter-watcher.service.d/test-no-notify.conf
	fi
	# No --no-download: with it, apt 2.6.2 stops with "Internal Error, Pathname to
	# install is not absolute" on a local .deb. The container has no network, so
	# a package missing from the cache fails the install all the same.
	apt-get install -y "$DEB" >"$WORK/install.log" 2>&1 || {
		cat "$WORK/install.log"
		return 1
	}
	cat "$WORK/install.log"
}

check_user() {
	local entry shell uid
	entry=$(getent passwd fitconv) || { echo "no user fitconv"; return 1; }
	uid=$(cut -d: -f3 <<<"$entry")
	shell=$(cut -d: -f7 <<<"$entry")
	[ "$uid" -lt 1000 ] || { echo "fitconv has uid $uid, not a system uid"; return 1; }
	[ "$shell" = /usr/sbin/nologin ] || { echo "fitconv has shell $shell"; return 1; }
	getent group fitconv >/dev/null || { echo "no group fitconv"; return 1; }
}

check_folders() {
	expect_owner_mode /var/lib/fit-converter "root:fitconv 750" &&
		expect_owner_mode "$DATA" "fitconv:fitconv 2770" &&
		expect_owner_mode "$DATA/inbox" "fitconv:fitconv 2770" &&
		expect_owner_mode "$DATA/outbox" "fitconv:fitconv 2770" &&
		expect_owner_mode "$DATA/archive" "fitconv:fitconv 2770" &&
		expect_owner_mode "$DATA/failed" "fitconv:fitconv 2770" &&
		expect_owner_mode "$DATA/.work" "fitconv:fitconv 2700" &&
		expect_owner_mode "$STATE" "fitconv:fitconv 750" &&
		expect_owner_mode "$STATE/logs" "fitconv:fitconv 750"
}

check_env_files() {
	expect_owner_mode /etc/fit-converter/app.env "root:fitconv 640" &&
		expect_owner_mode /etc/fit-converter/watcher.env "root:fitconv 640" &&
		expect_owner_mode /etc/fit-converter/caddy.env "root:root 644" &&
		expect_contains "$(cat /etc/fit-converter/app.env)" '^FLASK_SECRET_KEY=[0-9a-f]{64}$' &&
		expect_contains "$(cat /etc/fit-converter/watcher.env)" "^FLASK_SECRET_KEY=$(secret_key)\$" &&
		expect_contains "$(cat /etc/fit-converter/caddy.env)" '^FIT_CONVERTER_SITE_ADDRESS=https://$' &&
		expect_contains "$(cat /etc/fit-converter/caddy.env)" '^FIT_CONVERTER_TLS=internal$'
}

check_units() {
	unit_running fit-converter-app.service &&
		unit_running fit-converter-watcher.service &&
		unit_running caddy.service &&
		[ "$(systemctl show -p Type --value fit-converter-app.service)" = notify ]
}

# A unit started before the postinst wrote its settings fails and restarts.
check_no_restarts() {
	local unit restarts status=0
	for unit in fit-converter-app.service fit-converter-watcher.service; do
		restarts=$(systemctl show -p NRestarts --value "$unit")
		if [ "$restarts" != 0 ]; then
			echo "$unit restarted $restarts times:"
			journalctl -u "$unit" --no-pager -n 10
			status=1
		fi
	done
	return "$status"
}

check_loopback_only() {
	local listeners
	wait_until 30 sh -c 'ss -Hltn "sport = :8080" | grep -q .' || return 1
	listeners=$(ss -Hltn "sport = :8080" | awk '{print $4}')
	if [ "$listeners" != "127.0.0.1:8080" ]; then
		echo "port 8080 listens on: $listeners (expected 127.0.0.1:8080 only)"
		return 1
	fi
}

check_exposure() {
	local unit exposure status=0
	for unit in fit-converter-app.service fit-converter-watcher.service; do
		exposure=$(systemd-analyze security "$unit" 2>/dev/null \
			| sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
		echo "exposure $unit: ${exposure:-unknown}"
		if [ -z "$exposure" ] || ! awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }'; then
			status=1
		fi
	done
	return "$status"
}

# --- runtime --------------------------------------------------------------------

# As an admin runs it: `sudo fit-converter doctor`, through the wrapper that loads
# app.env. Without that subcommand, the module runs as fitconv with app.env.
check_doctor() {
	if /usr/bin/fit-converter --help 2>/dev/null | grep -qw doctor; then
		/usr/bin/fit-converter doctor
	else
		as_fitconv "$VENV/bin/python" -m fit_converter.doctor
	fi
}

# Break one thing on purpose, run doctor as an admin would, then repair it. Doctor
# must exit 2 and print MESSAGE. Usage: doctor_names_fault MESSAGE BREAK REPAIR
doctor_names_fault() {
	local message="$1" break_command="$2" repair_command="$3" output status=0
	sh -c "$break_command" || return 1
	output=$(/usr/bin/fit-converter doctor 2>&1) || status=$?
	sh -c "$repair_command" || return 1
	if [ "$status" -ne 2 ]; then
		printf '%s\n' "$output"
		echo "doctor exited with $status, expected 2"
		return 1
	fi
	if ! printf '%s\n' "$output" | grep -qF "$message"; then
		printf '%s\n' "$output"
		echo "doctor did not print: $message"
		return 1
	fi
}

check_inbox() {
	python3 /srv/tests/make_fit.py "$WORK/inbox-ride.fit" --records 120 || return 1
	install -o fitconv -g fitconv -m 0640 "$WORK/inbox-ride.fit" "$DATA/inbox/.inbox-ride.fit.part"
	mv "$DATA/inbox/.inbox-ride.fit.part" "$DATA/inbox/inbox-ride.fit"
	wait_until 60 test -s "$DATA/outbox/inbox-ride.csv" || {
		journalctl -u fit-converter-watcher --no-pager -n 30
		return 1
	}
	local rows
	rows=$(($(wc -l <"$DATA/outbox/inbox-ride.csv") - 1))
	[ "$rows" -eq 120 ] || { echo "inbox-ride.csv has $rows rows, expected 120"; return 1; }
	head -n 1 "$DATA/outbox/inbox-ride.csv" | grep -q '^timestamp,' || return 1
	wait_until 10 test -e "$DATA/archive/inbox-ride.fit" || { ls -la "$DATA"/*; return 1; }
}

# Return 0 when /upload redirects to a login page.
upload_needs_login() {
	local location
	location=$(curl -sk -o /dev/null -w '%{redirect_url}' https://localhost/upload)
	case "$location" in
		*login*) return 0 ;;
		*) return 1 ;;
	esac
}

has_set_password() {
	/usr/bin/fit-converter --help 2>/dev/null | grep -q set-password
}

# Set the owner's password and log in; cookies go to $WORK/cookies.
log_in() {
	local page token status
	# As an admin would: root through the wrapper, which runs it as fitconv.
	echo "package-test-password-1" | /usr/bin/fit-converter set-password --stdin || return 1
	expect_owner_mode "$STATE/owner-password.hash" "fitconv:fitconv 600" \
		|| expect_owner_mode "$STATE/owner-password.hash" "fitconv:fitconv 640" || return 1
	page=$(curl -sk -b "$WORK/cookies" -c "$WORK/cookies" https://localhost/login) || return 1
	token=$(sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' <<<"$page" | head -n 1)
	status=$(curl -sk -o /dev/null -w '%{http_code}' -b "$WORK/cookies" -c "$WORK/cookies" \
		--referer https://localhost/login \
		--data-urlencode "password=package-test-password-1" \
		${token:+--data-urlencode "csrf_token=$token"} \
		https://localhost/login) || return 1
	case "$status" in
		30[23]) ;;
		*) echo "login returned status $status, expected a redirect"; return 1 ;;
	esac
}

check_upload() {
	local page token result_url link
	python3 /srv/tests/make_fit.py "$WORK/upload-ride.fit" --records 90 || return 1
	rm -f "$WORK/cookies"
	if upload_needs_login; then
		log_in || return 1
	fi

	page=$(curl -sk -b "$WORK/cookies" -c "$WORK/cookies" https://localhost/upload) || return 1
	token=$(sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' <<<"$page" | head -n 1)
	result_url=$(curl -sk -L -o "$WORK/upload-response.html" -w '%{url_effective}' \
		-b "$WORK/cookies" -c "$WORK/cookies" --referer https://localhost/upload \
		-F "file=@$WORK/upload-ride.fit" ${token:+-F "csrf_token=$token"} \
		https://localhost/upload) || return 1

	# The page after the upload links the CSV once it is written; an app that
	# converts in the background shows it on a later load of the same page.
	for _ in $(seq 1 60); do
		link=$(grep -oE 'href="[^"]*upload-ride[^"]*\.csv[^"]*"' "$WORK/upload-response.html" \
			| head -n 1 | sed 's/^href="//; s/"$//; s/&amp;/\&/g')
		[ -n "$link" ] && break
		sleep 1
		curl -sk -b "$WORK/cookies" -o "$WORK/upload-response.html" "$result_url" || return 1
	done
	if [ -z "$link" ]; then
		echo "no link to upload-ride*.csv on $result_url after 60 s:"
		head -c 2000 "$WORK/upload-response.html"
		return 1
	fi
	case "$link" in
		http*) ;;
		*) link="https://localhost$link" ;;
	esac
	curl -skf -b "$WORK/cookies" -o "$WORK/upload-ride.csv" "$link" || return 1
	head -n 1 "$WORK/upload-ride.csv" | grep -q '^timestamp,' || return 1
	[ "$(($(wc -l <"$WORK/upload-ride.csv") - 1))" -eq 90 ] || {
		echo "upload-ride.csv has $(wc -l <"$WORK/upload-ride.csv") lines, expected 91"
		return 1
	}
}

check_https_headers() {
	local headers
	headers=$(curl -sk -D - -o /dev/null -H 'Accept-Encoding: zstd, gzip' https://localhost/login \
		https://localhost/upload 2>&1)
	expect_contains "$headers" '^[Ss]trict-[Tt]ransport-[Ss]ecurity: max-age=' &&
		expect_contains "$headers" '^[Cc]ontent-[Ee]ncoding: (zstd|gzip)'
}

check_http_redirect() {
	local result
	result=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' http://localhost/upload)
	expect_contains "$result" '^30[178] https://localhost/upload$'
}

# Upload MIB mebibytes of zeros and expect status 413.
check_upload_refused() {
	local mebibytes="$1" status
	head -c $((mebibytes * 1024 * 1024)) /dev/zero >"$WORK/too-large.fit"
	status=$(curl -sk -o /dev/null -w '%{http_code}' -F "file=@$WORK/too-large.fit" \
		https://localhost/upload)
	rm -f "$WORK/too-large.fit"
	case "$status" in
		413) ;;
		*) echo "a $mebibytes MiB upload got status $status, expected 413"; return 1 ;;
	esac
}

check_caddy_conffile_untouched() {
	local recorded actual
	recorded=$(dpkg-query -W -f='${Conffiles}\n' caddy | awk '$1 == "/etc/caddy/Caddyfile" {print $2}')
	actual=$(md5sum /etc/caddy/Caddyfile | cut -d' ' -f1)
	[ -n "$recorded" ] && [ "$recorded" = "$actual" ] || {
		echo "/etc/caddy/Caddyfile: md5 $actual, dpkg recorded $recorded"
		return 1
	}
}

# --- firewall -------------------------------------------------------------------

check_ufw_rules_added() {
	local added
	added=$(ufw show added)
	expect_contains "$(ufw status)" '^Status: inactive' &&
		expect_contains "$added" 'ufw allow 22/tcp' &&
		expect_contains "$added" 'ufw allow fit-converter'
}

reconfigure_with_firewall() {
	echo "fit-converter fit-converter/enable-firewall boolean true" | debconf-set-selections
	dpkg-reconfigure -fnoninteractive fit-converter 2>&1 | tee "$WORK/reconfigure.log" || return 1
	expect_contains "$(cat "$WORK/reconfigure.log")" 'ufw enabled'
}

check_ufw_active() {
	local status
	status=$(ufw status)
	expect_contains "$status" '^Status: active' &&
		expect_contains "$status" '^22/tcp +ALLOW' &&
		expect_contains "$status" '^fit-converter +ALLOW'
}

# --- reinstall, upgrade ---------------------------------------------------------

reinstall_package() {
	apt-get install -y --reinstall "$DEB" >"$WORK/reinstall.log" 2>&1 || {
		cat "$WORK/reinstall.log"
		return 1
	}
}

edit_settings() {
	echo "FIT_CONVERTER_LOG_LEVEL=DEBUG" >>/etc/fit-converter/app.env
	sed -i 's/^FIT_CONVERTER_MAX_UPLOAD_MB=50$/FIT_CONVERTER_MAX_UPLOAD_MB=40/' \
		/etc/fit-converter/caddy.env
}

upgrade_package() {
	apt-get install -y "$UPGRADE_DEB" >"$WORK/upgrade.log" 2>&1 || {
		cat "$WORK/upgrade.log"
		return 1
	}
	local expected installed
	expected=$(dpkg-deb -f "$UPGRADE_DEB" Version)
	installed=$(dpkg-query -W -f='${Version}' fit-converter)
	[ "$installed" = "$expected" ] || { echo "installed $installed, expected $expected"; return 1; }
}

check_settings_kept() {
	[ "$(secret_key)" = "$SECRET_BEFORE" ] || { echo "FLASK_SECRET_KEY changed"; return 1; }
	expect_contains "$(cat /etc/fit-converter/app.env)" '^FIT_CONVERTER_LOG_LEVEL=DEBUG$' &&
		expect_contains "$(cat /etc/fit-converter/caddy.env)" '^FIT_CONVERTER_MAX_UPLOAD_MB=40$'
}

check_data_kept() {
	test -s "$DATA/outbox/inbox-ride.csv" && test -e "$DATA/archive/inbox-ride.fit" &&
		test -s "$STATE/ledger.sqlite3"
}

check_restarted() {
	local unit="$1" before="$2" after
	wait_until 60 systemctl is-active --quiet "$unit" || return 1
	after=$(main_pid "$unit")
	[ "$after" != "$before" ] && [ "$after" != 0 ] || {
		echo "$unit main PID $before before, $after after"
		return 1
	}
}

# --- remove, purge --------------------------------------------------------------

remove_package() {
	apt-get remove -y fit-converter >"$WORK/remove.log" 2>&1 || {
		cat "$WORK/remove.log"
		return 1
	}
	cat "$WORK/remove.log"
}

check_removed_state() {
	! systemctl is-active --quiet fit-converter-app.service || { echo "app still active"; return 1; }
	! systemctl is-active --quiet fit-converter-watcher.service || { echo "watcher active"; return 1; }
	test -f /etc/fit-converter/app.env || { echo "app.env deleted by remove"; return 1; }
	test -d "$DATA/outbox" && test -d "$STATE" || { echo "data or state deleted"; return 1; }
	getent passwd fitconv >/dev/null || { echo "user deleted by remove"; return 1; }
}

check_caddy_restored() {
	local page
	wait_until 30 systemctl is-active --quiet caddy.service || return 1
	systemctl cat caddy.service | grep -q fit-converter && { echo "drop-in still loaded"; return 1; }
	page=$(curl -s http://localhost/) || { echo "Caddy's default site does not answer"; return 1; }
	expect_contains "$page" 'Caddy' || return 1
	[ "$(https_status /)" = 000 ] || { echo "https://localhost/ still answers"; return 1; }
}

check_ufw_after_remove() {
	local added
	added=$(ufw show added)
	if grep -q 'ufw allow fit-converter' <<<"$added"; then
		echo "HTTPS rule still present:"
		echo "$added"
		return 1
	fi
	expect_contains "$added" 'ufw allow 22/tcp'
}

purge_package() {
	apt-get purge -y fit-converter >"$WORK/purge.log" 2>&1 || {
		cat "$WORK/purge.log"
		return 1
	}
	cat "$WORK/purge.log"
	expect_contains "$(cat "$WORK/purge.log")" "kept your data in $DATA"
}

check_purged_state() {
	! test -e /etc/fit-converter || { echo "/etc/fit-converter left:"; ls -la /etc/fit-converter; return 1; }
	! test -e "$STATE" || { echo "$STATE left"; return 1; }
	! getent passwd fitconv >/dev/null || { echo "user fitconv left"; return 1; }
	! getent group fitconv >/dev/null || { echo "group fitconv left"; return 1; }
	test -s "$DATA/outbox/inbox-ride.csv" || { echo "data folder deleted by purge"; return 1; }
	[ -z "$(debconf-show fit-converter 2>/dev/null)" ] || { echo "debconf answers left"; return 1; }
	! test -e /opt/fit-converter || { echo "/opt/fit-converter left:"; find /opt/fit-converter | head; return 1; }
}

# --- run ------------------------------------------------------------------------

phase "install $(basename "$DEB")"
check "apt install (no network in the container)" install_package
check "user and group fitconv" check_user
check "folders, owners and modes" check_folders
check "env files and secret key" check_env_files
check "units enabled and active" check_units
check "units started once, no restarts" check_no_restarts
check "gunicorn on 127.0.0.1:8080 only" check_loopback_only
if [ "${QEMU_USER:-0}" = 1 ]; then
	skip "systemd-analyze security" "hardening relaxed for qemu-user (QEMU_USER=1)"
else
	check "systemd-analyze security <= 2.0" check_exposure
fi
check "caddy's own Caddyfile untouched" check_caddy_conffile_untouched
check "fit-converter --version" /usr/bin/fit-converter --version

phase "runtime"
check "inbox FIT file becomes CSV" check_inbox
check "app answers through Caddy" app_reachable
if upload_needs_login && ! has_set_password; then
	skip "upload through Caddy" "/upload asks for a login and 'fit-converter set-password' is missing"
else
	check "upload through Caddy over HTTPS" check_upload
fi
check "HSTS and compression" check_https_headers
check "http:// redirects to https://" check_http_redirect
check "51 MiB upload refused (limit 50)" check_upload_refused 51

phase "firewall"
if [ "${QEMU_USER:-0}" = 1 ]; then
	skip "ufw" "ufw cannot run under qemu-user (QEMU_USER=1)"
else
	check "ufw rules added, firewall off" check_ufw_rules_added
	check "dpkg-reconfigure enables ufw" reconfigure_with_firewall
	check "ufw active with SSH and HTTPS" check_ufw_active
	check "app reachable with ufw active" app_reachable
fi

# The doctor runs once the box is as an admin leaves it: ufw enabled, files converted.
if "$VENV/bin/python" -c 'import fit_converter.doctor' 2>/dev/null; then
	check "doctor" check_doctor
	check "doctor names a stopped watcher" doctor_names_fault \
		"fit-converter-watcher is inactive" \
		"systemctl stop fit-converter-watcher" \
		"systemctl start fit-converter-watcher"
	check "doctor names an outbox fitconv cannot write" doctor_names_fault \
		"fitconv cannot write to $DATA/outbox" \
		"chmod 0500 $DATA/outbox" \
		"chmod 2770 $DATA/outbox"
	check "doctor green again after the repairs" check_doctor
else
	skip "doctor" "module fit_converter.doctor is not in this build"
fi

phase "reinstall"
SECRET_BEFORE=$(secret_key)
check "apt install --reinstall" reinstall_package
check "units active after reinstall" check_units
check "secret key kept by reinstall" sh -c "[ \"\$(sed -n 's/^FLASK_SECRET_KEY=//p' /etc/fit-converter/app.env)\" = '$SECRET_BEFORE' ]"

phase "upgrade to $(basename "$UPGRADE_DEB")"
app_pid=$(main_pid fit-converter-app.service)
watcher_pid=$(main_pid fit-converter-watcher.service)
edit_settings
check "apt install newer version" upgrade_package
check "settings and admin edits kept" check_settings_kept
check "data and ledger kept" check_data_kept
check "app restarted" check_restarted fit-converter-app.service "$app_pid"
check "watcher restarted" check_restarted fit-converter-watcher.service "$watcher_pid"
check "app answers after upgrade" app_reachable
# caddy.env now sets 40 MiB and app.env 50, so only Caddy can refuse 45 MiB.
check "Caddy refuses 45 MiB (caddy.env 40)" check_upload_refused 45
if [ "${QEMU_USER:-0}" != 1 ]; then
	check "ufw still active after upgrade" check_ufw_active
fi

phase "remove"
check "apt remove" remove_package
check "services stopped, settings and data kept" check_removed_state
check "Caddy back on its own Caddyfile" check_caddy_restored
if [ "${QEMU_USER:-0}" != 1 ]; then
	check "HTTPS rule deleted, SSH rule kept" check_ufw_after_remove
fi

phase "purge"
check "apt purge" purge_package
check "settings, state, user gone; data kept" check_purged_state
check "caddy's own Caddyfile untouched" check_caddy_conffile_untouched

phase "done"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
