"""Coverage and SLA reports for planners: the status history pubnet records, and the
monthly report (CSV, HTML, PDF) built from it or from Prometheus."""
