"""Exit codes shared by every `meridian` command, so scripts and CI can branch on them."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # done, or nothing to do
    REFUSED = 1  # denied by a policy, a promotion rule or a missing requirement
    USAGE = 2  # bad arguments or unreadable input
    CONFLICT = 3  # the repository or a lock is in a state that forbids the action
