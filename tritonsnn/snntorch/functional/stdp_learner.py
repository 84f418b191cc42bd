"""``snntorch.functional.stdp_learner`` is not provided by the tritonsnn facade."""

raise ImportError(
    "tritonsnn.snntorch.functional.stdp_learner is not provided: snnTorch's STDP learners are not reproduced. "
    "Use tritonsnn.STDP (trace-based STDP on a tritonsnn.Connection) instead."
)
