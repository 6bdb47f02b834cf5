"""pubnet: monitoring for a national public-internet programme.

This package is the application shell (CLI, config, runtime) plus the two modules every
component shares: the observation model (:mod:`pubnet.model`) and the state store
(:mod:`pubnet.state`). Components import those two and nothing else from here.
"""

__version__ = "0.1.0"
