"""``omphalos report``: a replay's counts as one self-contained HTML file (or JSON, CSV).

:mod:`.panels` says which panels a report has (GoAccess's, in its order) and gathers their
answers from a pipeline; :mod:`.html` renders them into one HTML file with D3 and the
data inlined (no server, no network); :mod:`.tabular` writes the same rows as CSV.
"""
