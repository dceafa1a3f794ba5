"""Presets for the logs of servers with a fixed format, each line written from that server's
documentation of its format, and compared with the record schema field by field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from omphalos.plugins.parsers.auto import AutoConfig, AutoParser

from omphalos.lib.parsers.presets import PRESETS
from omphalos.messages import LineChunk, Source
from omphalos.plugin import PluginContext
from omphalos.records import FIELDS, Record
from omphalos.settings import Settings


def epoch(*args: int, micro: int = 0) -> float:
    return datetime(*args, micro, tzinfo=UTC).timestamp()  # type: ignore[misc]


def record(**fields: Any) -> dict[str, Any]:
    """A whole record as a dict: every field of the schema, None (or 0/"") unless given."""
    base: dict[str, Any] = dict.fromkeys(FIELDS)
    base.update(host="", file="", client="", path="", status=0, bytes=0, offset=0)
    base.update(fields)
    return base


def parse(preset: str, data: bytes) -> list[Record]:
    fmt = PRESETS[preset][0]()
    columns, lines, bad, _ = fmt.parse(data, 0)
    assert not bad, bad
    assert lines == len(columns) == data.count(b"\n")
    return list(columns.rows())


TRAEFIK = (b'192.168.1.10 - alice [10/Oct/2023:13:55:36 +0200] "GET /api/v1/items?page=2 '
           b'HTTP/1.1" 200 1534 "https://example.com/" "Mozilla/5.0 (X11)" 42 "web@docker" '
           b'"http://172.17.0.3:8080" 17ms\n'
           b'10.0.0.7 - - [10/Oct/2023:13:55:37 +0000] "POST /login HTTP/2.0" 502 - "-" '
           b'"say \\"hi\\"" 43 "-" "-" 0ms\n')


def test_traefik_clf() -> None:
    first, second = parse("traefik", TRAEFIK)
    assert first._asdict() == record(
        time=epoch(2023, 10, 10, 11, 55, 36), client="192.168.1.10", user="alice",
        method="GET", path="/api/v1/items", query="page=2", protocol="HTTP/1.1", status=200,
        bytes=1534, referer="https://example.com/", agent="Mozilla/5.0 (X11)",
        duration=0.017, extra={"request_count": "42", "router_name": "web@docker",
                               "server_url": "http://172.17.0.3:8080"})
    assert second._asdict() == record(
        time=epoch(2023, 10, 10, 13, 55, 37), client="10.0.0.7", method="POST",
        path="/login", protocol="HTTP/2.0", status=502, agent='say "hi"', duration=0.0,
        offset=len(TRAEFIK.split(b"\n")[0]) + 1,
        extra={"request_count": "43", "router_name": None, "server_url": None})


ALB = (b'https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 '
       b'192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 '
       b'"GET https://www.example.com:443/a/b?x=1 HTTP/1.1" "curl/7.46.0" '
       b'ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 '
       b'arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/'
       b'73e2d6bc24d8a067 '
       b'"Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" '
       b'"arn:aws:acm:us-east-2:123456789012:certificate/12345678" 1 '
       b'2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-" "10.0.0.1:80" "200" '
       b'"-" "-" TID_1234abcd\n'
       # an older entry without the later fields, a request that got no target (-1)
       b'h2 2018-07-02T22:23:01.000000Z app/my-loadbalancer/50dc6c495c0c9188 '
       b'10.0.1.2:4000 - -1 -1 -1 502 - 34 366 "- http://www.example.com:80- -" "-" - - '
       b'- "Root=1-58337364-23a8c76965a2ef7629b185e3"\n')

ALB_EXTRA = {
    "type": "https", "elb": "app/my-loadbalancer/50dc6c495c0c9188", "client_port": "2817",
    "target": "10.0.0.1:80", "request_processing_time": "0.086",
    "response_processing_time": "0.037", "target_status_code": "200",
    "received_bytes": "0", "ssl_cipher": "ECDHE-RSA-AES128-GCM-SHA256",
    "ssl_protocol": "TLSv1.2",
    "target_group_arn": "arn:aws:elasticloadbalancing:us-east-2:123456789012:"
                        "targetgroup/my-targets/73e2d6bc24d8a067",
    "trace_id": "Root=1-58337281-1d84f3d73c47ec4e58577259", "domain_name": "www.example.com",
    "chosen_cert_arn": "arn:aws:acm:us-east-2:123456789012:certificate/12345678",
    "matched_rule_priority": "1", "request_creation_time": "2018-07-02T22:22:48.364000Z",
    "actions_executed": "authenticate,forward", "redirect_url": None, "error_reason": None,
    "target_port_list": "10.0.0.1:80", "target_status_code_list": "200",
    "classification": None, "classification_reason": None,
    "vhost": "www.example.com:443"}


def test_aws_application_load_balancer() -> None:
    first, second = parse("alb", ALB)
    assert first._asdict() == record(
        time=epoch(2018, 7, 2, 22, 23, 0, micro=186641), client="192.168.131.39",
        method="GET", path="/a/b", query="x=1", protocol="HTTP/1.1", status=200, bytes=57,
        agent="curl/7.46.0", duration=0.048, extra=ALB_EXTRA)
    assert second.client == "10.0.1.2" and second.status == 502 and second.bytes == 366
    assert second.duration is None and second.method is None and second.path == ""
    assert second.extra is not None and second.extra["domain_name"] is None
    assert second.extra["request"] == "- http://www.example.com:80- -"


ELB = (b'2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 '
       b'0.000073 0.001048 0.000057 200 200 0 29 "GET http://www.example.com:80/ HTTP/1.1" '
       b'"curl/7.38.0" - -\n'
       b'2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 '
       b'0.001069 0.000028 0.000041 - - 82 305 "- - - " "-" - -\n')


def test_aws_classic_load_balancer() -> None:
    first, second = parse("elb", ELB)
    assert first._asdict() == record(
        time=epoch(2015, 5, 13, 23, 39, 43, micro=945958), client="192.168.131.39",
        method="GET", path="/", protocol="HTTP/1.1", status=200, bytes=29,
        agent="curl/7.38.0", duration=0.001048,
        extra={"elb": "my-loadbalancer", "client_port": "2817", "backend": "10.0.0.1:80",
               "request_processing_time": "0.000073",
               "response_processing_time": "0.000057", "backend_status_code": "200",
               "received_bytes": "0", "ssl_cipher": None, "ssl_protocol": None,
               "vhost": "www.example.com:80"})
    # a TCP listener's entry: no status, no request
    assert (second.status, second.bytes, second.method, second.path) == (0, 305, None, "")


S3 = (b'79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be DOC-EXAMPLE-BUCKET1 '
      b'[06/Feb/2019:00:00:38 +0000] 192.0.2.3 '
      b'79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE '
      b'REST.GET.VERSIONING - "GET /DOC-EXAMPLE-BUCKET1?versioning HTTP/1.1" 200 - 113 - 7 - '
      b'"-" "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP'
      b'/XV/VLi31234= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader '
      b'DOC-EXAMPLE-BUCKET1.s3.us-west-1.amazonaws.com TLSV1.2 - -\n'
      # an older record, without the later fields; a key and an error code
      b'79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be DOC-EXAMPLE-BUCKET1 '
      b'[06/Feb/2019:00:00:39 +0000] 192.0.2.3 - 891CE47D2EXAMPLE REST.GET.OBJECT '
      b'photos/2019/cat%20one.jpg "GET /DOC-EXAMPLE-BUCKET1/photos/2019/cat%20one.jpg '
      b'HTTP/1.1" 404 NoSuchKey 243 - 12 - "https://example.com/a" "curl/7.15.1"\n')


def test_s3_server_access_log() -> None:
    first, second = parse("s3", S3)
    owner = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
    assert first._asdict() == record(
        time=epoch(2019, 2, 6, 0, 0, 38), client="192.0.2.3", user=owner, method="GET",
        path="/DOC-EXAMPLE-BUCKET1", query="versioning", protocol="HTTP/1.1", status=200,
        bytes=113, agent="S3Console/0.4", duration=0.007,
        extra={"bucket_owner": owner, "bucket": "DOC-EXAMPLE-BUCKET1",
               "request_id": "3E57427F3EXAMPLE", "operation": "REST.GET.VERSIONING",
               "key": None, "error_code": None, "object_size": None,
               "turn_around_time": None, "version_id": None,
               "host_id": "s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/"
                          "XV/VLi31234=",
               "signature_version": "SigV4", "cipher_suite": "ECDHE-RSA-AES128-GCM-SHA256",
               "authentication_type": "AuthHeader",
               "host_header": "DOC-EXAMPLE-BUCKET1.s3.us-west-1.amazonaws.com",
               "tls_version": "TLSV1.2", "access_point_arn": None, "acl_required": None})
    assert second.user is None and second.status == 404 and second.bytes == 243
    assert second.referer == "https://example.com/a" and second.duration == 0.012
    assert second.extra is not None and second.extra["key"] == "photos/2019/cat%20one.jpg"
    assert second.extra["error_code"] == "NoSuchKey" and second.extra["host_id"] is None


SQUID = (b'1066036250.352     53 10.0.0.1 TCP_MISS/200 1542 GET '
         b'http://www.example.com/index.html?x=1 - DIRECT/93.184.216.34 text/html\n'
         b'1066036251.003 120004 10.0.0.2 TCP_TUNNEL/200 9876 CONNECT www.example.com:443 bob '
         b'HIER_DIRECT/93.184.216.34 -\n'
         b'1066036252.100      0 10.0.0.3 TCP_DENIED/403 3900 GET http://blocked.test/ - '
         b'HIER_NONE/- text/html\n')


def test_squid_native() -> None:
    first, second, third = parse("squid", SQUID)
    assert first._asdict() == record(
        time=1066036250.352, client="10.0.0.1", method="GET", path="/index.html",
        query="x=1", status=200, bytes=1542, duration=0.053,
        extra={"squid_code": "TCP_MISS", "vhost": "www.example.com", "hierarchy": "DIRECT",
               "peer": "93.184.216.34", "content_type": "text/html"},)
    assert (second.method, second.path, second.user, second.duration) == (
        "CONNECT", "www.example.com:443", "bob", 120.004)
    assert second.extra == {"squid_code": "TCP_TUNNEL", "vhost": None,
                            "hierarchy": "HIER_DIRECT", "peer": "93.184.216.34",
                            "content_type": None}
    assert third.status == 403 and third.extra is not None and third.extra["peer"] is None


HAPROXY = (b'Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 '
           b'[06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- '
           b'1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1"\n'
           # written to a file without syslog, no header captures, an aborted request
           b'10.0.1.3:33318 [06/Feb/2009:12:14:15.001] http-in~ static/<NOSRV> -1/-1/-1/-1/8 '
           b'-1 +0 - - CR-- 2/2/0/0/0 0/0 "<BADREQ>"\n')


def test_haproxy_http_log() -> None:
    first, second = parse("haproxy", HAPROXY)
    assert first._asdict() == record(
        time=epoch(2009, 2, 6, 12, 14, 14, micro=655000), client="10.0.1.2", method="GET",
        path="/index.html", protocol="HTTP/1.1", status=200, bytes=2750, duration=0.109,
        extra={"client_port": "33317", "frontend_name": "http-in", "backend_name": "static",
               "server_name": "srv1", "timers": "10/0/30/69/109",
               "captured_request_cookie": None, "captured_response_cookie": None,
               "termination_state": "----", "connections": "1/1/1/1/0", "queues": "0/0",
               "captured_request_headers": "1wt.eu", "captured_response_headers": None})
    assert (second.status, second.bytes, second.method, second.path) == (0, 0, None, "")
    assert second.duration == 0.008 and second.extra is not None
    assert second.extra["request"] == "<BADREQ>" and second.extra["server_name"] == "<NOSRV>"
    assert second.extra["frontend_name"] == "http-in~"


VHOST_COMMON = (b'www.example.com 10.0.0.1 - bob [01/Nov/2026:00:00:00 +0000] '
                b'"GET /x?y=1 HTTP/1.1" 200 512\n')


def test_vhost_common() -> None:
    (first,) = parse("vhost_common", VHOST_COMMON)
    assert first._asdict() == record(
        time=epoch(2026, 11, 1, 0, 0, 0), client="10.0.0.1", user="bob", method="GET",
        path="/x", query="y=1", protocol="HTTP/1.1", status=200, bytes=512,
        extra={"vhost": "www.example.com"})


CADDY = (b'{"level":"info","ts":1646861401.5241024,"logger":"http.log.access","msg":"handled '
         b'request","request":{"remote_ip":"127.0.0.1","remote_port":"41342","client_ip":'
         b'"127.0.0.1","proto":"HTTP/2.0","method":"GET","host":"localhost","uri":"/a?b=1",'
         b'"headers":{"User-Agent":["curl/7.82.0"],"Referer":["https://r.test/"],"Accept":'
         b'["*/*"]},"tls":{"resumed":false,"version":772,"cipher_suite":4865,"proto":"h2",'
         b'"server_name":"example.com"}},"bytes_read":0,"user_id":"","duration":0.000929675,'
         b'"size":10900,"status":200,"resp_headers":{"Server":["Caddy"]}}\n'
         b'{"level":"error","ts":1646861402.0,"logger":"http.log.access.log0","msg":"handled '
         b'request","request":{"remote_ip":"::1","remote_port":"5000","proto":"HTTP/1.1",'
         b'"method":"POST","host":"example.com","uri":"/up","headers":{}},"bytes_read":12,'
         b'"user_id":"alice","duration":1.5,"size":0,"status":500,"resp_headers":{}}\n')


def test_caddy_json() -> None:
    first, second = parse("caddy", CADDY)
    assert first._asdict() == record(
        time=1646861401.5241024, client="127.0.0.1", method="GET", path="/a", query="b=1",
        protocol="HTTP/2.0", status=200, bytes=10900, referer="https://r.test/",
        agent="curl/7.82.0", duration=0.000929675,
        extra={"vhost": "localhost", "client_ip": "127.0.0.1", "remote_port": "41342",
               "bytes_read": 0, "logger": "http.log.access",
               "tls_server_name": "example.com"})
    assert (second.client, second.user, second.agent, second.status) == (
        "::1", "alice", None, 500)


TRAEFIK_JSON = (b'{"ClientAddr":"10.0.0.5:51234","ClientHost":"10.0.0.5","ClientPort":"51234",'
                b'"ClientUsername":"-","DownstreamContentSize":512,"DownstreamStatus":404,'
                b'"Duration":1234567,"OriginContentSize":512,"OriginDuration":1000000,'
                b'"OriginStatus":404,"Overhead":234567,"RequestAddr":"example.com",'
                b'"RequestContentSize":0,"RequestCount":7,"RequestHost":"example.com",'
                b'"RequestMethod":"GET","RequestPath":"/missing?x=1","RequestPort":"-",'
                b'"RequestProtocol":"HTTP/1.1","RequestScheme":"http","RetryAttempts":0,'
                b'"RouterName":"web@docker","StartUTC":"2023-10-10T13:55:36.123456789Z",'
                b'"entryPointName":"web","level":"info","msg":"",'
                b'"request_User-Agent":"curl/8.0","time":"2023-10-10T13:55:36Z"}\n')


def test_traefik_json() -> None:
    (first,) = parse("traefik_json", TRAEFIK_JSON)
    assert first._asdict() == record(
        time=epoch(2023, 10, 10, 13, 55, 36, micro=123456), client="10.0.0.5", method="GET",
        path="/missing", query="x=1", protocol="HTTP/1.1", status=404, bytes=512,
        agent="curl/8.0", duration=0.001234567,
        extra={"ClientAddr": "10.0.0.5:51234", "ClientPort": "51234",
               "OriginContentSize": 512, "OriginDuration": 1000000, "OriginStatus": 404,
               "Overhead": 234567, "RequestAddr": "example.com", "RequestContentSize": 0,
               "RequestCount": 7, "RequestPort": "-", "RequestScheme": "http",
               "RetryAttempts": 0, "RouterName": "web@docker", "entryPointName": "web",
               "level": "info", "msg": "", "time": "2023-10-10T13:55:36Z",
               "vhost": "example.com"})


CLOUDFRONT = (
    b"#Version: 1.0\n"
    b"#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem "
    b"sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type "
    b"x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for "
    b"ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status "
    b"fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type "
    b"sc-content-type sc-content-len sc-range-start sc-range-end\n"
    b"2019-12-04\t21:02:31\tLAX1\t392\t192.0.2.100\tGET\td111111abcdef8.cloudfront.net\t"
    b"/index.html\t200\t-\tMozilla/5.0%20(Windows%20NT%2010.0)\tq=1\t-\tHit\t"
    b"SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==\t"
    b"d111111abcdef8.cloudfront.net\thttps\t23\t0.001\t-\tTLSv1.2\t"
    b"ECDHE-RSA-AES128-GCM-SHA256\tHit\tHTTP/2.0\t-\t-\t11040\t0.001\tHit\ttext/html\t78\t"
    b"-\t-\n")


def test_cloudfront_standard_log() -> None:
    fmt = PRESETS["cloudfront"][0]()
    columns, lines, bad, _ = fmt.parse(CLOUDFRONT, 0)
    assert not bad and lines == 3 and len(columns) == 1
    (first,) = columns.rows()
    assert first._asdict() == record(
        time=epoch(2019, 12, 4, 21, 2, 31), client="192.0.2.100", method="GET",
        path="/index.html", query="q=1", protocol="HTTP/2.0", status=200, bytes=392,
        agent="Mozilla/5.0 (Windows NT 10.0)", duration=0.001,
        offset=CLOUDFRONT.index(b"2019-12-04"),
        extra={"x-edge-location": "LAX1", "vhost": "d111111abcdef8.cloudfront.net",
               "cs(Cookie)": None, "x-edge-result-type": "Hit",
               "x-edge-request-id": "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==",
               "x-host-header": "d111111abcdef8.cloudfront.net", "cs-protocol": "https",
               "cs-bytes": "23", "forwarded_for": None, "ssl-protocol": "TLSv1.2",
               "ssl-cipher": "ECDHE-RSA-AES128-GCM-SHA256",
               "x-edge-response-result-type": "Hit", "fle-status": None,
               "fle-encrypted-fields": None, "c-port": "11040", "time-to-first-byte": "0.001",
               "x-edge-detailed-result-type": "Hit", "sc-content-type": "text/html",
               "sc-content-len": "78", "sc-range-start": None, "sc-range-end": None})


def make_auto(tmp_path: Any) -> AutoParser:
    parser = AutoParser(PluginContext("parser:test", Settings(state_dir=str(tmp_path)),
                                      None),  # type: ignore[arg-type]
                        AutoConfig())
    parser.setup()
    return parser


@pytest.mark.parametrize(("data", "name"), [
    (TRAEFIK, "traefik"), (ALB, "alb"), (ELB, "elb"), (S3, "s3"), (SQUID, "squid"),
    (HAPROXY, "haproxy"), (VHOST_COMMON, "vhost_common"), (CADDY, "caddy"),
    (TRAEFIK_JSON, "traefik_json"), (CLOUDFRONT, "w3c"),
])
def test_each_preset_is_auto_detected(tmp_path: Any, data: bytes, name: str) -> None:
    parser = make_auto(tmp_path)
    batch = parser.parse(LineChunk(Source("web1", "mem.log", "f", "monitor:test"), 1, 0,
                                   len(data), data))
    assert parser.chosen["f"].name == name
    assert batch.unparsed == 0
    assert len(batch.records) == data.count(b"\n") - data.count(b"\n#") - data.startswith(b"#")
