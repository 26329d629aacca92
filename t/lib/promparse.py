# SPDX-License-Identifier: GPL-2.0-or-later
"""A strict parser of the Prometheus text exposition format (version 0.0.4),
standing in for `promtool check metrics`, which is not installed here.

parse(text) returns {(sample_name, ((label, value), ...)): float} and raises
FormatError listing every problem found:
- metric and label names match the format's grammar; label values use only
  the escapes \\\\, \\" and \\n; no label repeats within a sample;
- at most one HELP and one TYPE line per family, TYPE before the family's
  first sample, a known type, and every family's samples in one block;
- every sample belongs to a family with a TYPE line (strict: no untyped);
- counter samples are named like their family and are >= 0;
- histograms: only NAME_bucket (with le), NAME_sum and NAME_count samples;
  per label set the buckets are in increasing le order, cumulative counts
  never decrease, a +Inf bucket exists and equals NAME_count, NAME_sum exists;
- no sample (name + labels) appears twice; the text ends with a newline."""

import math
import re

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


class FormatError(AssertionError):
    pass


def _value(text):
    if text in ("+Inf", "Inf"):
        return math.inf
    if text == "-Inf":
        return -math.inf
    if text == "NaN":
        return math.nan
    if not re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?", text):
        raise ValueError("not a number: %r" % text)
    return float(text)


def _labels(text, where, errors):
    """Parse `a="x",b="y"` (the part inside braces); returns a tuple of pairs."""
    out = []
    i = 0
    n = len(text)
    while i < n:
        m = re.match(r"([^=]*)=\"", text[i:])
        if not m:
            errors.append("%s: malformed labels %r" % (where, text))
            return tuple(out)
        name = m.group(1)
        if not LABEL.match(name):
            errors.append("%s: invalid label name %r" % (where, name))
        i += m.end()
        value = []
        while True:
            if i >= n:
                errors.append("%s: unterminated label value in %r" % (where, text))
                return tuple(out)
            c = text[i]
            if c == "\\":
                nxt = text[i + 1:i + 2]
                if nxt not in ("\\", '"', "n"):
                    errors.append("%s: invalid escape \\%s in label %s" % (where, nxt, name))
                value.append({"n": "\n"}.get(nxt, nxt))
                i += 2
                continue
            if c == '"':
                i += 1
                break
            if c == "\n":
                errors.append("%s: raw newline in label %s" % (where, name))
            value.append(c)
            i += 1
        if any(k == name for k, _ in out):
            errors.append("%s: label %s repeated" % (where, name))
        out.append((name, "".join(value)))
        if i < n:
            if text[i] != ",":
                errors.append("%s: expected ',' between labels in %r" % (where, text))
                return tuple(out)
            i += 1
    return tuple(out)


def _family_of(sample, types):
    """The family a sample name belongs to, given the TYPE lines seen."""
    for suffix in ("_bucket", "_sum", "_count"):
        if sample.endswith(suffix):
            base = sample[:-len(suffix)]
            if types.get(base) in ("histogram", "summary"):
                return base
    return sample


