"""From a request to what would change: which apps move into which environment, the exact bytes
each commit writes, and what the promotion rules say of it.

A Unit is one commit's worth (an app, or every app of a bundle that moves); a request the rules or
the repository answer without a commit becomes an Outcome here already (nothing to do, skipped,
refused for want of bytes to restore). `judge` runs the rules: once on the plan, and again by
`land` with the policy gate's verdict.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from meridian_core.errors import InputError
from meridian_core.snapshot import version_path

from meridian.promote import supply_chain, texts
from meridian.promote.clock import iso
from meridian.promote.context import Context
from meridian.promote.facts import GateVerdict, Overrides, document
from meridian.promote.rules import POLICY_DIR, Denial, evaluate
from meridian.promote.state import Hold, holds_path, holds_text, read_holds, read_lock
from meridian.promote.units import Move, Outcome, Status, Unit
from meridian.promote.versions import Pin, valid_digest, valid_tag, write_pin


@dataclass(frozen=True)
class Request:
    to: str
    targets: tuple[str, ...] = ()  # apps or bundles
    all_changed: bool = False
    version: str | None = None
    digest: str | None = None
    source: str | None = None  # --from: only ever the previous environment, or the rules refuse
    overrides: Overrides = field(default_factory=Overrides)


@dataclass(frozen=True)
class RollbackRequest:
    app: str
    env: str
    version: str | None = None  # default: what ran before the current version
    reason: str = ""
    overrides: Overrides = field(default_factory=Overrides)


def promotion(ctx: Context, request: Request) -> list[Unit | Outcome]:
    """The units a promotion request makes, and the answers it needs no commit for."""
    to = ctx.config.require_environment(request.to)
    if request.source is not None:
        ctx.config.require_environment(request.source)
    for flag, value, check in (
        ("--version", request.version, valid_tag),
        ("--digest", request.digest, valid_digest),
    ):
        if value is not None and not check(value):
            raise InputError(
                f"{flag} {value!r} is not valid", hint="a tag like 1.2.3; a digest like sha256:<64 hex>"
            )
    return _promotion_units(ctx, request, to)


def rollback(ctx: Context, request: RollbackRequest) -> Unit | Outcome:
    """The rollback's unit, or the answer when there is nothing to do or no bytes to restore."""
    app, env = request.app, ctx.config.require_environment(request.env)
    states = ctx.app_states(app)
    if env not in states:
        raise InputError(
            f"{app} has no version in {env}", hint=f"apps in {env}: {', '.join(ctx.snapshot.apps(env))}"
        )
    current = states[env].pin
    if request.version == current.tag:
        return Outcome(app, env, Status.NOTHING, f"{env} already runs {app} {current.tag}")
    # The entries of the current run come first; what follows them is what ran before.
    history = states[env].history
    run = next((i for i, e in enumerate(history) if not current.same_build(e.pin)), len(history))
    earlier = [e for e in history[run:] if e.pin is not None and e.raw is not None]
    target = next((e for e in earlier if request.version in (None, e.pin.tag if e.pin else None)), None)
    reason = request.reason or f"rolled back from {current.tag}"
    if target is None and request.version is None:
        raise InputError(
            f"git history holds no earlier version of {app} in {env} than {current.tag}",
            hint="name one with --to VERSION, or promote a fix forward",
        )
    if target is None or target.pin is None or target.raw is None:
        # No bytes to restore: the rules say why (MER-PROMO-009), as for any other refusal.
        new = Pin(current.repository, request.version or "", None, request.version)
        unit = Unit(app, env, "rollback", "", [Move(app, env, current, new, b"", states)], reason=reason)
        denials = judge(ctx, [unit])[0]
        return Outcome(app, env, Status.REFUSED, refusal(unit, denials), unit=unit, denials=denials)
    holds = read_holds(ctx.snapshot, env)
    hold = Hold(version=target.pin.tag, reason=reason, by=ctx.identity, since=iso(ctx.options.now))
    move = Move(app, env, current, target.pin, target.raw, states, hold=holds.get(app))
    unit = Unit(app, env, "rollback", "", [move], reason=reason)
    unit.files = {move.path: target.raw, holds_path(env): _encode(holds_text(env, {**holds, app: hold}))}
    return unit


@dataclass(frozen=True)
class _Group:
    name: str  # the app, or its bundle
    bundle: str | None
    apps: tuple[str, ...]


def _promotion_units(ctx: Context, request: Request, to: str) -> list[Unit | Outcome]:
    source = request.source or ctx.config.previous(to) or ""
    holds = read_holds(ctx.snapshot, to)
    planned: list[Unit | Outcome] = []
    for group in _groups(ctx, request, to, source):
        apps = group.apps
        if request.all_changed:
            # An automatic promotion leaves a held app alone; a bundle with one moves not at all.
            held = [app for app in apps if app in holds]
            planned += [
                Outcome(
                    app,
                    to,
                    Status.SKIPPED,
                    f"{app} is held at {holds[app].version} in {to}: {holds[app].reason}",
                )
                for app in held
            ]
            if held and group.bundle:
                continue
            apps = tuple(app for app in apps if app not in held)
        moves = [m for app in apps if (m := _move(ctx, request, app, source, holds.get(app))) is not None]
        if not moves and apps:
            runs = ", ".join(f"{app} {ctx.app_states(app)[to].pin.tag}" for app in apps)
            planned.append(Outcome(group.name, to, Status.NOTHING, f"{to} already runs {runs}"))
        if moves:
            planned.append(_unit(group, to, source, moves, holds))
    return planned


