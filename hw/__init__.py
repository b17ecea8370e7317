"""Amaranth HDL: the column-parallel RDC (rdc), the CNN accelerator (accel/), the sensor-to-label top."""
