"""Synthetic media for the probe, the tests and the benchmark: moving colour bars and a tone.

Small frames on purpose: every aiortc peer encodes in Python-driven codecs on the same two
cores as the server, and the point is to prove media flows, not to judge picture quality.
"""

from __future__ import annotations

import array
import asyncio
import fractions
import math
import time

from aiortc import AudioStreamTrack, VideoStreamTrack
from av import AudioFrame, VideoFrame

SAMPLE_RATE = 48_000
PTIME = 0.020


class PatternVideoTrack(VideoStreamTrack):
    """Vertical luma bars that scroll one step per frame (so the encoder has motion to send)."""

    def __init__(self, width: int = 160, height: int = 120) -> None:
        super().__init__()
        self.width, self.height = width, height
        self._frame_no = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=self.width, height=self.height, format="yuv420p")
        luma, cb, cr = frame.planes
        bar = max(1, luma.line_size // 8)
        row = bytes(16 + 28 * ((x // bar) % 8) for x in range(luma.line_size))
        shift = (self._frame_no * 4) % luma.line_size
        row = row[shift:] + row[:shift]
        luma.update(row * luma.height)
        cb.update(bytes([128]) * cb.buffer_size)
        cr.update(bytes([128]) * cr.buffer_size)
        self._frame_no += 1
        frame.pts, frame.time_base = pts, time_base
        return frame


class ToneAudioTrack(AudioStreamTrack):
    """A 440 Hz sine at 48 kHz mono, paced in real time in 20 ms frames."""

    def __init__(self, frequency: float = 440.0, level: float = 0.2) -> None:
        super().__init__()
        step = 2 * math.pi * frequency / SAMPLE_RATE
        samples = array.array("h", (int(level * 32767 * math.sin(step * i)) for i in range(SAMPLE_RATE)))
        self._second = samples.tobytes()  # one second loops seamlessly for whole-Hz tones
        self._timestamp = 0
        self._t0: float | None = None

    async def recv(self) -> AudioFrame:
        samples = int(PTIME * SAMPLE_RATE)
        if self._t0 is None:
            self._t0 = time.time()
        else:
            self._timestamp += samples
            await asyncio.sleep(self._t0 + self._timestamp / SAMPLE_RATE - time.time())
        offset = (self._timestamp % SAMPLE_RATE) * 2
        chunk = self._second[offset : offset + samples * 2]
        frame = AudioFrame(format="s16", layout="mono", samples=samples)
        frame.planes[0].update(chunk)
        frame.pts = self._timestamp
        frame.sample_rate = SAMPLE_RATE
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        return frame
