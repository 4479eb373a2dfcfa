"""The Prometheus counters of GET /metrics that the tools read."""
import re

_TX = re.compile(r'^(zerosum_tx_\w+_total)\{endpoint="(\w+)"\}\s+(\d+)\s*$', re.M)
_PLAIN = re.compile(r"^(zerosum_(?:db_connects|worker_\w+)_total)\s+(\d+)\s*$", re.M)
_TX_FAMILY = re.compile(r"^# TYPE zerosum_tx_retries_total counter", re.M)


def counters(text):
    """{(name, endpoint): value} for the zerosum_tx_*_total{endpoint} lines and
    {(name, ""): value} for the unlabelled db_connects / worker_* counters."""
    out = {(m.group(1), m.group(2)): int(m.group(3)) for m in _TX.finditer(text)}
    out.update({(m.group(1), ""): int(m.group(2)) for m in _PLAIN.finditer(text)})
    return out


def tx_retries(text, endpoint):
    """zerosum_tx_retries_total{endpoint=...}; 0 while the family is listed
    without that endpoint's line (an endpoint appears once it has run a
    transaction); None if the text has no such family."""
    v = counters(text).get(("zerosum_tx_retries_total", endpoint))
    if v is not None:
        return v
    return 0 if _TX_FAMILY.search(text) else None


def requests_total(text, endpoint):
    """zerosum_requests_total{endpoint=...} summed over statuses."""
    return sum(int(m.group(1)) for m in re.finditer(
        r'^zerosum_requests_total\{endpoint="%s",status="[^"]*"\}\s+(\d+)\s*$' % re.escape(endpoint), text, re.M))
