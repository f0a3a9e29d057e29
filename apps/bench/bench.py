"""Benchmark the two services beside bare same-language baselines. Prints figures; asserts nothing.

Run with `make bench-apps`. For each target it measures, with ghz from bin/ as the one load
generator, the maximum QPS (unbounded request rate) and p50/p99 latency of:

  inventory.GetItem      the Python service, the same with MIDDLEWARE=off, a bare grpc.aio server
  orders.GetOrder        the Go service, the same with MIDDLEWARE=off, a bare grpc-go server
  orders.CreateOrder     the Go service calling inventory, both with MIDDLEWARE=off, a bare server

and, for each service with its middleware on, p50/p99 with one call in flight and at half of the
maximum QPS (ghz --rps); then counts the TCP connections orders opens to inventory over 10,000
CreateOrder calls.

Servers (and PostgreSQL) are pinned to one CPU and ghz to another with taskset, so the load
generator does not steal the servers' cycles. On a machine with one CPU nothing is pinned.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # the PostgreSQL and process helpers the tests use

import grpc  # noqa: E402
import psycopg  # noqa: E402
from support import postgres, processes  # noqa: E402
from support.gen import orders_pb2, orders_pb2_grpc  # noqa: E402
from support.ports import free_port  # noqa: E402

GHZ = REPO / "bin" / "ghz"
PROTO = REPO / "apps" / "proto"
INVENTORY_PROTO = "meridian/inventory/v1/inventory.proto"
ORDERS_PROTO = "meridian/orders/v1/orders.proto"
STOCK = 10**12  # enough that CreateOrder never runs out during a run


@dataclass
class Result:
    qps: float
    p50_ms: float
    p99_ms: float
    errors: int


@dataclass(frozen=True)
class Target:
    """One method under load: its proto file, full method name and request data (ghz templates)."""

    title: str
    proto: str
    call: str
    data: str


GET_ITEM = Target(
    "inventory.GetItem", INVENTORY_PROTO, "meridian.inventory.v1.InventoryService.GetItem", '{"sku":"SKU-1"}'
)
CREATE_ORDER = Target(
    "orders.CreateOrder",
    ORDERS_PROTO,
    "meridian.orders.v1.OrdersService.CreateOrder",
    '{"request_id":"{{newUUID}}","customer_id":"bench","sku":"SKU-1","quantity":1}',
)
BASELINE_ORDER_ID = "0b9d6c1e-3f1a-4d2b-9c55-2f7a8e4b1d00"


def get_order(order_id: str) -> Target:
    data = json.dumps({"id": order_id})
    return Target("orders.GetOrder", ORDERS_PROTO, "meridian.orders.v1.OrdersService.GetOrder", data)


def cpu_layout() -> tuple[list[str], list[str]]:
    """taskset prefixes for (servers, load generator)."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or shutil.which("taskset") is None:
        return [], []
    return ["taskset", "-c", str(cpus[0])], ["taskset", "-c", ",".join(str(c) for c in cpus[1:])]


def ghz(
    load_cpus: list[str],
    address: str,
    target: Target,
    *,
    seconds: float = 0,
    total: int = 0,
    concurrency: int = 32,
    rps: int = 0,
) -> Result:
    argv = [
        *load_cpus,
        str(GHZ),
        "--insecure",
        f"--proto={PROTO / target.proto}",
        f"--import-paths={PROTO}",
        f"--call={target.call}",
        f"--data={target.data}",
        f"--concurrency={concurrency}",
        f"--rps={rps}",  # 0: as fast as the server answers
        "--connections=1",
        "--format=json",
    ]
    argv += [f"--total={total}"] if total else [f"--duration={seconds}s", "--total=0"]
    out = subprocess.run([*argv, address], capture_output=True, text=True, check=True).stdout
    report = json.loads(out)
    latencies = {int(p["percentage"]): p["latency"] / 1e6 for p in report.get("latencyDistribution") or []}
    codes = report.get("statusCodeDistribution") or {}
    failed = sum(count for code, count in codes.items() if code != "OK")
    # A timed run ends by closing its connection under the calls still in flight (at most one per
    # worker); ghz reports those as "transport is closing" or Canceled. They are not server errors.
    cut = sum(
        count
        for message, count in (report.get("errorDistribution") or {}).items()
        if "transport is closing" in message or "Canceled" in message
    )
    errors = failed - cut if seconds else failed
    return Result(report["rps"], latencies.get(50, float("nan")), latencies.get(99, float("nan")), errors)


def measure(
    load_cpus: list[str], address: str, target: Target, seconds: float, *, concurrency: int = 32, rps: int = 0
) -> Result:
    ghz(load_cpus, address, target, seconds=1)  # warm-up: connections, pools and caches fill
    return ghz(load_cpus, address, target, seconds=seconds, concurrency=concurrency, rps=rps)


