"""What the all-to-all recurrent ops (RLeaky, RSynaptic with an ``nn.Linear`` or a same-size
``nn.Conv2d``) share.

Step t needs every spike of step t-1 before it starts, so those ops loop over steps:
one GEMM (or convolution) for the recurrent input and the family's fused single-step
update (T = 1). Their backward is written by hand: per step the single-step backward and
one GEMM (or transposed convolution) for the spike gradient; the weight gradient is one
GEMM (or one weight-gradient convolution over all T*B images) at the end instead of T
accumulations.
"""
import torch
import torch.nn.functional as F


def initial_spikes(s0, x):
    B, N = x.shape[1:]
    return x.new_zeros(B, N, dtype=torch.float32) if s0 is None else s0.to(torch.float32)


class Recurrence:
    """The all-to-all map of the previous step's spikes ``[B, N]``, in fp32: an ``nn.Linear``'s
    (``weight [N, N]``) or, with ``image = (C, H, W)``, a same-size ``nn.Conv2d``'s (``weight
    [C, C, kh, kw]``, odd kernel, stride 1, padding ``k//2``) on the spikes seen as images."""

    def __init__(self, weight, bias, image=None):
        self.weight, self.bias = weight, bias
        self.w = weight.to(torch.float32)
        self.b = None if bias is None else bias.to(torch.float32)
        self.image = tuple(image) if image else None
        if self.image:
            self.padding = (weight.shape[2] // 2, weight.shape[3] // 2)
        else:
            self.w_t = self.w.t()

    def _images(self, flat):   # [rows, N] -> [rows, C, H, W]
        return flat.view(flat.shape[0], *self.image)

    def input(self, x_t, s_prev):
        """``x[t] + rec(s[t-1])``."""
        if self.image:
            rec = F.conv2d(self._images(s_prev), self.w, self.b, padding=self.padding).flatten(1)
        elif self.b is None:
            rec = torch.mm(s_prev, self.w_t)
        else:
            rec = torch.addmm(self.b, s_prev, self.w_t)
        return x_t + rec

    def spike_grad(self, g):
        """dL/d s[t-1] from ``g [B, N]`` = dL/d(recurrent input at step t)."""
        if self.image:
            g_img = self._images(g)
            return torch.nn.grad.conv2d_input(g_img.shape, self.w, g_img, padding=self.padding).flatten(1)
        return torch.mm(g, self.w)

    def weight_grads(self, g_in, spikes, s0, need_weight, need_bias):
        """``(dW, db)`` from ``g_in [T, B, N]`` = dL/d(recurrent input) and the spikes: one GEMM
        (or convolution) against the spikes each step saw (``s0`` for the first)."""
        T, B, N = g_in.shape
        g_flat = g_in.reshape(T * B, N)
        dweight = dbias = None
        if need_weight:
            s_prev = torch.cat([initial_spikes(s0, g_in)[None], spikes[:T - 1].to(torch.float32)])[:T]
            s_prev = s_prev.reshape(T * B, N)
            if self.image:
                dweight = torch.nn.grad.conv2d_weight(self._images(s_prev), self.w.shape, self._images(g_flat),
                                                      padding=self.padding)
            else:
                dweight = torch.mm(g_flat.t(), s_prev)
            dweight = dweight.to(self.weight.dtype)
        if self.bias is not None and need_bias:
            per_out = g_flat.view(T * B, self.image[0], -1).sum(2) if self.image else g_flat
            dbias = per_out.sum(0).to(self.bias.dtype)
        return dweight, dbias
