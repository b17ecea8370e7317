"""Input formats: the quantized log-gradient formats are the RDC golden model's codes, the others follow
their definitions; every format works as a DataLoader transform."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from logcam.errors import ConfigError, InputError
from logcam.nn.data import RawDataset
from logcam.nn.formats import FORMATS, get_format
from logcam.nn.golden.rdc import fp_loggrad, rdc_codes
from logcam.rdcspec import RdcSpec


@pytest.fixture
def frames(gen) -> torch.Tensor:
    """Frames with smooth structure and noise over the whole 10-bit range (N×H×W int32 DN)."""
    base = torch.rand(5, 1, 6, 7, generator=gen) * 1023
    img = torch.nn.functional.interpolate(base, size=(24, 28), mode="bilinear", align_corners=False)[:, 0]
    noisy = img * torch.exp(0.3 * torch.randn(img.shape, generator=gen))
    return noisy.round().clamp(0, 1023).to(torch.int32)


@pytest.mark.parametrize("name,levels", [("loggrad_q3", 3), ("loggrad_q5", 5)])
def test_quantized_formats_are_the_rdc_codes(frames: torch.Tensor, name: str, levels: int) -> None:
    fmt = get_format(name, adc_bits=10)
    spec = RdcSpec(width=28, height=24, adc_bits=10, levels=levels, mode="sum", lanes=1)
    want = rdc_codes(frames, spec)
    got = fmt.integer(frames)
    assert got.dtype == torch.int8 and torch.equal(got, want)
    assert torch.equal(fmt(frames), want.to(torch.float32))
    assert got.abs().max() == (levels - 1) // 2  # the full code range occurs
    assert fmt.netspec_format == "codes" and fmt.netspec_levels == levels


def test_fp_loggrad_is_the_golden_float_loggradient(frames: torch.Tensor) -> None:
    spec = RdcSpec(width=28, height=24, adc_bits=10, mode="sum", lanes=1)
    assert torch.equal(get_format("fp_loggrad")(frames), fp_loggrad(frames, spec))
    # log(P+1) of a pixel against its left and upper neighbours, at one interior point
    a = frames[0].to(torch.float64) + 1
    want = 2 * torch.log(a[5, 6]) - torch.log(a[5, 5]) - torch.log(a[4, 6])
    assert get_format("fp_loggrad")(frames)[0, 0, 5, 6].item() == pytest.approx(want.item(), rel=1e-5)


def test_raw16_and_jpeg8_follow_their_definitions() -> None:
    white = 1023
    dn = torch.tensor([[0, white, round(white * 0.5**2.2), 100]], dtype=torch.int32).repeat(2, 1)
    raw = get_format("raw16", adc_bits=10)(dn)
    assert torch.allclose(raw[0, 0], torch.tensor([0.0, 1.0, round(white * 0.5**2.2) / white, 100 / white]))
    j = get_format("jpeg8", adc_bits=10)
    g = j.integer(dn)[0, 0, 0].tolist()
    assert g[0] == 0 and g[1] == 255 and g[2] in (127, 128)
    assert g[3] == int(np.floor((100 / white) ** (1 / 2.2) * 255 + 0.5))
    assert torch.allclose(j(dn), j.integer(dn).float() / 255)
    assert j.netspec_format == "uint8" and j.integer(dn).dtype == torch.uint8


def test_real_jpeg_compression_changes_values_but_stays_close(frames: torch.Tensor) -> None:
    plain = get_format("jpeg8").integer(frames).float()
    q20 = get_format("jpeg8", quality=20).integer(frames).float()
    q95 = get_format("jpeg8", quality=95).integer(frames).float()
    assert not torch.equal(plain, q20)
    assert (q95 - plain).abs().mean() < (q20 - plain).abs().mean() < 20


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_format_is_a_dataloader_transform(frames: torch.Tensor, name: str) -> None:
    ds = RawDataset(frames, torch.arange(5) % 3, 10, ("a", "b", "c"), transform=get_format(name, adc_bits=10))
    x, y = next(iter(DataLoader(ds, batch_size=4, shuffle=False)))
    assert x.shape == (4, 1, 24, 28) and x.dtype == torch.float32 and y.tolist() == [0, 1, 2, 0]
    assert torch.equal(x, get_format(name, adc_bits=10)(frames[:4]))


def test_bad_names_and_inputs_are_one_line_errors(frames: torch.Tensor) -> None:
    with pytest.raises(ConfigError) as err:
        get_format("loggrad_q7")
    assert "raw16" in str(err.value) and "loggrad_q5" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="no integer form"):
        get_format("raw16").integer(frames)
    with pytest.raises(ConfigError, match="quality"):
        get_format("jpeg8", quality=0)
    with pytest.raises(InputError, match="integers"):
        get_format("raw16")(frames.float())
    with pytest.raises(InputError, match=r"0\.\.255"):
        get_format("loggrad_q3", adc_bits=8)(frames)
