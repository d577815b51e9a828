"""Forensics: tell fakes from real faces (``masque detect``) and live people from replays (``masque liveness``)."""
