"""Step 5: writes RUN/export (write) and reads it back (read) for steps 6 and 7."""
