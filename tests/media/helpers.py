"""What the media tests upload: images drawn with Pillow, and a real MP4 encoded with PyAV."""

from __future__ import annotations

import io
import uuid

import av
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Persona, Staff
from tests.factories import AccountFactory, PersonaFactory, StaffFactory

FPS = 25


def png(size: tuple[int, int] = (64, 48), colour: tuple[int, ...] = (200, 30, 30), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, "PNG")
    return out.getvalue()


def half_transparent_png() -> bytes:
    """Left half opaque blue, right half fully transparent."""
    image = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    image.paste((10, 20, 200, 255), (0, 0, 20, 20))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def mp4(width: int = 800, height: int = 448, *, seconds: float = 4.0) -> bytes:
    """A real MP4 at 25 fps, a colour ramp, encoded with whatever codec PyAV has (h264 here).

    4 s by default: long enough for TikTok and Instagram (3 s at least); ``seconds=0.4``: 10 frames.
    """
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        for codec in ("libx264", "h264", "mpeg4"):
            try:
                stream = container.add_stream(codec, rate=FPS)
                break
            except (av.FFmpegError, ValueError):
                continue
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        frames = round(seconds * FPS)
        for i in range(frames):
            colour = (255 * i // frames, 100, 200 - 150 * i // frames)
            frame = av.VideoFrame.from_image(Image.new("RGB", (width, height), colour))
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def not_a_video() -> bytes:
    """Starts like an MP4 (an ftyp box), then nothing a demuxer can read."""
    return b"\x00\x00\x00\x18ftypmp42" + b"\x00\x01garbage" * 200


async def persona_on(session: AsyncSession, *channels: str) -> Persona:
    PersonaFactory.__async_session__ = session
    AccountFactory.__async_session__ = session
    persona: Persona = await PersonaFactory.create_async()
    for channel in channels:
        await AccountFactory.create_async(persona_id=persona.id, channel=channel, handle=f"h-{uuid.uuid4().hex[:6]}")
    return persona


async def staff(session: AsyncSession) -> Staff:
    StaffFactory.__async_session__ = session
    member: Staff = await StaffFactory.create_async()
    return member