class Bench:
    def __init__(
        self, pg: postgres.PostgresServer, work: Path, server_cpus: list[str], orders_bin: Path
    ) -> None:
        self.pg = pg
        self.work = work
        self.server_cpus = server_cpus
        self.orders_bin = orders_bin
        self.running: list[processes.ServiceProcess] = []

    def _pin(self, process: processes.ServiceProcess) -> None:
        if self.server_cpus:
            subprocess.run(
                ["taskset", "-a", "-p", "-c", self.server_cpus[-1], str(process.process.pid)],
                check=True,
                capture_output=True,
            )

    def inventory(self, db: postgres.Database, middleware: str) -> processes.ServiceProcess:
        env = {
            **db.service_env(),
            "METRICS_PORT": str(free_port()),
            "MIDDLEWARE": middleware,
            "LOG_LEVEL": "warning",
            "DB_POOL_MAX": "20",
        }
        process = processes.start_inventory(
            env, self.work / "logs", free_port(), name=f"inventory-{middleware}"
        )
        self._pin(process)
        self.running.append(process)
        process.wait_serving()
        return process

    def orders(
        self, db: postgres.Database, inventory: processes.ServiceProcess, middleware: str, **extra: str
    ) -> processes.ServiceProcess:
        env = {
            **db.service_env(),
            "METRICS_PORT": str(free_port()),
            "MIDDLEWARE": middleware,
            "LOG_LEVEL": "warning",
            "DB_POOL_MAX": "20",
            "INVENTORY_TARGET": f"ipv4:{inventory.address}",
            # Pinned after it starts, so Go would size its scheduler for every CPU; the baseline is
            # started pinned and gets one.
            **({"GOMAXPROCS": "1"} if self.server_cpus else {}),
            **extra,
        }
        process = processes.start_orders(
            self.orders_bin, env, self.work / "logs", free_port(), name=f"orders-{middleware}"
        )
        self._pin(process)
        self.running.append(process)
        process.wait_serving()
        return process

    def baseline(self, argv: list[str]) -> tuple[subprocess.Popen[bytes], str]:
        port = free_port()
        env = processes.base_env({"GRPC_PORT": str(port)})
        proc = subprocess.Popen([*self.server_cpus, *argv], env=env)
        address = f"127.0.0.1:{port}"
        channel = grpc.insecure_channel(address)
        grpc.channel_ready_future(channel).result(timeout=60)
        channel.close()
        return proc, address

    def stop_all(self) -> None:
        for process in self.running:
            process.terminate()
        self.running.clear()


def seed(db: postgres.Database) -> None:
    with psycopg.connect(db.conninfo(), autocommit=True) as conn:
        conn.execute("INSERT INTO items (sku, name, available) VALUES ('SKU-1', 'Widget', %s)", (STOCK,))


def create_order(address: str) -> str:
    with grpc.insecure_channel(address) as channel:
        stub = orders_pb2_grpc.OrdersServiceStub(channel)
        request = orders_pb2.CreateOrderRequest(
            request_id=str(uuid.uuid4()), customer_id="c", sku="SKU-1", quantity=1
        )
        return str(stub.CreateOrder(request, timeout=30).order.id)


