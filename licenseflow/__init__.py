"""Licenseflow: brand/IP licensing collaboration as durable Temporal workflows."""

TASK_QUEUE = "licensing"
