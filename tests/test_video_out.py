"""Writing MP4 and GIF: frame count, rate, size, audio range, even sizes, atomic output."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from conftest import FFMPEG, make_video

from vaest.io.video import VideoError, iter_frames
from vaest.io.video_out import VideoWriter, decode_audio, stream_info, write_gif

FPS = 25


def photo_frames(photo: np.ndarray, count: int, size=(180, 320)) -> list[np.ndarray]:
    """`count` crops of a photo sliding right by 4 px a frame: real content that moves."""
    height, width = size
    return [photo[:height, 4 * i : 4 * i + width] for i in range(count)]


def psnr_u8(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / mse)


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def make_chirp_video(path, seconds: int = 5):
    """A video whose audio frequency rises with time: f(t) = 300 + 200 t Hz."""
    subprocess.run(
        [
            *(FFMPEG, "-y", "-loglevel", "error"),
            *("-f", "lavfi", "-i", f"testsrc2=size=160x90:rate={FPS}"),
            *("-f", "lavfi", "-i", "aevalsrc=sin(2*PI*(300*t+100*t*t)):s=44100"),
            *("-t", str(seconds), "-pix_fmt", "yuv420p", "-c:v", "libx264", "-c:a", "aac"),
            str(path),
        ],
        check=True,
    )
    return path


def test_frames_rate_size_and_audio_cut_at_video_end(tmp_path, photos):
    source = make_video(tmp_path / "source.mp4", frames=100, audio=True)  # 4 s of sound
    frames = photo_frames(photos["astronaut"], 30)
    out = tmp_path / "out.mp4"
    with VideoWriter(out, FPS, (180, 320), audio_source=source) as writer:
        for frame in frames:
            writer.write(frame)

    info = stream_info(out)
    assert info["frames"] == 30
    assert info["fps"] == FPS
    assert (info["width"], info["height"]) == (320, 180)
    assert info["has_audio"]
    assert info["audio_duration"] == pytest.approx(30 / FPS, abs=0.025)  # an AAC frame: 23 ms
    decoded = list(iter_frames(out))
    assert psnr_u8(decoded[0], frames[0]) > 33
    assert psnr_u8(decoded[-1], frames[-1]) > 33
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4", "source.mp4"]


def test_audio_range_matches_a_trimmed_video(tmp_path):
    source = make_chirp_video(tmp_path / "chirp.mp4")
    out = tmp_path / "trimmed.mp4"
    with VideoWriter(out, FPS, (90, 160), audio_source=source, start=1.0, duration=2.0) as w:
        for i in range(2 * FPS):
            w.write(np.full((90, 160, 3), i * 5, np.uint8))

    info = stream_info(out)
    assert info["frames"] == 2 * FPS
    assert info["audio_duration"] == pytest.approx(2.0, abs=0.025)
    rate = 16000
    audio = decode_audio(out, rate)
    window = int(0.2 * rate)
    # Source seconds 1.0-1.2 average 300 + 200 * 1.1 = 520 Hz, seconds 2.8-3.0 880 Hz.
    assert dominant_frequency(audio[:window], rate) == pytest.approx(520, abs=10)
    assert dominant_frequency(audio[-window:], rate) == pytest.approx(880, abs=10)


def test_video_longer_than_its_soundtrack_keeps_every_frame(tmp_path):
    source = make_video(tmp_path / "source.mp4", frames=25, audio=True)  # 1 s of sound
    out = tmp_path / "out.mp4"
    with VideoWriter(out, FPS, (90, 160), audio_source=source) as writer:
        for i in range(75):
            writer.write(np.full((90, 160, 3), i * 3, np.uint8))
    info = stream_info(out)
    assert info["frames"] == 75
    assert info["audio_duration"] == pytest.approx(3.0, abs=0.025)  # padded with silence
    audio = decode_audio(out)
    assert np.abs(audio[: 16000 // 2]).max() > 0.1  # the sine is there
    assert np.abs(audio[-16000:]).max() < 0.01  # then silence


def test_source_without_audio_gives_a_silent_video(tmp_path, clip):
    out = tmp_path / "silent.mp4"
    with VideoWriter(out, FPS, (180, 320), audio_source=clip) as writer:
        for frame in iter_frames(clip):
            writer.write(frame)
    info = stream_info(out)
    assert info["frames"] == 100
    assert not info["has_audio"]
    assert info["audio_duration"] == 0.0


def test_odd_size_is_padded_by_edge_pixels_not_stretched(tmp_path, photos):
    image = photos["astronaut"][100:281, 50:371]  # 181 x 321
    out = tmp_path / "odd.mp4"
    with VideoWriter(out, FPS, (181, 321)) as writer:
        for _ in range(3):
            writer.write(image)
    info = stream_info(out)
    assert (info["width"], info["height"]) == (322, 182)
    decoded = next(iter_frames(out))
    # A one-pixel stretch would shift the right-hand side by up to a pixel: about 27 dB there.
    assert psnr_u8(decoded[:181, 214:321], image[:, 214:]) > 33
    assert psnr_u8(decoded[:181, :321], image) > 33
    assert np.abs(decoded[:181, 321].astype(int) - image[:, 320]).mean() < 4
    assert np.abs(decoded[181, :321].astype(int) - image[180]).mean() < 4


def test_float_frames_are_accepted(tmp_path):
    out = tmp_path / "float.mp4"
    with VideoWriter(out, FPS, (90, 160)) as writer:
        for value in (0.25, 0.75):
            writer.write(np.full((90, 160, 3), value, np.float32))
    means = [frame.mean() for frame in iter_frames(out)]
    assert means == pytest.approx([0.25 * 255, 0.75 * 255], abs=2)


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failure_midway_leaves_no_file_and_keeps_an_older_one(tmp_path, photos, error):
    out = tmp_path / "out.mp4"
    with pytest.raises(error):
        with VideoWriter(out, FPS, (180, 320)) as writer:
            for i, frame in enumerate(photo_frames(photos["coffee"], 20)):
                if i == 10:
                    raise error("stop")
                writer.write(frame)
    assert list(tmp_path.iterdir()) == []

    out.write_bytes(b"older result")
    with pytest.raises(error):
        with VideoWriter(out, FPS, (180, 320)) as writer:
            writer.write(photos["coffee"][:180, :320])
            raise error("stop")
    assert out.read_bytes() == b"older result"
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_wrong_frame_shape_is_refused_and_nothing_is_left(tmp_path):
    out = tmp_path / "out.mp4"
    with pytest.raises(ValueError, match="frame shape"):
        with VideoWriter(out, FPS, (90, 160)) as writer:
            writer.write(np.zeros((90, 160, 3), np.uint8))
            writer.write(np.zeros((91, 160, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_no_frames_is_an_error(tmp_path):
    out = tmp_path / "empty.mp4"
    with pytest.raises(VideoError, match="no frames"):
        with VideoWriter(out, FPS, (90, 160)):
            pass
    assert list(tmp_path.iterdir()) == []


def test_output_may_not_replace_its_audio_source_and_the_source_must_exist(tmp_path, clip):
    with pytest.raises(VideoError, match="overwrite"):
        VideoWriter(clip, FPS, (180, 320), audio_source=clip)
    with pytest.raises(VideoError, match="no such file"):
        VideoWriter(tmp_path / "out.mp4", FPS, (180, 320), audio_source=tmp_path / "missing.mp4")
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


def test_gif_keeps_colours(tmp_path, photos):
    image = photos["astronaut"][::2, ::2]  # 256 x 256, saturated reds, blues, skin
    frames = [np.roll(image, 8 * i, axis=1) for i in range(8)]
    out = tmp_path / "out.gif"
    assert write_gif(out, iter(frames), fps=10) == 8

    info = stream_info(out)
    assert info["frames"] == 8
    assert info["fps"] == 10
    decoded = list(iter_frames(out))
    error = np.mean(
        [np.abs(a.astype(int) - b).mean() for a, b in zip(decoded, frames, strict=True)]
    )
    # With one palette made for the clip: about 3 levels. ffmpeg's fixed rgb8 palette: about 13.
    assert error < 6
    assert [p.name for p in tmp_path.iterdir()] == ["out.gif"]


def test_gif_failure_midway_leaves_no_file(tmp_path, photos):
    def frames():
        yield photos["chelsea"]
        raise RuntimeError("model failed")

    out = tmp_path / "out.gif"
    with pytest.raises(RuntimeError):
        write_gif(out, frames(), fps=10)
    assert list(tmp_path.iterdir()) == []