def parse(text):
    errors = []
    samples = {}
    types, helps = {}, {}
    order = []          # families in the order their blocks start
    closed = set()      # families whose block has ended
    current = None
    series = {}         # histogram (family, labels without le) -> data
    if text and not text.endswith("\n"):
        errors.append("the text does not end with a newline")
    for no, line in enumerate(text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"), 1):
        where = "line %d" % no
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 2 and parts[1] in ("HELP", "TYPE"):
                if len(parts) < 3:
                    errors.append("%s: %s without a metric name" % (where, parts[1]))
                    continue
                fam = parts[2]
                if not NAME.match(fam):
                    errors.append("%s: invalid metric name %r" % (where, fam))
                if fam != current:
                    if fam in closed or fam in order:
                        errors.append("%s: %s for %s after its block ended" % (where, parts[1], fam))
                    if current:
                        closed.add(current)
                    current = fam
                    if fam not in order:
                        order.append(fam)
                if parts[1] == "TYPE":
                    t = parts[3].strip() if len(parts) > 3 else ""
                    if fam in types:
                        errors.append("%s: second TYPE line for %s" % (where, fam))
                    if t not in TYPES:
                        errors.append("%s: unknown type %r for %s" % (where, t, fam))
                    if any(_family_of(s[0], {fam: t}) == fam for s in samples):
                        errors.append("%s: TYPE for %s after its samples" % (where, fam))
                    types[fam] = t
                else:
                    if fam in helps:
                        errors.append("%s: second HELP line for %s" % (where, fam))
                    helps[fam] = parts[3] if len(parts) > 3 else ""
            continue
        m = re.match(r"([^{\s]+)(\{(.*)\})?\s+(\S+)(\s+(-?\d+))?\s*\Z", line)
        if not m:
            errors.append("%s: malformed sample %r" % (where, line))
            continue
        name, labels_text, value_text = m.group(1), m.group(3), m.group(4)
        if not NAME.match(name):
            errors.append("%s: invalid metric name %r" % (where, name))
        labels = _labels(labels_text, where, errors) if labels_text else ()
        try:
            value = _value(value_text)
        except ValueError as e:
            errors.append("%s: %s" % (where, e))
            continue
        fam = _family_of(name, types)
        if fam != current:
            if fam in closed or fam in order:
                errors.append("%s: sample of %s outside its family's block" % (where, fam))
            if current:
                closed.add(current)
            current = fam
            if fam not in order:
                order.append(fam)
        kind = types.get(fam)
        if kind is None:
            errors.append("%s: %s has no TYPE line" % (where, name))
        elif kind == "counter":
            if name != fam:
                errors.append("%s: counter sample %s is not named like its family %s" % (where, name, fam))
            if not value >= 0:
                errors.append("%s: counter %s is negative or NaN" % (where, name))
        elif kind == "gauge" and name != fam:
            errors.append("%s: gauge sample %s is not named like its family %s" % (where, name, fam))
        elif kind == "histogram":
            if name == fam:
                errors.append("%s: histogram sample %s lacks _bucket/_sum/_count" % (where, name))
            rest = tuple(kv for kv in labels if kv[0] != "le")
            s = series.setdefault((fam, rest), {"buckets": [], "sum": None, "count": None, "line": no})
            if name.endswith("_bucket"):
                le = [v for k, v in labels if k == "le"]
                if not le:
                    errors.append("%s: bucket without le label" % where)
                else:
                    try:
                        s["buckets"].append((_value(le[0]), value, no))
                    except ValueError:
                        errors.append("%s: le %r is not a number" % (where, le[0]))
            elif name.endswith("_sum"):
                s["sum"] = value
            elif name.endswith("_count"):
                s["count"] = value
        key = (name, labels)
        if key in samples:
            errors.append("%s: duplicate sample %s%s" % (where, name, dict(labels)))
        samples[key] = value
    for (fam, rest), s in series.items():
        where = "histogram %s%s (line %d)" % (fam, dict(rest), s["line"])
        b = s["buckets"]
        les = [x[0] for x in b]
        if les != sorted(les) or len(set(les)) != len(les):
            errors.append("%s: buckets not in increasing le order" % where)
        counts = [x[1] for x in b]
        if any(counts[i] > counts[i + 1] for i in range(len(counts) - 1)):
            errors.append("%s: cumulative bucket counts decrease: %s" % (where, counts))
        if not b or b[-1][0] != math.inf:
            errors.append("%s: no le=\"+Inf\" bucket" % where)
        elif s["count"] is None:
            errors.append("%s: no _count" % where)
        elif s["count"] != b[-1][1]:
            errors.append("%s: _count %s differs from the +Inf bucket %s" % (where, s["count"], b[-1][1]))
        if s["sum"] is None:
            errors.append("%s: no _sum" % where)
    if errors:
        raise FormatError("invalid exposition text:\n  " + "\n  ".join(errors[:50]))
    return samples


def value(samples, name, **labels):
    """The value of one sample (labels given as keyword arguments), or None."""
    want = dict(labels)
    for (n, ls), v in samples.items():
        if n == name and dict(ls) == want:
            return v
    return None


def total(samples, name, **labels):
    """Sum over every sample of `name` whose labels include `labels`."""
    out = 0.0
    for (n, ls), v in samples.items():
        d = dict(ls)
        if n == name and all(d.get(k) == str(x) for k, x in labels.items()):
            out += v
    return out


def fetch(port, path="/metrics", method="GET", host="127.0.0.1"):
    """One HTTP request to a statistics listener: (status, headers, body)."""
    import http.client
    c = http.client.HTTPConnection(host, port, timeout=10)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        c.close()


def scrape(port):
    """GET /metrics, checked (200, content type, strict format): (samples, text)."""
    status, headers, body = fetch(port)
    if status != 200:
        raise AssertionError("GET /metrics: status %d" % status)
    if not headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"):
        raise AssertionError("GET /metrics: content type %r" % headers.get("Content-Type"))
    return parse(body), body


def wait_for(port, name, want, timeout=10, **labels):
    """Poll until sample `name` (with `labels`) equals `want` (workers add
    their counts every 100ms); returns the samples of that scrape."""
    import time
    end = time.time() + timeout
    got = None
    while time.time() < end:
        samples, _ = scrape(port)
        got = value(samples, name, **labels)
        if got == want:
            return samples
        time.sleep(0.1)
    raise AssertionError("%s%s never reached %s (last %s)" % (name, labels, want, got))
