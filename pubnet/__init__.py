"""pubnet: monitoring for a national public-internet programme.

This package is two layers (docs/architecture.md; tests/test_layers.py keeps them apart):

- the ground every part stands on, importing only :mod:`inventory` and libraries: the
  observation model (:mod:`pubnet.model`), the state store (:mod:`pubnet.state`), config
  (:mod:`pubnet.config`), logging (:mod:`pubnet.logs`), the file-descriptor budget
  (:mod:`pubnet.fdbudget`), one way to open SQLite files (:mod:`pubnet.sqlite`), the one
  back-off rule (:mod:`pubnet.backoff`), the one BER codec (:mod:`pubnet.ber`), stopping on
  signals (:mod:`pubnet.signals`), free loopback ports (:mod:`pubnet.ports`), the argparse
  types of the subcommands (:mod:`pubnet.argtypes`) and the counters the one HTTP listener
  shares with the exporter that shows them (:mod:`pubnet.httpstats`), which of its routes
  may read a request body (:mod:`pubnet.httpbody`) and what the status page asks of
  alerting's incidents (:mod:`pubnet.incidents`);
- the app on top: :mod:`pubnet.cli` (the ``pubnet`` command) and :mod:`pubnet.app` (the
  runtime, the wiring of components from config, the HTTP listener, ``pubnet poll``, the
  demo), which may import anything and which nothing imports.

The components (:mod:`collectors`, :mod:`exporters`, :mod:`alerting`, :mod:`dashboards`,
:mod:`simulator`) sit between the two: they import the ground, never the app, never each
other.
"""

__version__ = "0.1.0"
