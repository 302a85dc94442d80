"""Quick throughput/startup measurement of the simulator (not run by tests).

    python -m integration_tests.simulator.tools.bench [N]
"""
import datetime as dt
import http.client
import json
import sys
import time

from integration_tests.simulator import Simulator


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    for size in ("tiny", "small", "medium", "large"):
        t0 = time.perf_counter()
        sim = Simulator(size=size).start()
        t1 = time.perf_counter()
        sim.workspace  # wait for background data generation
        t2 = time.perf_counter()
        sim.stop()
        print(f"size={size:6s} start()={1000 * (t1 - t0):6.1f} ms  data ready={1000 * (t2 - t0):7.1f} ms")
    with Simulator(size="small", today=dt.date(2026, 11, 23)) as sim:
        sim.workspace
        headers = {"Authorization": f"Bearer {sim.token}"}
        conn = http.client.HTTPConnection("127.0.0.1", sim.port)
        t0 = time.perf_counter()
        for _ in range(n):
            conn.request("GET", "/sources?pagination.count=1", headers=headers)
            r = conn.getresponse()
            json.loads(r.read())
        el = time.perf_counter() - t0
        print(f"http.client keep-alive: {n} GET /sources?pagination.count=1 in {el:.2f} s = {n / el:.0f} req/s")
        try:
            import requests
        except ImportError:
            return
        with requests.Session() as s:
            s.headers.update(headers)
            t0 = time.perf_counter()
            for _ in range(n):
                s.get(sim.url + "/sources", params={"pagination.count": "1"}).json()
            el = time.perf_counter() - t0
            print(f"requests.Session keep-alive: {n} GETs in {el:.2f} s = {n / el:.0f} req/s")


if __name__ == "__main__":
    main()
