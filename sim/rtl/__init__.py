"""The simulator flow for generated RTL: Verilator through cocotb_tools.runner, stream drivers, benches."""
