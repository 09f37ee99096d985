#!/usr/bin/env python3
"""Writes fuzz seeds cut from the lab fixtures (real captures) into
fuzz/corpus/<target>/ (git-ignored):

- decode: one frame each, `[link selector 0 = Ethernet] + frame`, from
  every fixture's captures (TCP, UDP, ICMP errors, ARP, IPv6, IPIP);
- engine: multi-point streams `[point, link selector, len_hi, len_lo,
  frame]...` as src/fuzzing.rs reads them, up to eight 4 KiB stretches per
  fixture, the frames of four capture points interleaved by timestamp.

Usage: python3 fuzz/seeds.py [FIXTURE|FILE.pcap...]   (default: every fixture)
e.g. python3 fuzz/seeds.py && python3 fuzz/seeds.py ../shared/corpus/public/vrrp.pcap
"""
import hashlib
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "fixtures")
OUT = os.path.join(ROOT, "fuzz", "corpus")


def frames(path):
    """(ts_ns, frame) of a classic pcap file with Ethernet link type."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    (link,) = struct.unpack(e + "I", data[20:24])
    if link != 1:
        return
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(e + "IIII", data[off : off + 16])
        off += 16
        pkt = data[off : off + incl]
        off += incl
        yield sec * 1_000_000_000 + (frac if nano else frac * 1000), pkt


def write(target, blob):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(blob).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(blob)


def main():
    names = sys.argv[1:] or sorted(os.listdir(FIX))
    nd = ne = 0
    for name in names:
        if name.endswith(".pcap") and os.path.isfile(name):
            d, pcaps = os.path.dirname(os.path.abspath(name)), [os.path.basename(name)]
        else:
            d = os.path.join(FIX, name)
            pcaps = sorted(p for p in os.listdir(d) if p.endswith(".pcap")) if os.path.isdir(d) else []
        seen = set()
        stream = []
        # Prefer the director's and real servers' points: they see both
        # sides of the rewrite.
        pcaps.sort(key=lambda p: (not p.startswith("director"), p))
        for i, p in enumerate(pcaps):
            for ts, pkt in frames(os.path.join(d, p)):
                # One decode seed per distinct header shape (first 54 bytes).
                key = pkt[12:14] + pkt[23:24] + bytes([len(pkt) // 64])
                if key not in seen:
                    seen.add(key)
                    write("decode", b"\x00" + pkt[:4096])
                    nd += 1
                if i < 4:
                    stream.append((ts, i, pkt))
        stream.sort(key=lambda t: (t[0], t[1]))
        # Up to 8 consecutive stretches of the stream, 4 KiB each.
        blob = bytearray()
        kept = 0
        for _ts, i, pkt in stream:
            pkt = pkt[:512]
            rec = bytes([i, 0, len(pkt) >> 8, len(pkt) & 0xFF]) + pkt
            if len(blob) + len(rec) > 4096:
                write("engine", bytes(blob))
                ne += 1
                kept += 1
                blob = bytearray()
                if kept == 8:
                    break
            blob += rec
        if blob and kept < 8:
            write("engine", bytes(blob))
            ne += 1
    print(f"{nd} decode seeds, {ne} engine seeds in {OUT}")


if __name__ == "__main__":
    main()
