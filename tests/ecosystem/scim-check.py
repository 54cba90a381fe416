#!/usr/bin/env python3
"""Runs every check of scim2-tester (a SCIM 2.0 compliance checker from PyPI) against
a server's /scim/v2 with a bearer token, prints one line per result and a summary, and
exits non-zero when any result is not a success (a skipped check counts as a failure).

usage: scim-check.py BASE_URL TOKEN
"""
import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

base_url, token = sys.argv[1], sys.argv[2]
http = Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
results = check_server(SyncSCIMClient(http))
counts = {}
failed = 0
for result in results:
    counts[result.status.name] = counts.get(result.status.name, 0) + 1
    bad = result.status != Status.SUCCESS
    failed += bad
    where = f"[{result.resource_type}] " if result.resource_type else ""
    print(f"{result.status.name:<8} {where}{result.title}")
    if bad:
        print(f"         reason: {result.reason}")
        if result.data is not None:
            print(f"         data: {result.data!r}"[:2000])
print("summary:", " ".join(f"{k}={v}" for k, v in sorted(counts.items())), f"total={len(results)}")
sys.exit(1 if failed or not results else 0)
