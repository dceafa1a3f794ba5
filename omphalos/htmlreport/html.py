"""A report as one self-contained HTML file: D3, the style, the script and the data inlined.

The page needs no server and no network: it opens from disk (``file://``). D3 is the web
dashboard's own copy (its licence is inlined with it); the data is the JSON of
:func:`omphalos.htmlreport.panels.gather`, with ``</`` escaped so that no value can close
the script element it sits in.
"""

from __future__ import annotations

import html
from importlib import resources
from typing import Any

from omphalos.validate import finite_json

__all__ = ["render", "D3_PACKAGE"]

#: Where the D3 bundle is read from (the web output's static files).
D3_PACKAGE = "omphalos.plugins.outputs.web"

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<style>{css}</style>
</head>
<body>
<header><h1>{title}</h1><div class="muted" id="files"></div></header>
<nav id="toc" aria-label="panels"></nav>
<section id="general" aria-label="overview"></section>
<main id="panels"></main>
<script type="application/json" id="report-data">{data}</script>
<script>/* D3 (ISC licence):
{d3_license}
*/
{d3}</script>
<script>{js}</script>
</body>
</html>
"""


def _text(package: str, name: str) -> str:
    return resources.files(package).joinpath(name).read_text(encoding="utf-8")


def render(report: dict[str, Any], title: str = "Omphalos report") -> str:
    """The HTML page of ``report``."""
    data = finite_json(report, separators=(",", ":"))[0]
    data = data.replace("</", "<\\/").replace("<!--", "<\\!--")
    d3 = _text(D3_PACKAGE, "static/d3.min.js").replace("</script", "<\\/script")
    license_text = _text(D3_PACKAGE, "static/d3.LICENSE").replace("*/", "* /")
    return _TEMPLATE.format(title=html.escape(title), css=_text(__package__, "report.css"),
                            data=data, d3=d3, d3_license=license_text,
                            js=_text(__package__, "report.js"))
