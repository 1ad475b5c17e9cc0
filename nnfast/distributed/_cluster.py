"""Connecting to a Dask cluster (or starting a local one) and counting its worker threads."""

from __future__ import annotations

from distributed import Client, LocalCluster


def connect(client, n_workers, cluster_kwargs):
    """``(client, cluster or None, owns_client)`` for the ``client`` argument.

    ``None`` starts a LocalCluster (worker processes, one thread each); a string
    is a scheduler address; a Client is used as is.  Waits for one worker.
    """
    if client is not None and not isinstance(client, (str, Client)):
        raise TypeError("client must be None, a scheduler address such as "
                        f"'tcp://host:8786', or a distributed.Client; got {client!r}")
    cluster = connection = None
    owns = not isinstance(client, Client)
    try:
        if client is None:
            kwargs = dict(processes=True, threads_per_worker=1, dashboard_address=":0")
            if n_workers is not None:
                kwargs["n_workers"] = n_workers
            kwargs.update(cluster_kwargs or {})
            cluster = LocalCluster(**kwargs)
            connection = Client(cluster, set_as_default=False)
        elif isinstance(client, str):
            connection = Client(client, set_as_default=False)
        else:
            connection = client
        if not connection.scheduler_info().get("workers"):
            connection.wait_for_workers(1, timeout=60)
    except BaseException:
        try:
            if owns and connection is not None:
                connection.close()
        finally:
            if cluster is not None:
                cluster.close()
        raise
    return connection, cluster, owns


def threads_per_host(client):
    """Dask worker threads per host address, ``{host: threads}``."""
    hosts = {}
    for addr, info in client.scheduler_info(n_workers=-1)["workers"].items():
        host = addr.rsplit(":", 1)[0]
        hosts[host] = hosts.get(host, 0) + int(info.get("nthreads", 1))
    return hosts
