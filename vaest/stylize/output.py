"""Where the stylized pictures go: an MP4 (with the input's sound and the settings' record), a
GIF, an image, or a folder of images under their names, renamed into place once all are written.

Made by the plan from the job, so that a runner hands over finished pictures and never sees a
path or a flag.
"""

from __future__ import annotations

from collections.abc import Iterable

from vaest.io import video_out
from vaest.io.atomic import staged_folder
from vaest.io.imaging import save_image, write_image


class Output:
    """The output of a vaest.stylize.job.Job. A video's needs its frame size, and the record
    for its comment tag (vaest.stylize.settings.settings_record)."""

    def __init__(self, job, size=None, comment: str | None = None):
        settings = job.settings
        self.path, self.kind = job.output, job.output_kind
        self.rate, self.size, self.comment = job.rate, size, comment
        self.audio_source = job.input if settings.audio else None
        self.start, self.duration = settings.start or None, settings.duration
        self.crf = settings.crf

    def write(self, pictures: Iterable) -> int:
        """Write the pictures, a video's frames or an image's or folder's (name, picture) pairs
        (vaest.stylize.pictures.Pictures.named); the count written."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.kind == "gif":
            return video_out.write_gif(self.path, pictures, float(self.rate))
        if self.kind == "video":
            with video_out.VideoWriter(
                self.path, fps=self.rate, size=self.size, audio_source=self.audio_source,
                start=self.start, duration=self.duration, crf=self.crf, comment=self.comment,
            ) as writer:  # fmt: skip
                for frame in pictures:
                    writer.write(frame)
            return writer.frames
        if self.kind == "image":
            count = 0
            for _, picture in pictures:
                save_image(picture, self.path)
                count += 1
            return count
        count = 0
        with staged_folder(self.path) as tmp:
            for name, picture in pictures:
                (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                write_image(picture, tmp / name)
                count += 1
        return count
