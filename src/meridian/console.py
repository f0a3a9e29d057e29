"""One Rich console pair for the whole CLI: results to stdout, diagnostics to stderr."""

from rich.console import Console

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
