"""What every part of Meridian shares: the repository's layout, errors with their exit codes, YAML
read with errors that point at the file, durations, quantities and process liveness.

It imports nothing of Meridian's own: the platform program, the CLI's products and its commands
all build on it (the import contract in pyproject.toml keeps it so).
"""
