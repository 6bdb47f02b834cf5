"""The Prometheus exporter: the whole fleet on ``/metrics``, rendered incrementally.

Modules: :mod:`.families` (types and HELP), :mod:`.render` (escaping, one device's
fragments), :mod:`.inventory_metrics` (sites and links), :mod:`.exposition` (per-device
cache, family-contiguous assembly, cached gzip), :mod:`.gzipper` (gzip from independently
compressed pieces), :mod:`.health` (pubnet's own metrics through a prometheus-client
collector), :mod:`.endpoint` (the ``/metrics`` route and the component). The HTTP listener
that serves the route is the shell's (:mod:`pubnet.app.web`).
"""
