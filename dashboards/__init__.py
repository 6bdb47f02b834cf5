"""Dashboards and reports: Grafana dashboards as code, provisioning, coverage and SLA reports.

What NOC operators look at and what planners read. Reads metrics and inventory; never
polls devices.
"""
