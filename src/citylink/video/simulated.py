"""A simulated camera: a moving picture that shows which camera it is and when, so the demo has video.

Real deployments give cameras stream URLs (RTSP through a media server, HLS, WebRTC); this source only
stands in where there is no camera behind the id.
"""

from __future__ import annotations

import io
import math
import zlib
from datetime import datetime

from PIL import Image, ImageDraw

WIDTH, HEIGHT = 320, 180


def render_frame(camera_id: str, name: str, at: datetime) -> bytes:
    """One JPEG frame: a street-like scene whose moving parts advance with the clock."""
    seed = zlib.crc32(camera_id.encode())
    hue = seed % 360
    image = Image.new("RGB", (WIDTH, HEIGHT), (22, 28, 36))
    draw = ImageDraw.Draw(image)
    horizon = 70 + seed % 30
    draw.rectangle((0, horizon, WIDTH, HEIGHT), fill=(48, 52, 58))
    for i in range(6):  # buildings, fixed per camera
        x = (seed >> i) % WIDTH
        h = 20 + (seed >> (i + 3)) % 50
        draw.rectangle((x, horizon - h, x + 40, horizon), fill=_tint(hue, 0.25 + i * 0.05))
    t = at.timestamp()
    for lane in range(3):  # traffic moving along the street
        speed = 40 + lane * 25
        x_px = (t * speed + lane * 97 + seed) % (WIDTH + 60) - 30
        y_px = horizon + 20 + lane * 28
        draw.rectangle((x_px, y_px, x_px + 28, y_px + 12), fill=_tint(hue + 120 * lane, 0.8))
    sweep = (math.sin(t / 2) + 1) / 2 * WIDTH  # a scanning line, so a frozen stream is obvious
    draw.line((sweep, 0, sweep, HEIGHT), fill=(90, 160, 90), width=1)
    draw.rectangle((0, 0, WIDTH, 18), fill=(0, 0, 0))
    draw.text((4, 3), f"{camera_id}  {at:%Y-%m-%d %H:%M:%S}", fill=(235, 235, 235))
    draw.text((4, HEIGHT - 14), f"SIMULATED  {name[:40]}", fill=(255, 200, 80))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=70)
    return out.getvalue()


def _tint(hue: float, light: float) -> tuple[int, int, int]:
    r = 0.5 + 0.5 * math.cos(math.radians(hue))
    g = 0.5 + 0.5 * math.cos(math.radians(hue - 120))
    b = 0.5 + 0.5 * math.cos(math.radians(hue + 120))
    return int(255 * r * light), int(255 * g * light), int(255 * b * light)
