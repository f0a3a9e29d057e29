"""Helpers shared by the apps and end-to-end suites: a real PostgreSQL, free ports, processes."""
