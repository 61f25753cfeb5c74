"""The classroom demo: ``replisim demo`` serves a SolaraViz page on the Mesa model (docs/teaching.md)."""
