#!/usr/bin/env python3
"""Mint HS256 access tokens for the benchmark's principals.

Reads `user tenant session role` lines (from principals.sql) and writes
`token user tenant role` lines. The claims are the server's own (sub, tid, sid,
iat, exp, iss, aud, and the `kid` header), signed with the JWT_SECRET the bench
server runs with.
"""
import base64
import hashlib
import hmac
import json
import sys
import time


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(secret: str, user: str, tenant: str, session: str, now: int) -> str:
    header = {"alg": "HS256", "typ": "JWT", "kid": "default"}
    claims = {"sub": user, "tid": tenant, "sid": session, "iat": now, "exp": now + 6 * 3600,
              "iss": "tessera", "aud": "tessera-api"}
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(signature)


def main() -> None:
    secret, source, target = sys.argv[1], sys.argv[2], sys.argv[3]
    now = int(time.time())
    count = 0
    with open(source) as lines, open(target, "w") as out:
        for line in lines:
            fields = line.split()
            if len(fields) != 4:
                continue
            user, tenant, session, role = fields
            out.write(f"{mint(secret, user, tenant, session, now)} {user} {tenant} {role}\n")
            count += 1
    if count == 0:
        sys.exit(f"no principals in {source}")
    print(f"minted {count} tokens into {target}")


if __name__ == "__main__":
    main()
