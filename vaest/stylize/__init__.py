"""Step 7: painting a look onto a video, an image or a folder, from RUN/export alone."""
