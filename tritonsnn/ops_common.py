"""Constants shared by the functional layer, the ops and both backends."""
RESET_SUBTRACT, RESET_ZERO, RESET_NONE = 0, 1, 2
RESET_MODES = {"subtract": RESET_SUBTRACT, "zero": RESET_ZERO, "none": RESET_NONE}

# Second-order family (kernels/synaptic.py): which readout/reset structure a kernel compiles.
NEURON_SYNAPTIC, NEURON_ALPHA = 0, 1
