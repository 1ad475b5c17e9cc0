"""``nnfast info`` says whose each thread pool is."""

import json

from nnfast._cli.info import pool_owner
from nnfast.cli import main


def test_pool_owner_from_the_library_path():
    site = "/venv/lib/python3.11/site-packages"
    assert pool_owner({"prefix": "libscipy_openblas",
                       "filepath": f"{site}/numpy.libs/libscipy_openblas64_-32a4b2a6.so"}
                      ).startswith("bundled with numpy (")
    assert pool_owner({"prefix": "libscipy_openblas",
                       "filepath": f"{site}/scipy.libs/libscipy_openblas-6cdc3b4a.so"}
                      ).startswith("bundled with scipy (")
    assert pool_owner({"prefix": "libgomp", "filepath": f"{site}/torch/lib/libgomp-a34b3233.so.1"}
                      ).startswith("bundled with torch (")
    system = pool_owner({"prefix": "libgomp", "filepath": "/usr/lib/x86_64-linux-gnu/libgomp.so.1"})
    assert "GCC's OpenMP runtime" in system and "nnfast's compiled kernel" in system
    assert "/usr/lib/x86_64-linux-gnu/libgomp.so.1" in system


def test_info_names_the_owner_of_every_pool(capsys):
    assert main(["info"]) == 0
    text = capsys.readouterr().out
    from threadpoolctl import threadpool_info

    pools = threadpool_info()
    assert pools  # numpy's BLAS at least
    section = text.split("thread pools")[1].splitlines()[1:]
    assert len(section) == len(pools)
    for pool in pools:
        assert any(pool_owner(pool) in line for line in section), pool
    # two pools of the same kind are told apart by their owners
    assert len({line.split("threads=")[1] for line in section}) == len(section)

    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert {p["filepath"] for p in info["threadpools"]} == {p["filepath"] for p in pools}
    assert all(p["owner"] for p in info["threadpools"])
