"""Scenes through the sensor model as DN test frames: the one place that makes them.

Verification (``verify rdc --source scenes``, ``verify top``), benches and tests all take their
scene frames from :func:`scene_dn_frames`: procedural kinds and photographs, cycled, rendered at the
frame size and captured by the default EMVA 1288 preset at the wanted ADC resolution (no binning),
with the mean sensor-plane illuminance cycled through :data:`LUX_LEVELS` so the frames cover
shot-noise-dominated darks, mid-tones and clipped highlights.
"""

from __future__ import annotations

import numpy as np

from logcam.errors import ConfigError
from logcam.sim.scenes import render_scene, scene_names
from logcam.sim.sensor import Sensor, load_sensor

#: Mean sensor-plane illuminance per frame (lux), cycled: dim to saturating.
LUX_LEVELS: tuple[float, ...] = (3.0, 30.0, 300.0, 3000.0, 30000.0)


def scene_dn_frames(height: int, width: int, adc_bits: int, n: int, seed: int,
                    lux_levels: tuple[float, ...] = LUX_LEVELS) -> np.ndarray:
    """``n`` seeded scene frames of height×width pixels as n×H×W uint16 DN (≤ 2^adc_bits − 1).

    Frame i shows scene kind ``(seed + i) mod K`` at ``lux_levels[i mod len]`` lux mean; the sensor's
    noise is drawn from ``seed + i``. A tiny ADC range below the preset's black level gets no offset.
    """
    if n < 1:
        raise ConfigError(f"frames: need at least 1, got {n}")
    try:
        spec = load_sensor(width=width, height=height, adc_bits=adc_bits, binning=1)
    except ConfigError:  # the preset's black level does not fit a tiny ADC range: no offset
        spec = load_sensor(width=width, height=height, adc_bits=adc_bits, binning=1, black_level_dn=0.0)
    sensor = Sensor(spec, seed=seed)
    kinds = scene_names()
    out = np.empty((n, height, width), dtype=np.uint16)
    for i in range(n):  # one frame per iteration; each frame is rendered vectorised
        lux = render_scene(kinds[(seed + i) % len(kinds)], height, width, seed + i,
                           mean_lux=lux_levels[i % len(lux_levels)])
        out[i] = sensor.capture(lux, rng=seed + i)
    return out
