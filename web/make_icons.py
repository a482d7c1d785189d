"""Draws Mimimi's app icons (PNG, 192 and 512 px) with the standard library only: a dark blue
square with a white sound wave across it and a red dot. Run once; the PNGs are committed."""
import math, struct, zlib, sys, os

def png(size, path):
    bg, fg, dot = (0x1f, 0x3b, 0x57), (255, 255, 255), (0xe0, 0x4a, 0x3c)
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            u, v = x / size, y / size
            c = bg
            wave = 0.5 + 0.18 * math.sin(u * 4 * math.pi) * math.exp(-((u - 0.5) ** 2) * 6)
            if 0.12 < u < 0.88 and abs(v - wave) < 0.035:
                c = fg
            if (u - 0.78) ** 2 + (v - 0.24) ** 2 < 0.08 ** 2:
                c = dot
            row += bytes(c)
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
    data += chunk(b"IDAT", raw) + chunk(b"IEND", b"")
    open(path, "wb").write(data)

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pwa")
for s in (192, 512):
    png(s, os.path.join(here, f"icon-{s}.png"))
