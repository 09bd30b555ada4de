"""Checking the model against queueing theory, as ``sscard-sim validate-model`` does.

:mod:`~sim.validation.cases` recognises what a scenario reduces to (one service
point, a network of settlement nodes, or just its arrival process) and what
:mod:`sim.outputs.theory` predicts for it; :mod:`~sim.validation.probes` reads the same
figures out of a run; :mod:`~sim.validation.runner` runs replications and judges
them with :mod:`~sim.validation.stats`; :mod:`~sim.validation.report` prints the
table. :mod:`~sim.validation.little` closes Little's law on every station of any
run (the Erlang-C estimate beside every settlement node of any run is
:func:`sim.outputs.theory.node_theory`, part of the run's summary). Only ``stats``
(hence ``runner`` and ``report``) imports SciPy, so a plain run never pays for
it. See ``docs/validation.md``.
"""
