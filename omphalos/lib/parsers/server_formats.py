"""Line formats of servers that are not configured by a format string: Traefik (CLF),
AWS Application and Classic Load Balancers, S3 server access logs, Squid (native) and
HAProxy (``option httplog``). Each is a fixed list of tokens, written from the server's
documentation of its format; fields the record lacks go to ``extra`` under the
documentation's name. Fields a server appends in later versions are optional groups, and
anything after the last documented field is ignored (AWS says it may add fields at the end).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .deferred_format import DeferredExtraFormat
from .linefmt import VARIABLES, Token
from .variables import (
    QUOTED_LENIENT,
    QUOTED_STRICT,
    WORD,
    Variable,
    request_variable,
)

V = VARIABLES


def extra(name: str, quoted: bool = False) -> Variable:
    """A field kept in ``extra[name]`` (``-`` is None)."""
    if quoted:
        return Variable(f"extra:{name}", QUOTED_STRICT, QUOTED_LENIENT)
    return Variable(f"extra:{name}", WORD, WORD)


def optional_fields(names: Sequence[str], quoted: Sequence[bool]) -> Variable:
    r"""Space-separated fields a server added in later versions: all present or none, then
    whatever follows (ignored). A plain field is ``\S++``, not the same class spelt
    ``[^\s]++``, which the regex engine matches about a third slower."""
    parts = [f' "({QUOTED_STRICT})"' if q else r" (\S++)" for q in quoted]
    strict = "(?:" + "".join(parts) + r")?+(?: [^\n]*+)?+"
    lenient_parts = [f' "(?:{QUOTED_LENIENT})"' if q else r" \S++" for q in quoted]
    lenient = "(?:" + "".join(lenient_parts) + r")?+(?: [^\n]*+)?+"
    whole = re.compile("(?:" + "".join(f' "((?:{QUOTED_LENIENT}))"' if q else r" (\S++)"
                                        for q in quoted) + r")?+(?: [^\n]*+)?+")

    def split(value: str) -> tuple[str, ...]:
        match = whole.fullmatch(value)
        return tuple(g or "" for g in match.groups()) if match else ("",) * len(names)

    return Variable("optional", strict, lenient, groups=tuple(f"extra:{n}" for n in names),
                    split=split)


CLIENT_PORT = Variable("client_port", WORD, WORD)
REQUEST = request_variable()

#: Traefik's default access log (``format: common``).
TRAEFIK: list[Token] = [
    V["client"], " ", V["ident"], " ", V["user"], " [", V["time_clf"], '] "', REQUEST, '" ',
    V["status"], " ", V["bytes"], ' "', V["referer"], '" "', V["agent"], '" ',
    extra("request_count"), ' "', extra("router_name", True), '" "',
    extra("server_url", True), '" ', Variable("duration_ms", r"\d++", r"\d++|-"), "ms"]

_ALB_OPTIONAL = optional_fields(
    ["domain_name", "chosen_cert_arn", "matched_rule_priority", "request_creation_time",
     "actions_executed", "redirect_url", "error_reason", "target_port_list",
     "target_status_code_list", "classification", "classification_reason"],
    [True, True, False, False, True, True, True, True, True, True, True])
#: AWS Application Load Balancer access log entries.
ALB: list[Token] = [
    Variable("extra:type", r"[a-z0-9]++", r"[a-z0-9]++"), " ", V["time_iso"], " ",
    extra("elb"), " ", CLIENT_PORT, " ", extra("target"), " ",
    extra("request_processing_time"), " ", Variable("duration_s_neg", r"-?[\d.]++",
                                                     r"-?[\d.]++"),
    " ", extra("response_processing_time"), " ", Variable("status", r"\d{3}|-", r"\d{3}|-"),
    " ", extra("target_status_code"), " ", extra("received_bytes"), " ", V["bytes"], ' "',
    REQUEST, '" "', V["agent"], '" ', extra("ssl_cipher"), " ", extra("ssl_protocol"), " ",
    extra("target_group_arn"), ' "', extra("trace_id", True), '"', _ALB_OPTIONAL]

#: AWS Classic Load Balancer access log entries.
ELB: list[Token] = [
    V["time_iso"], " ", extra("elb"), " ", CLIENT_PORT, " ", extra("backend"), " ",
    extra("request_processing_time"), " ", Variable("duration_s_neg", r"-?[\d.]++",
                                                     r"-?[\d.]++"),
    " ", extra("response_processing_time"), " ", Variable("status", r"\d{3}|-", r"\d{3}|-"),
    " ", extra("backend_status_code"), " ", extra("received_bytes"), " ", V["bytes"], ' "',
    REQUEST, '" "', V["agent"], '" ', extra("ssl_cipher"), " ", extra("ssl_protocol"),
    Variable("ignore", r"[^\n]*+", r"[^\n]*+")]

_S3_OPTIONAL = optional_fields(
    ["version_id", "host_id", "signature_version", "cipher_suite", "authentication_type",
     "host_header", "tls_version", "access_point_arn", "acl_required"], [False] * 9)
#: Amazon S3 server access log records.
S3: list[Token] = [
    extra("bucket_owner"), " ", extra("bucket"), " [", V["time_clf"], "] ", V["client"], " ",
    V["user"], " ", extra("request_id"), " ", extra("operation"), " ", extra("key"), ' "',
    REQUEST, '" ', Variable("status", r"\d{3}|-", r"\d{3}|-"), " ", extra("error_code"), " ",
    V["bytes"], " ", extra("object_size"), " ", V["duration_ms"], " ",
    extra("turn_around_time"), ' "', V["referer"], '" "', V["agent"], '"', _S3_OPTIONAL]

SPACES = Variable("ignore", " ++", " ++")
#: Squid's native access.log (``logformat squid``).
SQUID: list[Token] = [
    Variable("time_epoch", r"\d++(?:\.\d++)?+", r"\d++(?:\.\d++)?+"), SPACES,
    Variable("duration_ms", r"\d++", r"-?\d++"), " ", V["client"], " ",
    extra("squid_code"), "/", Variable("status", r"\d{3}", r"\d{3}|-"), " ", V["bytes"], " ",
    Variable("method", r"[A-Z_]++|-", WORD), " ", Variable("url", WORD, WORD), " ",
    V["user"], " ", extra("hierarchy"), "/", extra("peer"), " ", extra("content_type"),
    Variable("ignore", r"[ \t]*+", r"[ \t]*+")]

_SYSLOG = (r"(?:(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\S++) \S++ "
           r"[^\s\[:]++(?:\[\d++\])?+: )?+")
_HEADERS = re.compile(r"(?: \{([^}\n]*+)\})?+(?: \{([^}\n]*+)\})?+")


def _split_headers(value: str) -> tuple[str, ...]:
    match = _HEADERS.fullmatch(value)
    return (match[1] or "", match[2] or "") if match else ("", "")


#: HAProxy's HTTP log format (``option httplog``), with or without the syslog prefix.
HAPROXY: list[Token] = [
    Variable("ignore", _SYSLOG, _SYSLOG), CLIENT_PORT, " [",
    # the milliseconds apart: the timestamp cache then hits once per second
    Variable("time_clf", r"[^\].\n]{1,64}+", r"[^\].\n]++"), ".",
    Variable("frac_ms", r"\d{3}", r"\d{3}"), "] ",
    extra("frontend_name"), " ", extra("backend_name"), "/", extra("server_name"), " ",
    Variable("timers", r"[-+\d/]++", r"[-+\d/]++"), " ",
    Variable("status_neg", r"-?\d++", r"-?\d++"), " ", Variable("bytes", r"\+?\d++", r"\+?\d++"),
    " ", extra("captured_request_cookie"), " ", extra("captured_response_cookie"), " ",
    extra("termination_state"), " ", extra("connections"), " ", extra("queues"),
    Variable("headers", r"(?: \{([^}\n]*+)\})?+(?: \{([^}\n]*+)\})?+",
             r"(?: \{[^}\n]*+\})?+(?: \{[^}\n]*+\})?+",
             groups=("extra:captured_request_headers", "extra:captured_response_headers"),
             split=_split_headers),
    ' "', REQUEST, '"']


#: For the light patterns (:class:`.DeferredExtraFormat`): an ``addr:port`` whose address
#: has no colon or bracket and is not ``-`` is the address (what ``client_ports`` makes of
#: it) and an uncaptured port; an IPv6 address or an odd value sends its chunk to the full
#: format.
_LIGHT_CLIENT: dict[Variable, list[Token]] = {CLIENT_PORT: [
    Variable("client", r"(?!-:)[^\s:\[]++", WORD), ":", Variable("ignore", r"\d++", r"\d++")]}
#: A request line whose URL is absolute (``scheme://host/path``): the path from its first
#: ``/`` (what ``urls`` makes of it), scheme and host matched but not captured (the host
#: is ``extra``); a relative or odd URL sends its chunk to the full format.
_LIGHT_URL: dict[Variable, list[Token]] = {REQUEST: [Variable(
    "request", r'([A-Z]++) (?:[A-Za-z][A-Za-z0-9+.-]{0,12}+://[^/?\s"]*+)'
               r'(/[^\s?"]*+)\??([^\s"]*+) (HTTP/[0-9.]++)', REQUEST.lenient,
    groups=REQUEST.groups, split=REQUEST.split, escaped=REQUEST.escaped)]}


def traefik_format() -> DeferredExtraFormat:
    return DeferredExtraFormat("traefik", TRAEFIK)


def alb_format() -> DeferredExtraFormat:
    return DeferredExtraFormat("alb", ALB, absolute_urls=True,
                               narrower={**_LIGHT_CLIENT, **_LIGHT_URL},
                               light_absolute_urls=False)


def elb_format() -> DeferredExtraFormat:
    return DeferredExtraFormat("elb", ELB, absolute_urls=True,
                               narrower={**_LIGHT_CLIENT, **_LIGHT_URL},
                               light_absolute_urls=False)


def s3_format() -> DeferredExtraFormat:
    return DeferredExtraFormat("s3", S3)


def squid_format() -> DeferredExtraFormat:
    return DeferredExtraFormat("squid", SQUID)


def haproxy_format() -> DeferredExtraFormat:
    return DeferredExtraFormat("haproxy", HAPROXY, narrower=_LIGHT_CLIENT)
