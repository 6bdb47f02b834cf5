"""The app layer: what ``pubnet`` (pubnet/cli.py) runs, on top of everything else.

The runtime (:mod:`.runtime`), the wiring of components from config (:mod:`.components`),
the start-up summary (:mod:`.startup`), ``pubnet poll --once`` (:mod:`.poll`), the one HTTP
listener (:mod:`.web`) and the demo (:mod:`.demo`). This layer may import anything; nothing
imports it but the CLI (see docs/architecture.md and tests/test_layers.py).
"""
