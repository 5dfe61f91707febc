"""Reading and writing pictures and videos: images, frames in, H.264 out, atomic folders, grids."""
