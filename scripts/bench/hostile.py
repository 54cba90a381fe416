#!/usr/bin/env python3
"""Hostile documents against a running server: each is sent 20 times with a valid
token; prints the refusal (HTTP status and GraphQL code), the median and worst time
seen by the client on the same machine (an upper bound on server time), and the SQL
statements the server ran meanwhile (from /metrics), which must be 0."""
import http.client
import json
import statistics
import sys
import time
import urllib.request


def statements(base: str) -> float:
    with urllib.request.urlopen(base + "/metrics") as response:
        for line in response.read().decode().splitlines():
            if line.startswith("tessera_db_statements_total "):
                return float(line.split()[1])
    return 0.0


def send(base: str, token: str, body: bytes):
    """POSTs the body; a server that answers before reading it all (a size limit) and
    closes the connection still has its answer read."""
    host = base.split("://", 1)[1]
    connection = http.client.HTTPConnection(host, timeout=30)
    started = time.perf_counter()
    connection.putrequest("POST", "/graphql")
    for name, value in (("Content-Type", "application/json"), ("Authorization", "Bearer " + token),
                        ("Content-Length", str(len(body)))):
        connection.putheader(name, value)
    connection.endheaders()
    try:
        connection.send(body)
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        response = connection.getresponse()
        status, payload = response.status, response.read()
    except (ConnectionResetError, http.client.RemoteDisconnected):
        status, payload = 0, b""
    elapsed = (time.perf_counter() - started) * 1000
    connection.close()
    try:
        code = json.loads(payload)["errors"][0]["extensions"]["code"]
    except (ValueError, KeyError, IndexError, TypeError):
        code = "-"
    return status, code, elapsed


def main() -> None:
    base, token = sys.argv[1], sys.argv[2]
    aliases = "{ " + " ".join(f"a{i}: me {{ email }}" for i in range(10_000)) + " }"
    cases = {
        "depth 50": json.dumps({"query": "{ " + "me { " * 50 + "__typename" + " }" * 50 + " }"}),
        "10,000 aliases": json.dumps({"query": aliases}),
        "1,000-operation batch": json.dumps([{"query": "{ me { email } }"}] * 1000),
        "5 MB document": json.dumps({"query": "{ me { email } } #" + "x" * (5 * 1024 * 1024)}),
    }
    before = statements(base)
    print("| hostile request | refusal | median ms | worst ms |")
    print("|---|---|---:|---:|")
    for name, body in cases.items():
        runs = [send(base, token, body.encode()) for _ in range(20)]
        refusals = {f"{status} {code}" for status, code, _ in runs}
        times = [elapsed for _, _, elapsed in runs]
        if any((status == 200 and code == "-") or status == 0 for status, code, _ in runs):
            sys.exit(f"{name} was answered, not refused")
        print(f"| {name} | {', '.join(sorted(refusals))} | {statistics.median(times):.2f} | {max(times):.2f} |")
    print(f"\nSQL statements run while refusing all 80: {statements(base) - before:.0f}")


if __name__ == "__main__":
    main()
