"""Support code of the parser plugins (see :mod:`omphalos.lib`)."""
