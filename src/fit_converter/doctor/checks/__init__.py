"""Every check doctor runs, in report order."""

from __future__ import annotations

from fit_converter.doctor.checks import (
    configuration,
    conversion,
    folders,
    network,
    services,
    storage,
    web,
)
from fit_converter.doctor.framework import Check


def all_checks() -> list[Check]:
    """Return the checks in the order of their groups."""
    return [
        Check(
            "configuration.variables", "configuration", "variables", configuration.check_variables
        ),
        Check(
            "configuration.secret_key",
            "configuration",
            "secret key",
            configuration.check_secret_key,
        ),
        Check(
            "configuration.password",
            "configuration",
            "owner password",
            configuration.check_owner_password,
        ),
        *folders.all_folder_checks(),
        Check("folders.file_system", "folders", "inbox file system", folders.check_file_system),
        Check("folders.free_space", "folders", "free space", storage.check_free_space),
        Check("folders.inotify", "folders", "inotify limits", storage.check_inotify),
        Check("folders.backlog", "folders", "backlog", storage.check_backlog),
        *services.unit_checks(),
        Check("services.heartbeat", "services", "watcher heartbeat", services.check_heartbeat),
        Check(
            "services.last_conversion",
            "services",
            "last conversion",
            services.check_last_conversion,
        ),
        Check("web.readyz", "web", "app readiness", web.check_readyz),
        Check("web.listen", "web", "app address", web.check_listen),
        Check("web.https", "web", "HTTPS (Caddy)", web.check_https),
        Check("network.firewall", "network", "firewall (ufw)", network.check_firewall),
        Check("network.clock", "network", "clock", network.check_clock),
        Check("conversion.venv_python", "conversion", "venv Python", conversion.check_venv_python),
        Check("conversion.selftest", "conversion", "self-test", conversion.check_selftest),
        Check("conversion.versions", "conversion", "versions", conversion.check_versions),
    ]
