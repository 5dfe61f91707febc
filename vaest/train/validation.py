"""What both trainings measure and show at their saves: PSNR per domain and a fixed preview set."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from vaest.data.pipeline import validation_dataset
from vaest.data.records import Manifest

PREVIEW_IMAGES = 8


def preview_batch(data_dir: Path, manifest: Manifest, count: int = PREVIEW_IMAGES) -> np.ndarray:
    """A fixed set of held-out images, spread over the domains, for previews."""
    per_domain: dict[int, list] = defaultdict(list)
    want = max(1, count // max(1, len(manifest.domains)))
    for images, domain_ids in validation_dataset(data_dir, manifest, 64):
        for image, domain in zip(images.numpy(), domain_ids.numpy(), strict=True):
            if len(per_domain[int(domain)]) < want:
                per_domain[int(domain)].append(image)
        if all(len(per_domain[d.id]) >= want for d in manifest.domains if d.counts.get("val")):
            break
    picked = [image for d in sorted(per_domain) for image in per_domain[d]][:count]
    return np.stack(picked) if picked else np.zeros((0, *manifest.image_size, 3), np.uint8)


def psnr_from_sse(sse, pixels_per_image: int):
    mse = np.maximum(np.asarray(sse) / pixels_per_image, 1e-10)
    return 10.0 * np.log10(1.0 / mse)


def psnr_by_domain(sse, domain_ids, names: dict[int, str], pixels_per_image: int):
    """Mean PSNR per domain name, from per-image sums of squared errors and their domain ids."""
    sse, domain_ids = np.asarray(sse), np.asarray(domain_ids)
    return {
        names[int(d)]: float(np.mean(psnr_from_sse(sse[domain_ids == d], pixels_per_image)))
        for d in sorted(set(domain_ids.tolist()))
    }


class HeldOut:
    """The validation split of RUN/data, scored image by image for PSNR per domain."""

    def __init__(self, data_dir: Path, manifest: Manifest, batch_size: int):
        self.dataset = validation_dataset(data_dir, manifest, batch_size)
        self.names = {d.id: d.name for d in manifest.domains}
        self.pixels = int(np.prod(manifest.image_size)) * 3

    def score(self, per_image) -> tuple[list[np.ndarray], np.ndarray]:
        """per_image(images) -> a tuple of per-image tensors; returns them gathered over every
        held-out image, as numpy arrays, with the images' domain ids."""
        columns, ids = [], []
        for images, domain_ids in self.dataset:
            columns.append([t.numpy() for t in per_image(images)])
            ids.append(domain_ids.numpy())
        if not ids:
            return [], np.zeros(0, np.int64)
        return [np.concatenate(c) for c in zip(*columns, strict=True)], np.concatenate(ids)

    def psnr(self, sse, ids) -> dict[str, float]:
        """Mean PSNR per domain name from per-image sums of squared errors."""
        return psnr_by_domain(sse, ids, self.names, self.pixels)
