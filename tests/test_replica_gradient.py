"""The VAE's step on two replicas is the step of the whole batch: each replica differentiates its
share of the global mean (vaest.models.vae.replica_share) and the strategy sums the replicas'
gradients. test_multi_worker follows two workers' loss curve, which batch noise hides a missing
share in; here one step on two logical CPUs is compared with the same step computed by hand.

Two logical devices must be made before TensorFlow starts, so the step runs in a child process:
this file, run as a script, prints {"error", "step"}: the largest difference between the two
replicas' updated weights and the hand-made ones, and the largest weight change.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LEARNING_RATE = 1e-4
NOISE_STRIDE = 7919  # vaest.models.vae: replica r draws its latent noise with seed + 7919 r


def replica_step(share: str) -> dict:
    """Run this file with the replica share "kept" or "dropped" (each replica differentiating
    the whole mean, as a missing share would)."""
    done = subprocess.run(
        [sys.executable, __file__, share], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_two_replicas_take_the_whole_batchs_step():
    found = replica_step("kept")
    assert found["step"] > 1e-4 and found["error"] < 1e-3 * found["step"], found


def test_the_comparison_sees_a_missing_share():
    found = replica_step("dropped")  # the replicas' summed gradient is twice the batch's
    assert found["error"] > 0.5 * found["step"], found


def main(share: str) -> None:
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras

    from vaest.models import vae as vae_module
    from vaest.models.config import VaeConfig

    if share == "dropped":
        vae_module.replica_share = lambda loss: loss
    keras.utils.set_random_seed(0)
    # no batch norm: its statistics are per replica, and would differ from the whole batch's
    config = VaeConfig(
        image_size=(64, 64), filters=(8, 8, 16, 16, 16, 16), kernels=(3,) * 6, latent_dim=16,
        normalization="none",
    )  # fmt: skip
    images = np.random.default_rng(0).uniform(size=(8, 64, 64, 3)).astype(np.float32)

    def made():
        model = vae_module.VAE(config, seed=0)
        model(images[:1])
        model.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE))
        return model

    with tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).scope():
        two = made()
    start = two.get_weights()
    two.fit(tf.data.Dataset.from_tensor_slices(images).batch(8), steps_per_epoch=1, verbose=0)

    one = made()
    one.set_weights(start)
    with tf.GradientTape() as tape:
        means = []
        for replica, half in enumerate((images[:4], images[4:])):
            one.sample_seed = NOISE_STRIDE * replica  # replica r's noise, on one device
            sse, kl = one._loss_terms(half, training=True, sample=True)
            means.append(tf.reduce_mean(sse + one.beta_now() * kl))
        loss = (means[0] + means[1]) / 2.0  # the mean over the whole batch of 8
    grads = tape.gradient(loss, one.trainable_variables)
    moved = [-LEARNING_RATE * g.numpy() for g in grads]
    changes = [after - before for after, before in zip(two.get_weights(), start, strict=True)]
    error = max(float(np.abs(c - m).max()) for c, m in zip(changes, moved, strict=True))
    print(json.dumps({"error": error, "step": max(float(np.abs(m).max()) for m in moved)}))


if __name__ == "__main__":
    main(sys.argv[1])
