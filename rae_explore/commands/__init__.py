"""Sub-commands of the ``rae-explore`` CLI, one module each (see :mod:`rae_explore.cli`)."""
