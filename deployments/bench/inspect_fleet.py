#!/usr/bin/env python3
"""Out-of-band inspection of a fleet through any Ironic-compatible v1 API (python3 stdlib only).

Usage:
  inspect_fleet.py --endpoint http://127.0.0.1:6385 --nodes 1000 --concurrency 16 --label ferric

Phases (each timed; requests issued by --concurrency threads, each with its own keep-alive connection):
  create   POST /v1/nodes (fake-hardware, inspect_interface fake)
  manage   PUT  /v1/nodes/{uuid}/states/provision {"target":"manage"}   -> wait 'manageable'
  inspect  PUT  .../states/provision {"target":"inspect"}                -> wait 'manageable' again
  delete   DELETE /v1/nodes/{uuid}
Waiting polls GET /v1/nodes?fields=... (following 'next') every --poll-interval seconds. The inspect wait
requires each node to have left and come back to 'manageable' with inspection_finished_at set, so a node
that was never inspected cannot count. 409/503 answers are retried with backoff and counted.
Prints one JSON summary on stdout, progress on stderr.
"""
import argparse
import concurrent.futures as cf
import http.client
import json
import random
import sys
import threading
import time
import urllib.parse

FAKE = {
    "bios_interface": "fake", "boot_interface": "fake", "console_interface": "fake",
    "deploy_interface": "fake", "inspect_interface": "fake", "management_interface": "fake",
    "power_interface": "fake", "raid_interface": "fake", "rescue_interface": "fake",
    "storage_interface": "fake", "vendor_interface": "fake", "network_interface": "noop",
}
FAIL = {"inspect failed", "error", "clean failed", "deploy failed"}
T0 = time.monotonic()


def log(*a):
    print("[%7.1fs]" % (time.monotonic() - T0), *a, file=sys.stderr, flush=True)


class Client:
    """One persistent HTTP/1.1 connection per thread; retries 409/503 with backoff."""

    def __init__(self, endpoint, timeout):
        u = urllib.parse.urlsplit(endpoint)
        self.host, self.port, self.base = u.hostname, u.port or 80, u.path.rstrip("/")
        self.timeout = timeout
        self.local = threading.local()
        self.lock = threading.Lock()
        self.retries = 0

    def _conn(self, fresh=False):
        c = getattr(self.local, "conn", None)
        if c is None or fresh:
            if c is not None:
                c.close()
            c = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.local.conn = c
        return c

    def call(self, method, path, body=None, ok=(200, 201, 202, 204)):
        if path.startswith("http"):
            s = urllib.parse.urlsplit(path)
            path = s.path + ("?" + s.query if s.query else "")
        else:
            path = self.base + path
        hdrs = {"Accept": "application/json", "X-OpenStack-Ironic-API-Version": "latest"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        for attempt in range(61):
            for reconnect in range(3):
                try:
                    conn = self._conn(fresh=reconnect > 0)
                    conn.request(method, path, body=data, headers=hdrs)
                    resp = conn.getresponse()
                    raw = resp.read()
                    break
                except (http.client.HTTPException, OSError):
                    continue
            else:
                raise RuntimeError("%s %s: connection failed" % (method, path))
            if resp.status in ok:
                return json.loads(raw) if raw else None
            if resp.status in (409, 503) and attempt < 60:
                with self.lock:
                    self.retries += 1
                time.sleep(min(2.0, 0.05 * (attempt + 1)) * (0.5 + random.random()))
                continue
            raise RuntimeError("%s %s -> %d %s" % (method, path, resp.status, raw[:300]))


def nodes(cli, fields):
    out, path = [], "/v1/nodes?fields=%s&limit=1000" % ",".join(fields)
    while path:
        page = cli.call("GET", path, ok=(200,))
        out.extend(page.get("nodes", []))
        path = page.get("next")
    return out


def wait_for(cli, uuids, pred, timeout, interval, what):
    want, t0 = set(uuids), time.monotonic()
    while True:
        mine = [n for n in nodes(cli, ["uuid", "provision_state", "target_provision_state",
                                       "inspection_finished_at", "last_error"]) if n["uuid"] in want]
        bad = [n for n in mine if n.get("provision_state") in FAIL]
        if bad:
            raise RuntimeError("%s: %d nodes failed, e.g. %s" % (what, len(bad), bad[0]))
        done = sum(1 for n in mine if pred(n))
        if done == len(want):
            return
        if time.monotonic() - t0 > timeout:
            raise RuntimeError("%s: timeout, %d/%d done" % (what, done, len(want)))
        time.sleep(interval)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", default="http://127.0.0.1:6385")
    ap.add_argument("--nodes", "-n", type=int, default=1000)
    ap.add_argument("--concurrency", "-c", type=int, default=16)
    ap.add_argument("--poll-interval", type=float, default=0.5)
    ap.add_argument("--phase-timeout", type=float, default=1800.0)
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    cli = Client(a.endpoint, 120.0)
    tag = "insp-%d-" % int(time.time())
    uuids = [None] * a.nodes
    result = {"label": a.label, "nodes": a.nodes, "concurrency": a.concurrency, "phases": {}}

    def phase(name, fn, wait=None):
        log(name, "...")
        t = time.monotonic()
        errors = []
        with cf.ThreadPoolExecutor(a.concurrency) as pool:
            for f in cf.as_completed([pool.submit(fn, i) for i in range(a.nodes)]):
                try:
                    f.result()
                except Exception as e:  # noqa: BLE001 - counted and reported
                    errors.append(str(e))
        if errors:
            raise RuntimeError("%s: %d errors, e.g. %s" % (name, len(errors), errors[0]))
        issued = time.monotonic() - t
        if wait:
            wait_for(cli, uuids, wait, a.phase_timeout, a.poll_interval, name)
        result["phases"][name] = {"issue_s": round(issued, 3), "wall_s": round(time.monotonic() - t, 3)}
        log(name, result["phases"][name])

    def create(i):
        body = dict(FAKE, name="%s%05d" % (tag, i), driver="fake-hardware")
        uuids[i] = cli.call("POST", "/v1/nodes", body)["uuid"]

    def prov(target):
        return lambda i: cli.call("PUT", "/v1/nodes/%s/states/provision" % uuids[i], {"target": target})

    def manageable(n):
        return n["provision_state"] == "manageable" and not n.get("target_provision_state")

    phase("create", create)
    phase("manage", prov("manage"), manageable)
    phase("inspect", prov("inspect"), lambda n: manageable(n) and n.get("inspection_finished_at"))
    phase("delete", lambda i: cli.call("DELETE", "/v1/nodes/%s" % uuids[i]))
    result["retried_409_503"] = cli.retries
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
