"""Experiments that reproduce published figures (``ddclab reproduce ...``)."""
