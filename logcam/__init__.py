"""logcam: a hardware co-design simulator for tinyML vision.

Physics (float models), bit-exact integer golden models (PyTorch) and RTL (Amaranth → Verilog →
Verilator) of a log-gradient image sensor and a small CNN accelerator, with an energy model in
nJ/pixel. See README.md and docs/architecture.md.
"""

__version__ = "0.1.0"
