"""Physics (scenes, optics, sensor, ISP) and the RTL simulation flow (rtl/)."""
