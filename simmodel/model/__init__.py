"""The model: ``SimModel`` orders the stages of a quarter and owns the random streams and the agents
(``simmodel.model.simulation``); each stage is a kernel over the firm arrays (``simmodel.model.stages``);
the year's fund decisions are in ``simmodel.model.funds``, the set-up in ``simmodel.model.setup`` and
the yearly record in ``simmodel.model.record``."""

from simmodel.model.simulation import ModelInputs, SimModel

__all__ = ["ModelInputs", "SimModel"]
