"""PyTorch implementations of the fused ops: the same algorithms as the Triton
kernels (a forward time loop, a hand-written reverse loop), used on CPU and as
the fallback wherever Triton cannot run."""
