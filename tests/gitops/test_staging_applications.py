"""staging through the real loop: its ApplicationSet yields exactly one Application per app, in its
own project. dev (test_dev_loop.py) and prod (test_retained_in_prod.py) are checked where they are
handed over; staging is handed over last, alone, and only its generation is waited for: its sync
policy is dev's (automated, prune, self-heal), which the dev tests show at work."""

from __future__ import annotations

import pytest
from gitops_loop import POLL_S, SYNC_SLACK_S, Loop, assert_one_application_per_app, hand_over_alone

pytestmark = pytest.mark.slow

ENV = "staging"


def test_the_staging_applicationset_yields_one_application_per_app(loop: Loop) -> None:
    with loop.api() as api:
        hand_over_alone(loop, api, ENV)
        took = assert_one_application_per_app(loop, api, ENV, 2 * POLL_S + SYNC_SLACK_S)
    print(f"\nstaging's Applications generated {took:.1f}s after the hand-over")
