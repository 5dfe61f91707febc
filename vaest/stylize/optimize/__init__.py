"""--method optimize: each picture found by optimisation toward the frame's content, the
paintings' texture and decode(z')'s colours. choices holds its flags without TensorFlow."""