def _groups(ctx: Context, request: Request, to: str, source: str) -> list[_Group]:
    if not request.all_changed:
        if not request.targets:
            raise InputError("name the app (or bundle) to promote, or pass --all-changed")
        groups = [_group(ctx, name, to) for name in request.targets]
        if request.version is not None and any(g.bundle for g in groups):
            raise InputError(
                "a bundle moves what the previous environment runs of each app; --version would be ambiguous"
            )
        return list({g.name: g for g in groups}.values())
    if request.targets or request.version or request.digest:
        raise InputError("--all-changed promotes what the previous environment runs; name no app or version")
    if not source:
        raise InputError(f"{to} is the first environment; --all-changed has nothing to compare it with")
    if request.overrides.release_hold:
        raise InputError("--release-hold releases one app's hold; name the app instead of --all-changed")
    changed: dict[str, _Group] = {}
    for app in ctx.snapshot.apps(to):
        states = ctx.app_states(app)
        if source in states and not states[source].pin.same_build(states[to].pin):
            group = _group(ctx, app, to)
            changed.setdefault(group.name, group)
    return list(changed.values())


def _group(ctx: Context, name: str, to: str) -> _Group:
    """An app alone, or the bundle it belongs to: a bundle's apps move together."""
    config, apps_here = ctx.config, ctx.snapshot.apps(to)
    bundle = name if name in config.bundles else config.bundle_of(name)
    if bundle is None and name not in apps_here:
        known = ", ".join(apps_here + sorted(config.bundles))
        raise InputError(f"{name} is neither an app nor a bundle of {to}", hint=f"known: {known}")
    if bundle is None:
        return _Group(name, None, (name,))
    if bundle != name:
        ctx.options.say(f"{name} belongs to bundle {bundle}: the whole bundle moves together")
    return _Group(bundle, bundle, tuple(app for app in config.bundles[bundle] if app in apps_here))


def _move(ctx: Context, request: Request, app: str, source: str, hold: Hold | None) -> Move | None:
    """The app's move into `request.to`, or None when it already runs that build."""
    states = ctx.app_states(app)
    to = request.to
    here = states[to].pin
    up = states[source].pin if source in states else None
    if source and up is None and request.version is None:
        raise InputError(f"{app} has no version in {source}, so nothing of it moves to {to}")
    if not source and request.version is None:
        raise InputError(
            f"{to} is the first environment: say which build goes in",
            hint=f"meridian promote {app} --to {to} --version TAG --digest sha256:…",
        )
    if up is not None and request.version in (None, up.tag):
        new = Pin(up.repository, up.tag, request.digest or up.digest, up.tag)
    else:  # the first environment, or a version upstream does not run (which the rules refuse)
        version = request.version or ""
        new = Pin(here.repository, version, request.digest, version)
    if new.same_build(here) and here.label == new.tag:
        return None
    data = write_pin(states[to].text, app, new, ctx.snapshot.describe(version_path(to, app))).encode()
    released = hold is not None and request.overrides.release_hold
    return Move(app, to, here, new, data, states, hold=hold, released_hold=released)


def _unit(group: _Group, to: str, source: str, moves: list[Move], holds: dict[str, Hold]) -> Unit:
    unit = Unit(group.name, to, "promotion", source, moves, bundle=group.bundle)
    unit.files = {m.path: m.data for m in moves}
    released = {m.app for m in moves if m.released_hold}
    if released:
        remaining = {app: hold for app, hold in holds.items() if app not in released}
        unit.files[holds_path(to)] = _encode(holds_text(to, remaining))
    return unit


def _documents(ctx: Context, unit: Unit, verdict: GateVerdict | None) -> list[dict[str, Any]]:
    lock = read_lock(ctx.snapshot, unit.env)
    return [
        document(
            config=ctx.config,
            kind=unit.kind,
            app=move.app,
            to=unit.env,
            source=unit.source,
            new=move.new,
            states=move.states,
            lock=lock,
            hold=move.hold,
            overrides=replace(ctx.overrides, release_hold=move.released_hold or ctx.overrides.release_hold),
            now=ctx.options.now,
            gate=verdict,
        )
        for move in unit.moves
    ]


def judge(ctx: Context, units: Sequence[Unit], verdict: GateVerdict | None = None) -> list[list[Denial]]:
    """The denials of each unit (all its apps together), by the rules committed at HEAD."""
    docs = [_documents(ctx, unit, verdict) for unit in units]
    with tempfile.TemporaryDirectory(prefix="meridian-rules-") as tmp:
        policies = ctx.snapshot.export(POLICY_DIR, Path(tmp) / "policies")
        if not any(policies.rglob("*.rego")):
            raise InputError(
                f"{POLICY_DIR} holds no rules at {ctx.snapshot.label}",
                hint="the promotion rules must be committed with the repository",
            )
        results = iter(evaluate(ctx.repo, policies, [d for unit_docs in docs for d in unit_docs]))
    out = []
    for unit, unit_docs in zip(units, docs, strict=True):
        merged: dict[tuple[str, str], Denial] = {}
        for _ in unit_docs:  # one result per app of the unit; the same denial counts once
            merged.update({(d.rule, d.message): d for d in next(results)})
        # The supply-chain rules ask the registry, not git (docs/images.md).
        for move in unit.moves:
            found = supply_chain.denials(ctx.repo, ctx.snapshot, unit.env, move.new)
            merged.update({(d.rule, d.message): d for d in found})
        out.append(sorted(merged.values(), key=lambda d: (d.rule, d.message)))
    return out


def refusal(unit: Unit, denials: list[Denial], violations: Sequence[str] = ()) -> str:
    return f"{unit.describe()} refused:\n" + "\n".join(texts.refusal_lines(denials, violations))


def _encode(text: str | None) -> bytes | None:
    return text.encode() if text is not None else None