def inventory_connections(orders_pid: int, inventory_port: int) -> set[str]:
    out = subprocess.run(
        ["ss", "-Htnp", "state", "established", f"dport = :{inventory_port}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return {line.split()[2] for line in out.splitlines() if f"pid={orders_pid}," in line}


def count_connections(bench: Bench, load_cpus: list[str], calls: int) -> tuple[int, int]:
    """Distinct orders→inventory connections seen while `calls` CreateOrders run, and open at the end."""
    inv_db, ord_db = bench.pg.create_database("inv", bench.work), bench.pg.create_database("ord", bench.work)
    inventory = bench.inventory(inv_db, "on")
    seed(inv_db)
    orders = bench.orders(ord_db, inventory, "on")
    seen: set[str] = set()
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            seen.update(inventory_connections(orders.process.pid, inventory.grpc_port))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = ghz(load_cpus, orders.address, CREATE_ORDER, total=calls)
    finally:
        done.set()
        sampler.join()
    at_end = inventory_connections(orders.process.pid, inventory.grpc_port)
    seen |= at_end
    bench.stop_all()
    if result.errors:
        print(f"  note: {result.errors} of the {calls} calls failed")
    return len(seen), len(at_end)


def fmt(result: Result) -> str:
    return f"{result.qps:9.0f} qps  p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms"


Rows = dict[str, dict[str, Result]]
ONE_IN_FLIGHT = "one call in flight"
HALF_LOAD = "at half max QPS"


def measure_services(bench: Bench, load_cpus: list[str], seconds: float, rows: Rows) -> None:
    """The real services, with middleware on and then off."""
    for middleware, column in (("on", "service"), ("off", "middleware off")):
        inv_db = bench.pg.create_database("inv", bench.work)
        ord_db = bench.pg.create_database("ord", bench.work)
        inventory = bench.inventory(inv_db, middleware)
        seed(inv_db)
        orders = bench.orders(ord_db, inventory, middleware)
        order_id = create_order(orders.address)
        for target, address in (
            (GET_ITEM, inventory.address),
            (get_order(order_id), orders.address),
            (CREATE_ORDER, orders.address),
        ):
            results = rows.setdefault(target.title, {})
            results[column] = measure(load_cpus, address, target, seconds)
            if middleware == "on":
                results[ONE_IN_FLIGHT] = measure(load_cpus, address, target, seconds, concurrency=1)
                half = max(1, int(results[column].qps / 2))
                results[HALF_LOAD] = measure(load_cpus, address, target, seconds, rps=half)
        bench.stop_all()


def measure_baselines(
    bench: Bench, load_cpus: list[str], seconds: float, baseline_bin: Path, rows: Rows
) -> None:
    """The canned-reply servers: grpc.aio for inventory's method, grpc-go for orders'."""
    python_server = [sys.executable, str(Path(__file__).with_name("baseline_inventory.py"))]
    for argv, targets in (
        (python_server, [GET_ITEM]),
        ([str(baseline_bin)], [get_order(BASELINE_ORDER_ID), CREATE_ORDER]),
    ):
        proc, address = bench.baseline(argv)
        try:
            for target in targets:
                rows[target.title]["baseline"] = measure(load_cpus, address, target, seconds)
        finally:
            proc.terminate()
            proc.wait()


def report(rows: Rows, calls: int, seen: int, open_at_end: int) -> None:
    print()
    for target, results in rows.items():
        service, off, base = results["service"], results["middleware off"], results["baseline"]
        print(target)
        print(f"  service         {fmt(service)}  errors {service.errors}")
        print(f"  middleware off  {fmt(off)}  errors {off.errors}")
        print(f"  baseline        {fmt(base)}  errors {base.errors}")
        print(f"  1 in flight     {fmt(results[ONE_IN_FLIGHT])}")
        print(f"  half max QPS    {fmt(results[HALF_LOAD])}")
        print(
            f"  ratios: service/baseline QPS {service.qps / base.qps:.2f}, "
            f"middleware on/off QPS {service.qps / off.qps:.2f}, "
            f"p99 service/baseline {service.p99_ms / base.p99_ms:.1f}x"
        )
    print()
    print(
        f"orders->inventory TCP connections over {calls} CreateOrder calls: {seen} distinct, "
        f"{open_at_end} open at the end (INVENTORY_POOL_SIZE=1, one inventory replica)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured duration of each run")
    parser.add_argument(
        "--calls", type=int, default=10_000, help="CreateOrder calls for the connection count"
    )
    args = parser.parse_args()
    bin_dir = postgres.find_bin()
    needs = {
        "bin/ghz": GHZ.exists(),
        "go": shutil.which("go") is not None,
        "PostgreSQL": bin_dir is not None,
        "bin/grpc-health-probe": processes.HEALTH_PROBE.exists(),
    }
    if bin_dir is None or not all(needs.values()):
        missing = ", ".join(name for name, ok in needs.items() if not ok)
        print(f"bench: missing {missing}; run `make tools` first", file=sys.stderr)
        return 1
    server_cpus, load_cpus = cpu_layout()
    where = f"CPU {server_cpus[-1]}" if server_cpus else "any CPU"
    print(f"servers and PostgreSQL on {where}, ghz on the others; {args.seconds:g}s per run, 32 workers")
    rows: Rows = {}
    with tempfile.TemporaryDirectory(prefix="meridian-bench-") as scratch, postgres.running(bin_dir) as pg:
        work = Path(scratch)
        if server_cpus:
            postmaster = (pg.data_dir / "postmaster.pid").read_text().split()[0]
            subprocess.run(
                ["taskset", "-a", "-p", "-c", server_cpus[-1], postmaster], check=True, capture_output=True
            )
        orders_bin = processes.build_orders(work)
        baseline_bin = work / "baseline"
        subprocess.run(
            ["go", "build", "-o", str(baseline_bin), "./cmd/baseline"],
            cwd=REPO / "apps" / "orders",
            check=True,
        )
        bench = Bench(pg, work, server_cpus, orders_bin)
        try:
            measure_services(bench, load_cpus, args.seconds, rows)
            measure_baselines(bench, load_cpus, args.seconds, baseline_bin, rows)
            seen, open_at_end = count_connections(bench, load_cpus, args.calls)
        finally:
            bench.stop_all()
    report(rows, args.calls, seen, open_at_end)
    return 0


if __name__ == "__main__":
    sys.exit(main())
