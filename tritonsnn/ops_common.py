"""Constants and output layouts shared by the functional layer, the ops and both backends."""
import torch

from . import _alloc

RESET_SUBTRACT, RESET_ZERO, RESET_NONE = 0, 1, 2
RESET_MODES = {"subtract": RESET_SUBTRACT, "zero": RESET_ZERO, "none": RESET_NONE}


def lif_outputs(x, delay: bool, need_post: bool):
    """Allocate ``(spikes, pre, reset_bits, post)`` for ``x [T, B, N]``: spikes in x's dtype,
    fp32 pre-reset membrane, and, without ``delay``, int8 reset bits and (if asked) fp32
    post-reset membrane; unused outputs are empty."""
    T, B, N = x.shape
    f32 = torch.float32
    spikes = _alloc.empty(T, B, N, dtype=x.dtype, device=x.device)
    pre = _alloc.empty(T, B, N, dtype=f32, device=x.device)
    bits = _alloc.empty(*((0,) if delay else (T, B, N)), dtype=torch.int8, device=x.device)
    post = _alloc.empty(*((T, B, N) if not delay and need_post else (0,)), dtype=f32, device=x.device)
    return spikes, pre, bits, post
