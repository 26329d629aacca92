# SPDX-License-Identifier: GPL-2.0-or-later
"""A small authoritative DNS server on 127.0.0.1 (UDP) that answers from a
Python dict, for data a BIND zone file cannot say: names whose lookups
time out for some types only, TXT records of any bytes (also none at all),
answers in exactly the order given. t/integration/spf_suite.py serves the
RFC 7208 test suite's zone data with it.

    dns = MemDNS()                      # a thread in this process
    dns.zone = {"example.com": [("TXT", [b"v=spf1 -all"]), ("A", "192.0.2.1")],
                "slow.example.com": [("A", "192.0.2.2"), ("TIMEOUT",)]}
    ... [dns] nameservers = 127.0.0.1, port = dns.port ...
    dns.stop()

Names are matched without regard to ASCII case. A name missing from the
dict is NXDOMAIN; a name with no record of the asked type is NODATA. A
("TIMEOUT",) entry means: a type with no record before it gets no answer
at all (the query is dropped). ("CNAME", target) answers every type with
the CNAME and what the target has (followed in the dict; a loop ends the
chain). Values: A/AAAA text addresses, ("MX", (preference, "host")) with
"" for a null MX, PTR/CNAME host names, TXT a list of bytes strings (the
strings of one record). Replies larger than the client's EDNS size (512
without EDNS) are truncated (TC set): the resolver under test (udns) does
not use TCP, so none is offered.

Not a general DNS server: one question per query, class IN, no zones,
no NS/SOA, no compression of names it writes."""

import ipaddress
import socket
import struct
import threading

TYPES = {"A": 1, "CNAME": 5, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28, "SPF": 99}
OPT = 41
NOERROR, NXDOMAIN, FORMERR = 0, 3, 1


def encode_name(name):
    """Wire form of a name: labels split on '.', any bytes in a label."""
    out = b""
    for label in name.rstrip(".").split(".") if name.strip(".") else []:
        raw = label.encode("utf-8", "surrogateescape")
        if not 0 < len(raw) <= 63:
            raise ValueError("label of %d bytes in %r" % (len(raw), name))
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def decode_name(pkt, pos):
    """(name as text, position after it) for an uncompressed name."""
    labels = []
    while True:
        n = pkt[pos]
        pos += 1
        if n == 0:
            return ".".join(labels), pos
        if n & 0xC0:
            raise ValueError("compressed name in a question")
        labels.append(pkt[pos:pos + n].decode("utf-8", "surrogateescape"))
        pos += n


def rdata(rtype, value):
    if rtype == "A":
        return ipaddress.IPv4Address(value).packed
    if rtype == "AAAA":
        return ipaddress.IPv6Address(value).packed
    if rtype == "MX":
        pref, host = value
        return struct.pack("!H", int(pref)) + encode_name(host)
    if rtype in ("PTR", "CNAME"):
        return encode_name(value)
    if rtype in ("TXT", "SPF"):
        out = b""
        for s in value:
            for i in range(0, max(len(s), 1), 255):  # long strings: 255-byte pieces
                piece = s[i:i + 255]
                out += bytes([len(piece)]) + piece
        return out
    raise ValueError("unknown record type %r" % rtype)


class MemDNS:
    def __init__(self, zone=None, ttl=60):
        self.zone = zone or {}
        self.ttl = ttl
        self.queries = []  # (name, type name) of every query, for tests that count
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def dns_section(self, timeout="500ms"):
        return "[dns]\nnameservers = 127.0.0.1\nport = %d\ntimeout = %s\n" % (self.port, timeout)

    def stop(self):
        self._stop = True
        try:
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"", ("127.0.0.1", self.port))
        except OSError:
            pass
        self._thread.join(5)
        self.sock.close()

    def _serve(self):
        while not self._stop:
            try:
                pkt, peer = self.sock.recvfrom(65535)
            except OSError:
                return
            if self._stop:
                return
            try:
                reply = self.answer(pkt)
            except Exception:  # a malformed query: no answer, as a server that drops it
                reply = None
            if reply is not None:
                self.sock.sendto(reply, peer)

    def _entries(self, name):
        return self.zone.get(name.lower().rstrip("."))

    def lookup(self, name, qtype):
        """(rcode, [(owner, type, rdata bytes)]), or None for no answer."""
        answers = []
        seen = set()
        while True:
            entries = self._entries(name)
            if entries is None:
                return (NXDOMAIN if not answers else NOERROR), answers
            found = False
            cname = None
            for e in entries:
                if e[0] == "TIMEOUT":
                    if not found:
                        return None
                    break
                rtype, value = e
                if rtype == "CNAME" and qtype != "CNAME":
                    cname = value
                    answers.append((name, "CNAME", rdata("CNAME", value)))
                    found = True
                    break
                if rtype == qtype:
                    found = True
                    answers.append((name, rtype, rdata(rtype, value)))
            if cname is None:
                return NOERROR, answers
            seen.add(name.lower().rstrip("."))
            if cname.lower().rstrip(".") in seen:
                return NOERROR, answers  # a CNAME loop: the chain so far
            name = cname

    def answer(self, pkt):
        qid, flags, qd, _an, _ns, ar = struct.unpack("!6H", pkt[:12])
        if qd != 1:
            return struct.pack("!6H", qid, 0x8000 | FORMERR, 0, 0, 0, 0)
        qname, pos = decode_name(pkt, 12)
        qtype_num, qclass = struct.unpack("!HH", pkt[pos:pos + 4])
        question = pkt[12:pos + 4]
        pos += 4
        edns = 0
        for _ in range(ar):  # the client's EDNS buffer size, if it has an OPT record
            if pkt[pos] == 0 and struct.unpack("!H", pkt[pos + 1:pos + 3])[0] == OPT:
                edns = struct.unpack("!H", pkt[pos + 3:pos + 5])[0]
            break
        names = {v: k for k, v in TYPES.items()}
        qtype = names.get(qtype_num, "TYPE%d" % qtype_num)
        self.queries.append((qname, qtype))
        result = self.lookup(qname, qtype) if qclass == 1 else (NOERROR, [])
        if result is None:
            return None
        rcode, answers = result
        body = b""
        count = 0
        limit = max(edns, 512) - len(question) - 12 - (11 if edns else 0)
        tc = 0
        for owner, rtype, rd in answers:
            rr = encode_name(owner) + struct.pack("!HHIH", TYPES[rtype], 1, self.ttl, len(rd)) + rd
            if len(body) + len(rr) > limit:
                tc = 0x0200
                break
            body += rr
            count += 1
        rflags = 0x8000 | 0x0400 | tc | (flags & 0x0100) | rcode  # QR AA TC RD
        opt = struct.pack("!BHHIH", 0, OPT, 4096, 0, 0) if edns else b""
        return (struct.pack("!6H", qid, rflags, 1, count, 0, 1 if edns else 0) + question + body +
                opt)
