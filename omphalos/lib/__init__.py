"""Support libraries of the built-in plugins: code several plugins share, and no plugin.

``omphalos.lib.collectors``
    what collectors count with: Space-Saving top tables (``topk``), DDSketch (``sketch``),
    column-wise aggregation into breakdowns (``aggregate``), interleaved application of
    batches (``interleave``), per-minute history (``history``) and alert rules (``alerts``).
``omphalos.lib.parsers``
    what parsers parse with: the compiled line formats (``linefmt``, ``variables``,
    ``formatstr``), column conversions (``convert``), timestamps (``timestamps``) and the
    parser base classes (``base``), and the format compilers several parsers share
    (``apache_format``, ``nginx_format``, ``clf_format``, ``w3c_format``, ``json_format``).
``omphalos.lib.transports``
    what the network transports share (``common``: the receiver's incoming message, source
    qualification, loopback detection, rate-limited logs).

Plugin folders (``omphalos.plugins.KIND``) hold plugins only; a plugin imports the framework
and these libraries, never another plugin.
"""
