"""pytest plugin (``-p bench.pin_configs``) for a time-capped CUDA tier: each autotuned tritonsnn
kernel runs one fixed config per variant instead of benchmarking them all. The config is picked
by a hash of the variant's constexpr flags among those the autotuner itself would try (its
pruning applied), so every config is exercised across variants. ``PIN_CONFIGS=0`` keeps real
autotuning."""

import os
import zlib


def pytest_configure(config):
    if os.environ.get("PIN_CONFIGS", "1") == "0":
        return
    from triton.runtime.autotuner import Autotuner

    autotuned = Autotuner.run

    def run(self, *args, **kwargs):
        if len(self.configs) < 2 or not self.base_fn.__module__.startswith("tritonsnn."):
            return autotuned(self, *args, **kwargs)
        self.nargs = dict(zip(self.arg_names, args))
        candidates = self.prune_configs(kwargs)
        self.nargs = None
        flags = sorted((k, v) for k, v in kwargs.items() if k.isupper())
        self.best_config = candidates[zlib.crc32(repr(flags).encode()) % len(candidates)]
        return self.fn.run(*args, **kwargs, **self.best_config.all_kwargs())

    Autotuner.run = run
