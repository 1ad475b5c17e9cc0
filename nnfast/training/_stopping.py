"""The exception that ends a training run early, with its reason in plain words."""


class StopTraining(Exception):
    """Raised inside the optimiser loop to end training; carries the plain-words reason."""

    def __init__(self, reason, converged=False):
        super().__init__(reason)
        self.reason = reason
        self.converged = converged
