"""Hydra's basic sweeper without its second validation pass, registered as ``hydra/sweeper=replisim``.

Before launching each batch, Hydra's ``BasicSweeper`` composes the configuration of every job in it once more
to catch composition errors early ("this can be a bit slow for large jobs", its source says): about 0.1 s per
job, a minute and a half for a 1,000-job sweep, before the first job starts. The ``replisim`` command has
already composed and validated the sweep before Hydra started (``replisim.cli.prevalidate``: every
combination up to 64, each swept value beyond that, against replisim's schema, which checks more than
composition), so this sweeper launches at once. Everything else (batching, ``params``, the sweep directory,
``multirun.yaml``) is the basic sweeper's.
"""
