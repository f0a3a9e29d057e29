"""Renderings of a GateReport: a table for people; JSON, SARIF and JUnit for machines."""
