"""Buckets as InfluxDB line protocol (accepted by InfluxDB 1.x ``/write``, the 2.x/3.x
compatibility endpoint, VictoriaMetrics and QuestDB).

Measurements (``PREFIX`` is the ``measurement_prefix`` option, ``http`` by default), one
point per bucket, timestamps in seconds (``precision=s``):

- ``PREFIX_requests,host=H,class=2xx,run=R requests=Ni,bytes=Ni``
- ``PREFIX_paths,path=P,run=R requests=Ni,bytes=Ni,errors=Ni`` for the bucket's
  ``top_paths`` busiest paths, the rest summed under ``path=(other)``
- ``PREFIX_duration,host=H,run=R count=Ni,mean=F,p50=F,p95=F,p99=F`` (seconds) when the
  log format has durations
"""

from __future__ import annotations

from .rollup import Bucket, percentile

__all__ = ["escape_tag", "lines", "OTHER"]

OTHER = "(other)"
_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\\": "\\\\",
                              "\n": r"\n"})


def escape_tag(value: str) -> str:
    """A tag key or value escaped; empty values (not allowed) become ``-``."""
    return value.translate(_TAG_ESCAPES) or "-"


def lines(bucket: Bucket, prefix: str, top_paths: int) -> list[str]:
    """The points of ``bucket``."""
    t = bucket.start
    run = escape_tag(bucket.run)
    out = [f"{prefix}_requests,class={cls},host={escape_tag(host)},run={run} "
           f"requests={n}i,bytes={size}i {t}"
           for (host, cls), (n, size) in sorted(bucket.by_host.items())]
    ranked = bucket.path_hits.most_common()
    for path, hits in ranked[:top_paths]:
        out.append(f"{prefix}_paths,path={escape_tag(path)},run={run} requests={hits}i,"
                   f"bytes={bucket.path_bytes[path]}i,errors={bucket.path_errors[path]}i {t}")
    rest = ranked[top_paths:]
    if rest:
        out.append(f"{prefix}_paths,path={escape_tag(OTHER)},run={run} "
                   f"requests={sum(h for _, h in rest)}i,"
                   f"bytes={sum(bucket.path_bytes[p] for p, _ in rest)}i,"
                   f"errors={sum(bucket.path_errors[p] for p, _ in rest)}i {t}")
    for host, sample in sorted(bucket.durations.items()):
        if not sample:
            continue
        ordered = sorted(sample)
        seen = bucket.duration_seen[host]
        out.append(f"{prefix}_duration,host={escape_tag(host)},run={run} count={seen}i,"
                   f"mean={bucket.duration_sum[host] / seen!r},"
                   f"p50={percentile(ordered, 50)!r},p95={percentile(ordered, 95)!r},"
                   f"p99={percentile(ordered, 99)!r} {t}")
    return out
