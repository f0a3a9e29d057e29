"""`python -m meridian_inventory` (or `meridian-inventory`): run the service until SIGTERM.

Exit codes: 0 after a graceful shutdown, 1 when the service could not start, 2 for bad configuration.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from meridian_inventory import APP_NAME, credentials, logs
from meridian_inventory.config import Config, ConfigError, load
from meridian_inventory.server import InventoryServer


async def run(config: Config) -> int:
    server = InventoryServer(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await server.start()
    except Exception:
        logs.get().exception("could not start")
        await server.stop()
        return 1
    await stop.wait()
    await server.stop()
    return 0


def main() -> int:
    try:
        config = load(os.environ)
        credentials.read(config.database.credentials_file)
    except ConfigError as error:
        print(f"{APP_NAME}: configuration error: {error}", file=sys.stderr)
        return 2
    except credentials.CredentialsError as error:
        print(f"{APP_NAME}: configuration error: DB_CREDENTIALS_FILE: {error}", file=sys.stderr)
        return 2
    logs.configure(config.log_level, APP_NAME, config.pod_name, config.pod_namespace)
    return asyncio.run(run(config))


if __name__ == "__main__":
    sys.exit(main())
