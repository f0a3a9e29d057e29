"""`make bench-preview`: how long `pulumi preview` of the platform takes, split into a fixed start-up
cost and a marginal cost per resource.

One run on this machine: a local control plane, then the real engine (bin/pulumi) previews
  - the three environments of the repository (dev on the local cluster; staging and prod pointed at
    it as their "existing" cluster, their charts not marked required since none can be fetched), and
  - synthetic environments with 2, 8, 16 and 32 apps (dev's spec, apps copied), whose resource counts
    differ while everything else stays equal.
A least-squares line through the synthetic runs gives the fixed cost (intercept) and the cost per
resource (slope). Goals: every environment under 60 s; at most 50 ms per resource.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
APP_COUNTS = (2, 8, 16, 32)
GOAL_SECONDS = 60.0
GOAL_MS_PER_RESOURCE = 50.0


def main() -> int:
    sys.path.insert(0, str(ROOT / "tests"))
    from support.local_cluster import free_port_base  # noqa: PLC0415 - a test helper, loaded on demand

    with tempfile.TemporaryDirectory(prefix="meridian-bench-preview-") as tmp:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MERIDIAN_", "PULUMI_"))}
        env |= {
            "MERIDIAN_CLUSTER_DIR": str(work / "cluster"),
            "MERIDIAN_CLUSTER_PORT_BASE": str(free_port_base()),
            "PATH": f"{ROOT / 'bin'}:{ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}",
            "PULUMI_BACKEND_URL": f"file://{work / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": "bench",
            "PULUMI_SKIP_UPDATE_CHECK": "1",
        }
        (work / "state").mkdir()
        project = make_project(work / "project")
        run([sys.executable, "-m", "meridian.cli", "cluster", "up", "--local"], cwd=ROOT, env=env)
        try:
            kubeconfig = (work / "cluster" / "kubeconfig").read_text()
            rows = [preview(project, name, env, kubeconfig) for name in ("dev", "staging", "prod")]
            synthetic = [preview(project, f"bench-{n}", env, kubeconfig) for n in APP_COUNTS]
        finally:
            run(
                [sys.executable, "-m", "meridian.cli", "cluster", "down", "--local", "--purge"],
                cwd=ROOT,
                env=env,
            )
    report(rows, synthetic)
    return 0


def make_project(root: Path) -> Path:
    """A Pulumi project of its own (so its stacks and environments are the benchmark's), running the
    repository's program from the repository's virtualenv."""
    (root / "infra").mkdir(parents=True)
    shutil.copy(ROOT / "infra" / "__main__.py", root / "infra" / "__main__.py")
    (root / "Pulumi.yaml").write_text(
        "name: meridian\n"
        f"runtime:\n  name: python\n  options:\n    virtualenv: {ROOT / '.venv'}\n"
        "main: infra/\n"
    )
    shutil.copytree(ROOT / "environments", root / "environments")
    yaml = YAML()
    for shared in ("staging", "prod"):
        # Their charts are required there; this machine cannot fetch charts, and the preview
        # is measured, not the charts' availability.
        path = root / "environments" / shared / "platform.yaml"
        spec = yaml.load(path.read_text())
        spec.pop("charts", None)
        with path.open("w") as handle:
            yaml.dump(spec, handle)
    template = yaml.load((ROOT / "environments" / "dev" / "platform.yaml").read_text())
    for count in APP_COUNTS:
        spec = yaml.load((ROOT / "environments" / "dev" / "platform.yaml").read_text())
        spec["name"] = f"bench-{count}"
        spec["cluster"]["type"] = "existing"
        del spec["cluster"]["workers"]
        spec["apps"] = {f"app{i:02d}": dict(template["apps"]["orders"], calls=[]) for i in range(count)}
        folder = root / "environments" / f"bench-{count}"
        folder.mkdir()
        with (folder / "platform.yaml").open("w") as handle:
            yaml.dump(spec, handle)
    return root


def preview(project: Path, stack: str, env: dict[str, str], kubeconfig: str) -> dict[str, float | str | int]:
    def pulumi(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run(
            ["pulumi", *args, "--stack", stack, "--non-interactive"], cwd=project, env=env, stdin=stdin
        )

    run(["pulumi", "stack", "init", stack, "--non-interactive"], cwd=project, env=env)
    if stack != "dev":
        pulumi("config", "set", "--secret", "meridian:kubeconfig", stdin=kubeconfig)
        pulumi("config", "set", "--secret", "meridian:vaultSeal", stdin='key_name = "bench"\n')
    pulumi("preview", "--json")  # a first, unmeasured run warms the file caches and bytecode
    started = time.perf_counter()
    result = pulumi("preview", "--json")
    seconds = time.perf_counter() - started
    steps = json.loads(result.stdout).get("steps", [])
    return {"stack": stack, "seconds": seconds, "resources": len(steps)}


def run(
    command: list[str], *, cwd: Path, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def report(rows: list[dict[str, float | str | int]], synthetic: list[dict[str, float | str | int]]) -> None:
    xs = [float(r["resources"]) for r in synthetic]
    ys = [float(r["seconds"]) for r in synthetic]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mean_x) ** 2 for x in xs
    )
    fixed = mean_y - slope * mean_x
    print("pulumi preview, one run per stack (a warm-up run before each, not counted)")
    print(f"{'stack':<10} {'resources':>9} {'seconds':>8} {'x fixed cost':>13}  goal <= {GOAL_SECONDS:.0f}s")
    for row in [*rows, *synthetic]:
        seconds = float(row["seconds"])
        verdict = "ok" if seconds <= GOAL_SECONDS else "OVER"
        print(
            f"{row['stack']!s:<10} {row['resources']:>9} {seconds:>8.1f} {seconds / fixed:>12.2f}x  {verdict}"
        )
    per_resource_ms = slope * 1000
    print(f"fixed start-up cost (intercept): {fixed:.1f} s")
    verdict = "ok" if per_resource_ms <= GOAL_MS_PER_RESOURCE else "OVER"
    print(
        f"marginal cost per resource (slope): {per_resource_ms:.1f} ms"
        f"  goal <= {GOAL_MS_PER_RESOURCE:.0f} ms  {verdict}"
    )


if __name__ == "__main__":
    sys.exit(main())
