"""Scenes through the sensor model as RDC test frames (logcam.sim.scenes → logcam.sim.sensor)."""

from __future__ import annotations

import numpy as np

from logcam.errors import ConfigError
from logcam.rdcspec import RdcSpec

#: Mean sensor-plane illuminance per frame (lux), cycled: dim to saturating, so the frames cover
#: shot-noise-dominated darks, mid-tones and clipped highlights.
LUX_LEVELS = (3.0, 30.0, 300.0, 3000.0, 30000.0)


def sensor_frames(spec: RdcSpec, n: int, seed: int) -> np.ndarray:
    """``n`` scenes (procedural kinds and photographs, cycled) rendered at the RDC's frame size and
    captured by the default sensor preset with the RDC's ``adc_bits``: n×H×W uint16 DN."""
    from logcam.sim.scenes import render_scene, scene_names
    from logcam.sim.sensor import Sensor, load_sensor

    try:
        sensor_spec = load_sensor(width=spec.width, height=spec.height, adc_bits=spec.adc_bits, binning=1)
    except ConfigError:  # a tiny ADC range below the preset's black level: no offset
        sensor_spec = load_sensor(width=spec.width, height=spec.height, adc_bits=spec.adc_bits, binning=1,
                                  black_level_dn=0.0)
    sensor = Sensor(sensor_spec, seed=seed)
    kinds = scene_names()
    out = np.empty((n, spec.height, spec.width), dtype=np.uint16)
    for i in range(n):
        lux = render_scene(kinds[(seed + i) % len(kinds)], spec.height, spec.width, seed + i,
                           mean_lux=LUX_LEVELS[i % len(LUX_LEVELS)])
        out[i] = sensor.capture(lux, rng=seed + i)
    return out
