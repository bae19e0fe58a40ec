"""Sub-commands of the ``ddclab`` CLI; each module exports ``command``."""
