"""Support code of the collector plugins (see :mod:`omphalos.lib`)."""
