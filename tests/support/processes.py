"""The services as real processes: start them, wait until grpc-health-probe says SERVING, stop them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEALTH_PROBE = REPO / "bin" / "grpc-health-probe"
# How long a service may take to start (connect, migrate, listen) on a loaded 2-core machine.
START_TIMEOUT_S = 90.0


class ServiceProcess:
    """One service process; its stdout (JSON logs) and stderr go to files in log_dir."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], log_dir: Path, grpc_port: int
    ) -> None:
        self.name = name
        self.grpc_port = grpc_port
        self.address = f"127.0.0.1:{grpc_port}"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = log_dir / f"{name}.stdout.log"
        self.stderr_path = log_dir / f"{name}.stderr.log"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(argv, env=env, stdout=out, stderr=err)

    def logs(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def errors(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def probe(self, service: str = "") -> subprocess.CompletedProcess[str]:
        """Run grpc-health-probe against the service, as a Kubernetes exec probe would."""
        argv = [str(HEALTH_PROBE), f"-addr={self.address}", "-connect-timeout=2s", "-rpc-timeout=2s"]
        if service:
            argv.append(f"-service={service}")
        return subprocess.run(argv, capture_output=True, text=True, check=False)

    def wait_serving(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode} while starting:\n"
                    f"{self.errors()}\n{self.logs()}"
                )
            if self.probe().returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not report SERVING within {START_TIMEOUT_S}s:\n{self.logs()}")

    def terminate(self) -> int:
        """SIGTERM, as Kubernetes sends, and the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=120)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


def base_env(values: dict[str, str]) -> dict[str, str]:
    """This process's environment without service settings that could leak in, plus values."""
    prefixes = ("DB_", "GRPC_", "INVENTORY_", "OTEL_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}
    env.update(values)
    return env


def start_inventory(
    env: dict[str, str], log_dir: Path, grpc_port: int, name: str = "inventory"
) -> ServiceProcess:
    argv = [sys.executable, "-m", "meridian_inventory"]
    return ServiceProcess(name, argv, base_env({**env, "GRPC_PORT": str(grpc_port)}), log_dir, grpc_port)


def start_orders(
    binary: Path, env: dict[str, str], log_dir: Path, grpc_port: int, name: str = "orders"
) -> ServiceProcess:
    return ServiceProcess(
        name, [str(binary)], base_env({**env, "GRPC_PORT": str(grpc_port)}), log_dir, grpc_port
    )


def build_orders(out_dir: Path) -> Path:
    """`go build` the orders command into out_dir."""
    binary = out_dir / "orders"
    subprocess.run(
        ["go", "build", "-o", str(binary), "./cmd/orders"],
        cwd=REPO / "apps" / "orders",
        check=True,
        capture_output=True,
    )
    return binary
