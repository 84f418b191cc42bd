"""Streaming inference: feed a trained spiking network one time step at a time.

    python examples/streaming.py
    python examples/streaming.py --epochs 1 --limit 200   # a quick smoke run

Trains the ``digits.py`` network briefly (multi-step, ``[T, B, 64]`` per call),
then copies its weights into the same network built with ``step_mode="single"``,
which takes one step ``[B, 64]`` per call and keeps each neuron's membrane
between calls. ``tsnn.reset(net)`` clears that state between input streams.
Fed the same spikes, the streamed output equals the multi-step output exactly;
the streamed network can also decide before the sequence ends.
"""

from __future__ import annotations

import time

import torch

import tritonsnn as tsnn

try:  # run as a script: examples/ is on sys.path
    import digits
except ImportError:  # imported as examples.streaming
    from examples import digits


@torch.no_grad()
def stream(net, x_seq: torch.Tensor) -> torch.Tensor:
    """Run a single-step ``net`` over ``x_seq`` ``[T, B, ...]`` one step per call; return ``[T, B, C]`` spikes."""
    tsnn.reset(net)  # a new stream starts from zero membrane
    return torch.stack([net(x_t) for x_t in x_seq])


def main(argv=None) -> bool:
    args = digits.parse_args(argv, description=__doc__, epochs=10)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    x_tr, y_tr, x_te, y_te = digits.load_data(args.seed, args.limit, device)

    multi = digits.build_net().to(device)
    seconds = digits.train(multi, x_tr, y_tr, epochs=args.epochs, seed=args.seed)
    single = digits.build_net(step_mode="single").to(device)
    single.load_state_dict(multi.state_dict())  # same parameters; only the calling convention differs
    multi.eval(), single.eval()

    gen = torch.Generator(device=device).manual_seed(args.seed + 1)
    x_seq = digits.encode(x_te, gen)  # [T, B, 64], the same spikes for both runs
    with torch.no_grad():
        start = time.perf_counter()
        out_multi = multi(x_seq)
        multi_s = time.perf_counter() - start
    start = time.perf_counter()
    out_single = stream(single, x_seq)
    single_s = time.perf_counter() - start

    equal = torch.equal(out_single, out_multi)
    steps = x_seq.shape[0]
    print(
        f"tritonsnn streaming: {len(x_te)} test streams of T={steps} steps, device={device}, "
        f"trained {args.epochs} epochs in {seconds:.1f} s"
    )
    print(
        f"multi-step: one call per layer, {multi_s * 1e3:.1f} ms; "
        f"single-step: {steps} calls per layer, {single_s * 1e3:.1f} ms "
        f"({single_s / steps * 1e3:.2f} ms per step for the whole batch)"
    )
    # Accuracy of the running decision (most spikes so far) after t of T steps.
    counts = out_single.cumsum(0)
    for t in sorted({1, steps // 4, steps // 2, steps}):
        if t >= 1:
            acc = (counts[t - 1].argmax(-1) == y_te).float().mean().item()
            print(f"  decision after {t:2d}/{steps} steps: accuracy {acc:.4f}")
    print(f"multi-step accuracy: {(out_multi.sum(0).argmax(-1) == y_te).float().mean().item():.4f}")
    print(f"single-step spikes equal multi-step spikes: {equal}")
    return equal


if __name__ == "__main__":
    main()
