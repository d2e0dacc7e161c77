"""conftest.py - the cluster under test (tests/cluster/run.sh): nginx (deploy/nginx.conf, ports
replaced) in front of three `souk serve` nodes on one PostgreSQL, one Redis and one media
directory. Nodes 0 and 1 run no job workers; node 2 runs one (so a job it claimed is known to be
its own when it is killed)."""

import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
import requests

HERE = os.path.dirname(__file__)
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "api"))

import souk_client  # noqa: E402
from souk_client import SoukServer, free_port  # noqa: E402


class Edge:
    """nginx as a client sees it: the same request helpers as a SoukServer."""

    def __init__(self, port, node):
        self.port, self.url = port, f"http://127.0.0.1:{port}"
        self.env, self.db_url, self.data_dir = node.env, node.db_url, node.data_dir
        self.session = requests.Session()

    request = SoukServer.request
    get = SoukServer.get
    post = SoukServer.post
    patch = SoukServer.patch
    put = SoukServer.put
    delete = SoukServer.delete


def nginx_conf(listen, upstreams):
    text = open(os.path.join(ROOT, "deploy", "nginx.conf")).read()
    assert "listen 127.0.0.1:8080;" in text
    text = text.replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{listen};")
    for i, port in enumerate(upstreams):
        old = f"server 127.0.0.1:{8001 + i} "
        assert old in text
        text = text.replace(old, f"server 127.0.0.1:{port} ")
    return text


class Nginx:
    def __init__(self, upstreams):
        self.prefix = tempfile.mkdtemp(prefix="souk-nginx-")
        for d in ("logs", "tmp", "tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
            os.makedirs(os.path.join(self.prefix, d), exist_ok=True)
            os.chmod(os.path.join(self.prefix, d), 0o777)  # workers run as nobody under root
        os.chmod(self.prefix, 0o755)
        self.port = free_port()
        conf = os.path.join(self.prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write(nginx_conf(self.port, upstreams))
        self.proc = subprocess.Popen(["nginx", "-p", self.prefix + "/", "-c", conf, "-g",
                                      "daemon off;"], stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.prefix, "logs", "stderr"), "w"))
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError("nginx did not start: " + open(os.path.join(self.prefix, "logs",
                                                                          "error.log")).read())

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.prefix, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster():
    redis = os.environ["SOUK_TEST_REDIS_URL"]
    media = tempfile.mkdtemp(prefix="souk-media-")
    common = {"SOUK_REDIS_URL": redis, "SOUK_TRUSTED_PROXIES": "127.0.0.1",
              "SOUK_MEDIA_DIR": media, "SOUK_TEST_JOBS": "1", "SOUK_JOB_LEASE_SECONDS": "2",
              "SOUK_JOB_BACKOFF_BASE_MS": "200", "SOUK_ACCESS_LOG": "1", "SOUK_LOG_LEVEL": "info"}
    first = SoukServer(env=dict(common, SOUK_JOB_WORKERS="0"))
    first.start()
    nodes = [first]
    for workers in ("0", "1"):
        n = SoukServer(env=dict(common, SOUK_JOB_WORKERS=workers, SOUK_DATABASE_URL=first.db_url))
        n.start()
        nodes.append(n)
    edge = Nginx([n.port for n in nodes])
    yield {"nodes": nodes, "edge": Edge(edge.port, first), "nginx": edge, "media": media,
           "redis": redis}
    edge.stop()
    for n in reversed(nodes):
        if n.proc is not None:
            n.stop(check=False)
    shutil.rmtree(media, ignore_errors=True)
