"""Schedules, sensors, alerts, per-tenant logs and the run queue."""
