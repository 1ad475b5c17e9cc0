"""The error of an evaluation that lost its shards."""


class ShardLostError(RuntimeError):
    """Workers holding shards were lost and the evaluation could not be completed."""
