"""Time the policy gate: the repository's environments, then synthetic repositories of 10, 100 and
300 apps x 3 environments, split into render, conftest, checkov and the secret scan; how the cost
grows with the number of objects; the overhead of `meridian policy check` over conftest alone; and
`meridian policy check --all` against conftest and checkov run once each by hand over the same
rendered files (goal: at most 1.3x).

    make bench-policy                         (every size)
    python benchmarks/policy/bench.py --sizes 10 --repeat 1      (a quick look)
    python benchmarks/policy/bench.py --by-hand-only --repeat 1  (only `--all` against by hand)

Figures, not a test: nothing here asserts a time. Results go to stdout and, as JSON, to
build/bench/policy.json. Each step is timed alone (one checker at a time), then the whole gate
with its checkers side by side, as `meridian policy check --all` runs them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from meridian_core.layout import Repo, find_repo

from meridian import toolchain
from meridian.environments import known_environments, load_spec
from meridian.policy import checkov_scan, gate, manifests, rego
from meridian.render import render_environment
from meridian.render.apps import render_apps
from meridian.render.platform import render_platform

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
HARDENED = ROOT / "tests" / "policies" / "fixtures" / "hardened"


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time of `repeat` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def gate_split(repo: Repo, builds: dict[str, Path], repeat: int) -> dict[str, Any]:
    """Each checker alone, then all of them together, over already rendered folders."""
    row: dict[str, Any] = {}
    for checker in gate.CHECKERS:
        seconds, report = timed(lambda c=checker: gate.check_builds(repo, builds, checkers=[c]), repeat)
        row[checker] = seconds
    seconds, report = timed(lambda: gate.check_builds(repo, builds), repeat)
    row.update(gate=seconds, objects=report.objects, files=report.files, passed=report.passed)
    row["denied"] = sorted({f.rule for f in report.denied})
    return row


# --- the repository's own environments -------------------------------------------------------


def bench_environments(repo: Repo, repeat: int) -> list[dict[str, Any]]:
    rows = []
    for env in known_environments(repo):
        render_seconds, build = timed(lambda e=env: render_environment(repo, e), 1)
        rows.append({"name": env, "render": render_seconds, **gate_split(repo, {env: build}, repeat)})
        print_table("", rows[-1:])
    return rows


# --- synthetic repositories ------------------------------------------------------------------


def synthetic_repo(root: Path, apps: int) -> Repo:
    """A checkout with `apps` copies of the hardened app, one namespace each, in every environment.

    The policies and tools are the real ones (linked); the app base is the hardened reference
    Deployment, so every synthetic object passes and the gate does its full work.
    """
    (root / "Pulumi.yaml").write_text("name: bench\n")
    (root / "bin").symlink_to(ROOT / "bin")
    (root / "policies").symlink_to(ROOT / "policies")
    shutil.copytree(ROOT / ".github", root / ".github")
    base = root / "apps" / "sample" / "deploy"
    base.mkdir(parents=True)
    docs = [d for d in yaml.safe_load_all((HARDENED / "orders.yaml").read_text()) if d["kind"] != "Ingress"]
    for doc in docs:
        doc["metadata"].pop("namespace", None)
    (base / "app.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    (base / "kustomization.yaml").write_text("resources: [app.yaml]\n")
    for env in ("dev", "staging", "prod"):
        for i in range(apps):
            overlay = root / "environments" / env / "apps" / f"app-{i:03d}"
            overlay.mkdir(parents=True)
            (overlay / "kustomization.yaml").write_text(
                f"namespace: app-{i:03d}\nresources: [../../../../apps/sample/deploy]\n"
            )
    return Repo(root)


def synthetic_render(real: Repo, repo: Repo, env: str, apps: int) -> Path:
    """The real render steps on synthetic input: kustomize for the apps, the Pulumi program (with
    the environment's real spec, `apps` apps in it) for the platform."""
    spec = load_spec(real, env)
    app = next(iter(spec.apps.values()))
    spec = spec.model_copy(
        update={"apps": {f"app-{i:03d}": app.model_copy(update={"calls": []}) for i in range(apps)}}
    )
    out = repo.build_dir / env
    render_apps(repo, env, out / "apps")
    render_platform(spec, out / "platform")
    return out


def bench_synthetic(real: Repo, sizes: list[int], repeat: int) -> list[dict[str, Any]]:
    rows = []
    for apps in sizes:
        with tempfile.TemporaryDirectory(prefix=f"meridian-bench-{apps}-") as tmp:
            repo = synthetic_repo(Path(tmp), apps)
            builds: dict[str, Path] = {}
            began = time.perf_counter()
            for env in ("dev", "staging", "prod"):
                builds[env] = synthetic_render(real, repo, env, apps)
            render_seconds = time.perf_counter() - began
            row = {"name": f"{apps} apps x 3 envs", "apps": apps, "render": render_seconds}
            row.update(gate_split(repo, builds, repeat))
            row["overhead"] = overhead(repo, builds["prod"], repeat)
            rows.append(row)
            print_table("", [row])
    return rows


def overhead(repo: Repo, build: Path, repeat: int) -> dict[str, float]:
    """`meridian policy check` (conftest only) against the same conftest command run by hand."""
    files = manifests.collect([build])
    conftest = toolchain.require_tool(repo, "conftest")
    env = dict(toolchain.tool_env(repo), NO_COLOR="1")
    direct, _ = timed(
        lambda: subprocess.run(
            rego.conftest_command(repo, files, None, conftest), check=False, capture_output=True, env=env
        ),
        repeat,
    )
    api, _ = timed(lambda: gate.check_paths(repo, [build], checkers=["conftest"]), repeat)
    cli_command = [
        sys.executable,
        "-m",
        "meridian.cli",
        "policy",
        "check",
        "--skip",
        "checkov",
        "--skip",
        "secrets",
    ]
    cli, _ = timed(
        lambda: subprocess.run(
            [*cli_command, str(build)],
            check=False,
            capture_output=True,
            env=dict(env, MERIDIAN_ROOT=str(repo.root)),
            cwd=repo.root,
        ),
        repeat,
    )
    startup, _ = timed(
        lambda: subprocess.run(
            [sys.executable, "-m", "meridian.cli", "--version"], check=False, capture_output=True, env=env
        ),
        repeat,
    )
    return {
        "conftest_direct": direct,
        "api": api,
        "cli": cli,
        "cli_startup": startup,
        "api_ratio": api / direct,
        "cli_ratio": cli / direct,
        # What the command adds once the interpreter and the CLI's imports are up.
        "cli_after_startup_ratio": (cli - startup) / direct,
    }


# --- `policy check --all` against the tools run by hand ---------------------------------------------


def by_hand(repo: Repo, repeat: int) -> dict[str, float]:
    """`meridian policy check --all` (a process, as people run it: render, then every checker)
    against what someone would type instead over the files it renders: conftest once and checkov
    once, one after the other."""
    env = dict(toolchain.tool_env(repo), NO_COLOR="1", MERIDIAN_ROOT=str(repo.root))
    command = [sys.executable, "-m", "meridian.cli", "policy", "check", "--all", "--format", "json"]
    gate_all, proc = timed(
        lambda: subprocess.run(command, check=False, capture_output=True, env=env, cwd=repo.root, text=True),
        repeat,
    )
    # The render inside it (the Pulumi program through its mocks, kustomize): what the hand-run
    # tools get for free when they are given the rendered files.
    gate_render = float(json.loads(proc.stdout)["seconds"].get("render", 0.0))
    render, _ = timed(
        lambda: subprocess.run(
            [sys.executable, "-m", "meridian.cli", "render", "--all"],
            check=False,
            capture_output=True,
            env=env,
            cwd=repo.root,
        ),
        repeat,
    )
    files = manifests.collect([repo.build_dir / e for e in known_environments(repo)])
    conftest = toolchain.require_tool(repo, "conftest")
    checkov = toolchain.require_tool(repo, "checkov")
    conftest_s, _ = timed(
        lambda: subprocess.run(
            rego.conftest_command(repo, files, None, conftest), check=False, capture_output=True, env=env
        ),
        repeat,
    )
    checkov_s, _ = timed(
        lambda: subprocess.run(
            checkov_scan.checkov_command(repo, files, checkov),
            check=False,
            capture_output=True,
            env=checkov_scan.checkov_env(repo),
            cwd=repo.root,
        ),
        repeat,
    )
    # The gate's checkov also reads the apps' Dockerfiles and the workflows: the same inputs by hand.
    checkov_inputs_s, _ = timed(
        lambda: subprocess.run(
            checkov_scan.checkov_command(repo, [*files, *gate.repository_files(repo)], checkov),
            check=False,
            capture_output=True,
            env=checkov_scan.checkov_env(repo),
            cwd=repo.root,
        ),
        repeat,
    )
    # checkov as the gate ran it before one process served every environment: one process per
    # environment, side by side, the repository's own files with the first; the same inputs as above.
    per_env = [
        [*manifests.collect([repo.build_dir / e]), *(gate.repository_files(repo) if i == 0 else [])]
        for i, e in enumerate(known_environments(repo))
    ]
    checkov_per_env_s, _ = timed(lambda: _side_by_side(repo, checkov, per_env), repeat)
    tools = conftest_s + checkov_s
    return {
        "gate_all": gate_all,
        "render": render,
        "conftest": conftest_s,
        "checkov": checkov_s,
        "gate_render": gate_render,
        "ratio": gate_all / tools,
        "ratio_without_render": (gate_all - gate_render) / tools,
        "ratio_with_render": gate_all / (tools + render),
        "checkov_same_inputs": checkov_inputs_s,
        "ratio_same_inputs": (gate_all - gate_render) / (conftest_s + checkov_inputs_s),
        "checkov_per_environment": checkov_per_env_s,
        "checkov_one_vs_per_environment": checkov_inputs_s / checkov_per_env_s,
    }


def _side_by_side(repo: Repo, checkov: str, groups: list[list[Path]]) -> None:
    procs = [
        subprocess.Popen(
            checkov_scan.checkov_command(repo, files, checkov),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=checkov_scan.checkov_env(repo),
            cwd=repo.root,
        )
        for files in groups
    ]
    for proc in procs:
        proc.wait()


def print_by_hand(row: dict[str, float]) -> None:
    print("\n`meridian policy check --all` against conftest + checkov once each by hand (same files)")
    print(
        f"  policy check --all {row['gate_all']:.1f}s (its render {row['gate_render']:.1f}s); by hand: "
        f"conftest {row['conftest']:.1f}s + checkov {row['checkov']:.1f}s = "
        f"{row['conftest'] + row['checkov']:.1f}s\n"
        f"  x{row['ratio']:.2f} as run; x{row['ratio_without_render']:.2f} without its render "
        f"(goal <= 1.3); x{row['ratio_with_render']:.2f} with `meridian render --all` "
        f"({row['render']:.1f}s) added to the hand-run side\n"
        f"  with checkov by hand also given the Dockerfiles and workflows the gate checks "
        f"({row['checkov_same_inputs']:.1f}s): x{row['ratio_same_inputs']:.2f} without its render\n"
        f"  checkov over those inputs as one process (the gate now) {row['checkov_same_inputs']:.1f}s; "
        f"one process per environment side by side (the gate before) {row['checkov_per_environment']:.1f}s: "
        f"x{row['checkov_one_vs_per_environment']:.2f}"
    )


# --- report ------------------------------------------------------------------------------------


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    if title:
        print(f"\n{title}")
    columns = ("objects", "render", "conftest", "checkov", "secrets", "gate")
    print(f"{'':24} " + " ".join(f"{c:>8}" for c in columns) + "  verdict")
    for r in rows:
        verdict = "pass" if r["passed"] else f"DENIED {', '.join(r['denied'])}"
        print(
            f"{r['name']:24} {r['objects']:>8} {r['render']:>7.1f}s {r['conftest']:>7.1f}s "
            f"{r['checkov']:>7.1f}s {r['secrets']:>7.1f}s {r['gate']:>7.1f}s  {verdict}"
        )


def print_growth(rows: list[dict[str, Any]]) -> None:
    print("\nCost per object, and growth between sizes")
    for r in rows:
        n = max(r["objects"], 1)
        print(
            f"  {r['name']:22} conftest {1000 * r['conftest'] / n:6.2f} ms/object, "
            f"checkov {1000 * r['checkov'] / n:6.2f} ms/object, gate {1000 * r['gate'] / n:6.2f} ms/object"
        )
    for small, large in itertools.pairwise(rows):
        objects = large["objects"] / max(small["objects"], 1)
        print(
            f"  {small['apps']} -> {large['apps']} apps: objects x{objects:.1f}, "
            f"conftest x{large['conftest'] / small['conftest']:.1f}, "
            f"checkov x{large['checkov'] / small['checkov']:.1f}, "
            f"render x{large['render'] / small['render']:.1f}"
        )


def print_overhead(rows: list[dict[str, Any]]) -> None:
    print("\nOverhead of the gate over conftest alone (same files, conftest only, prod build)")
    for r in rows:
        o = r["overhead"]
        print(
            f"  {r['name']:22} conftest {o['conftest_direct']:.2f}s; gate API {o['api']:.2f}s "
            f"(x{o['api_ratio']:.2f}); `meridian policy check` {o['cli']:.2f}s (x{o['cli_ratio']:.2f}; "
            f"x{o['cli_after_startup_ratio']:.2f} without the {o['cli_startup']:.2f}s "
            "`meridian --version` takes)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="10,100,300", help="synthetic repository sizes, in apps")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median is kept)")
    parser.add_argument("--skip-environments", action="store_true", help="only the synthetic repositories")
    parser.add_argument(
        "--by-hand-only", action="store_true", help="only `policy check --all` against the tools by hand"
    )
    args = parser.parse_args()
    real = find_repo(ROOT)
    results: dict[str, Any] = {"cpus": os.cpu_count(), "repeat": args.repeat}
    results["by_hand"] = by_hand(real, args.repeat)
    print_by_hand(results["by_hand"])
    if args.by_hand_only:
        return 0
    if not args.skip_environments:
        results["environments"] = bench_environments(real, args.repeat)
        print_table("The repository's environments", results["environments"])
    sizes = [int(s) for s in args.sizes.split(",") if s]
    results["synthetic"] = bench_synthetic(real, sizes, args.repeat)
    print_table("Synthetic repositories (3 environments each, checked together)", results["synthetic"])
    print_growth(results["synthetic"])
    print_overhead(results["synthetic"])
    print_by_hand(results["by_hand"])
    out = real.build_dir / "bench" / "policy.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nresults written to {out.relative_to(real.root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
