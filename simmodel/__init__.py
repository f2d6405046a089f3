"""simmodel: an agent-based policy simulator for Zhejiang's emerging and future industries.

The package is a library: ``simmodel.model.SimModel`` is the Mesa model, ``simmodel.ensemble``
runs replicates, ``simmodel.results`` writes run folders. ``simmodel.cli`` is the only module that
imports Hydra.
"""

__version__ = "0.1.0"
