# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers shared by the database and shared-state module tests: a policy
that shows a module's result in the reply, and parsing it back.

    rules = show("greylist", "wait")
    -> [policy main] rule = true -> WARN code=${greylist} wait=${greylist.wait} info=${greylist.info}
    code, fields = result(client.ask(...))   # -1, {"wait": "540", "info": "..."}
"""

import re
import threading

from ppolicytest import Client, encode


def show(module, *fields, call="", context=None):
    """A [policy main] whose only rule answers WARN with the module's code,
    fields and info; with `context`, a [policy CONTEXT] selected by the
    request's policy_context (put those before the plain one)."""
    ref = module + call
    parts = ["code=${%s}" % ref] + ["%s=${%s.%s}" % (f, ref, f) for f in fields] + ["info=${%s.info}" % ref]
    head = "[policy %s]\ncontext = %s\n" % (context, context) if context else "[policy main]\n"
    # One part per (indented continuation) line: config lines are short.
    return head + "rule = true -> WARN " + "\n    ".join(parts) + "\n"


_FIELD = re.compile(r"(\w+)=")


def result(action):
    """(code, {field: value}) from a reply made by show(); info is the rest of the line."""
    if action is None or not action.startswith("WARN "):
        raise AssertionError("unexpected reply %r" % action)
    text = action[len("WARN "):]
    info_at = text.find(" info=")
    info = text[info_at + len(" info="):] if info_at >= 0 else ""
    head = text[:info_at] if info_at >= 0 else text
    fields = dict(kv.split("=", 1) for kv in head.split(" ") if "=" in kv)
    fields["info"] = info
    code = int(float(fields.pop("code")))
    return code, fields


def parallel(port, requests, connections):
    """Send `requests` (a list of attribute dicts) over `connections`
    persistent connections at once; returns the replies in request order."""
    replies = [None] * len(requests)
    lock = threading.Lock()
    next_index = [0]

    def worker():
        c = Client(port, timeout=60)
        try:
            while True:
                with lock:
                    i = next_index[0]
                    next_index[0] += 1
                if i >= len(requests):
                    return
                c.send_raw(encode(requests[i]))
                replies[i] = c.read_reply()
        finally:
            c.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return replies


def burst(port, attrs, n):
    """Open `n` connections, send the same request on every one before
    reading any reply (the requests race each other), then collect the
    replies; connections stay open until all are read."""
    clients = [Client(port, timeout=120) for _ in range(n)]
    try:
        data = encode(attrs)
        for c in clients:
            c.send_raw(data)
        return [c.read_reply() for c in clients]
    finally:
        for c in clients:
            c.close()
