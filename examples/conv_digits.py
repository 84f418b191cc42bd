"""Train a convolutional spiking network on scikit-learn's 8x8 digits.

    python examples/conv_digits.py
    python examples/conv_digits.py --epochs 1 --limit 200   # a quick smoke run

Stateless layers (``Conv2d``, ``AvgPool2d``, ``Flatten``) are wrapped in
``tsnn.MultiStep`` so that they see all ``T*B`` images of a ``[T, B, C, H, W]``
sequence in one call; the ``tsnn.Leaky`` layers run the whole time loop in one
fused call. Same data, encoding, loss and options as ``digits.py``.
"""

from __future__ import annotations

import torch
from torch import nn

import tritonsnn as tsnn

try:  # run as a script: examples/ is on sys.path
    import digits
except ImportError:  # imported as examples.conv_digits
    from examples import digits


def build_net(beta: float = 0.9, step_mode: str = "multi") -> nn.Sequential:
    """Two conv layers (one pooling) and a linear readout: ``[T, B, 1, 8, 8] -> [T, B, 10]`` spikes."""

    def each_step(layer):  # stateless layers need the time axis folded into the batch in multi-step mode
        return tsnn.MultiStep(layer) if step_mode == "multi" else layer

    return nn.Sequential(
        each_step(nn.Conv2d(1, 8, 3, padding=1)),
        tsnn.Leaky(beta=beta, step_mode=step_mode),
        each_step(nn.AvgPool2d(2)),  # 8 x 4 x 4
        each_step(nn.Conv2d(8, 16, 3, padding=1)),
        tsnn.Leaky(beta=beta, step_mode=step_mode),
        each_step(nn.Flatten()),  # 16 * 4 * 4
        nn.Linear(16 * 4 * 4, digits.NUM_CLASSES),
        tsnn.Leaky(beta=beta, step_mode=step_mode),
    )


def main(argv=None) -> float:
    args = digits.parse_args(argv, description=__doc__, epochs=15)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    x_tr, y_tr, x_te, y_te = digits.load_data(args.seed, args.limit, device, images=True)
    net = build_net().to(device)
    print(
        f"tritonsnn conv digits: {len(x_tr)} train / {len(x_te)} test images, T={digits.NUM_STEPS}, "
        f"device={device}, {sum(p.numel() for p in net.parameters())} parameters"
    )
    seconds = digits.train(net, x_tr, y_tr, epochs=args.epochs, seed=args.seed, lr=5e-3)
    accuracy = digits.evaluate(net, x_te, y_te, seed=args.seed)
    raster_path, trace_path = digits.save_plots(net, x_te, y_te, args.out, args.seed, prefix="conv_digits")
    print(f"train time: {seconds:.1f} s for {args.epochs} epochs")
    print(f"plots: {raster_path}, {trace_path}")
    print(f"test accuracy: {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()
