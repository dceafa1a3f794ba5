"""One example line of every format the parsers know, for the documentation's table, the
long-line benchmark (``bench/longlines.py``) and the hostile-line tests.

Each example's request path is ``/index.html``: the benchmark and the tests stretch it
into a long one (and drop the protocol, the shape that made a request line backtrack).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .apache_format import compile_apache
from .clf_format import clf_format
from .json_format import JsonFormat
from .nginx_format import compile_nginx
from .presets import PRESETS
from .w3c_format import W3CStream

PATH = "/index.html"
_CLF = '192.0.2.1 - - [01/Nov/2026:10:00:00 +0100] "GET /index.html HTTP/1.1" 200 512'

#: Format name -> (factory, header lines the file starts with, example line).
EXAMPLES: dict[str, tuple[Callable[[], Any], str, str]] = {
    "combined": (lambda: clf_format("combined"), "", _CLF + ' "-" "curl/8.0"'),
    "common": (lambda: clf_format("common"), "", _CLF),
    "nginx:main": (lambda: compile_nginx("main"), "",
                   _CLF + ' "-" "curl/8.0" "10.0.0.1, 10.0.0.2"'),
    "apache:vhost_combined": (lambda: compile_apache("vhost_combined"), "",
                              "www.example.com:443 " + _CLF + ' "-" "curl/8.0"'),
    "w3c": (W3CStream, "#Fields: date time c-ip cs-method cs-uri-stem cs-uri-query "
                       "sc-status sc-bytes time-taken cs(User-Agent)\n",
            "2026-11-01 09:00:00 192.0.2.1 GET /index.html q=1 200 512 15 curl/8.0"),
    "json": (JsonFormat, "", '{"time": "2026-11-01T09:00:00Z", "remote_addr": "192.0.2.1", '
                             '"request": "GET /index.html HTTP/1.1", "status": 200, '
                             '"body_bytes_sent": 512}'),
    "caddy": (PRESETS["caddy"][0], "",
              '{"level":"info","ts":1793523600.25,"logger":"http.log.access","msg":"handled '
              'request","request":{"remote_ip":"192.0.2.1","remote_port":"50000","proto":'
              '"HTTP/2.0","method":"GET","host":"example.com","uri":"/index.html","headers":'
              '{"User-Agent":["curl/8.0"]}},"bytes_read":0,"user_id":"","duration":0.0012,'
              '"size":512,"status":200,"resp_headers":{}}'),
    "traefik": (PRESETS["traefik"][0], "",
                _CLF + ' "-" "curl/8.0" 42 "web@docker" "http://172.17.0.3:8080" 17ms'),
    "traefik_json": (PRESETS["traefik_json"][0], "",
                     '{"ClientHost":"192.0.2.1","DownstreamContentSize":512,'
                     '"DownstreamStatus":200,"Duration":1234567,"RequestHost":"example.com",'
                     '"RequestMethod":"GET","RequestPath":"/index.html","RequestProtocol":'
                     '"HTTP/1.1","RouterName":"web@docker","StartUTC":'
                     '"2026-11-01T09:00:00.123456789Z"}'),
    "alb": (PRESETS["alb"][0], "",
            'https 2026-11-01T09:00:00.186641Z app/my-lb/50dc6c495c0c9188 192.0.2.1:2817 '
            '10.0.0.1:80 0.001 0.048 0.000 200 200 34 512 '
            '"GET https://example.com:443/index.html HTTP/1.1" "curl/8.0" '
            'ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 '
            'arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/web/73e2d6bc '
            '"Root=1-58337281-1d84f3d73c47ec4e58577259" "example.com" "-" 0 '
            '2026-11-01T09:00:00.138000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-"'),
    "elb": (PRESETS["elb"][0], "",
            '2026-11-01T09:00:00.945958Z my-lb 192.0.2.1:2817 10.0.0.1:80 0.000073 0.001048 '
            '0.000057 200 200 0 512 "GET http://example.com:80/index.html HTTP/1.1" '
            '"curl/8.0" - -'),
    "cloudfront": (PRESETS["cloudfront"][0],
                   "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method "
                   "cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query "
                   "time-taken cs-protocol-version\n",
                   "2026-11-01\t09:00:00\tLAX1\t512\t192.0.2.1\tGET\td1.cloudfront.net\t"
                   "/index.html\t200\t-\tcurl/8.0\t-\t0.001\tHTTP/2.0"),
    "s3": (PRESETS["s3"][0], "",
           '79a59df900b949e5 bucket1 [01/Nov/2026:09:00:00 +0000] 192.0.2.1 - 3E57427F '
           'REST.GET.OBJECT index.html "GET /index.html HTTP/1.1" 200 - 512 512 7 6 "-" '
           '"curl/8.0" - hostid= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader '
           'bucket1.s3.amazonaws.com TLSv1.2 - -'),
    "squid": (PRESETS["squid"][0], "",
              "1793523600.352     53 192.0.2.1 TCP_MISS/200 512 GET "
              "http://example.com/index.html - HIER_DIRECT/93.184.216.34 text/html"),
    "haproxy": (PRESETS["haproxy"][0], "",
                "192.0.2.1:33317 [01/Nov/2026:09:00:00.655] http-in static/srv1 "
                '10/0/30/69/109 200 512 - - ---- 1/1/1/1/0 0/0 "GET /index.html HTTP/1.1"'),
    "vhost_common": (PRESETS["vhost_common"][0], "", "www.example.com " + _CLF),
}


def stretched(name: str, size: int, protocol: bool = True) -> str:
    """The example line of ``name`` with its path grown so the line is ``size`` characters
    (a ``/aaaa...`` path), without the request's protocol when ``protocol`` is off."""
    line = EXAMPLES[name][2]
    if not protocol:
        line = line.replace(" HTTP/1.1", "")
    pad = max(0, size - len(line))
    return line.replace(PATH, PATH + "a" * pad, 1)
