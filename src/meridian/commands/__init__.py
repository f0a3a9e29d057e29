"""Sub-commands of `meridian`, one module each."""
