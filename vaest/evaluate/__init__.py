"""Step 6: judges RUN/export on the held-out records of RUN/data; writes RUN/eval."""
