"""Profile Canopy's token endpoint in-process ("where time goes"), with cProfile.

    .venv/bin/python bench/canopy_profile.py --n 300 --out /tmp/profile.json

Runs N client-credentials token requests, then N authorization-code exchanges each followed by
a userinfo GET, through Django's test Client against the seeded bench tenant (bench/canopy_seed.py
seed must have run). Requests are checked (200 + access_token); a few warm-up requests run first
so that one-off costs (imports, key loading) stay out of the profile. Writes JSON: per case the
wall time per request, self time by package, and the top functions by self and cumulative time.
"""

# ruff: noqa: S105, S106  (bench-only fixed credentials; small internal helpers)

from __future__ import annotations

import argparse
import base64
import cProfile
import json
import pstats
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
import canopy_seed  # noqa: E402  (sets up Django)
from django.test import Client  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TOKEN_PATH = "/t/bench/oauth/token/"
USERINFO_PATH = "/t/bench/oauth/userinfo/"
FORM = "application/x-www-form-urlencoded"


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


CC_AUTH = basic("bench-cc", canopy_seed.CLIENTS["bench-cc"]["client_secret"])  # type: ignore[index]
WEB_AUTH = basic("bench-web", canopy_seed.CLIENTS["bench-web"]["client_secret"])  # type: ignore[index]


class Failed(Exception):
    pass


def cc_request(client: Client) -> None:
    r = client.post(TOKEN_PATH, data="grant_type=client_credentials", content_type=FORM, HTTP_AUTHORIZATION=CC_AUTH)
    if r.status_code != 200 or b'"access_token"' not in r.content:
        raise Failed(f"client_credentials: {r.status_code} {r.content[:300]!r}")


def code_flow(client: Client, code: str, verifier: str) -> None:
    body = urlencode(
        {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": canopy_seed.REDIRECT_URI,
        }
    )
    r = client.post(TOKEN_PATH, data=body, content_type=FORM, HTTP_AUTHORIZATION=WEB_AUTH)
    if r.status_code != 200 or b'"access_token"' not in r.content:
        raise Failed(f"authorization_code: {r.status_code} {r.content[:300]!r}")
    token = r.json()["access_token"]
    r = client.get(USERINFO_PATH, HTTP_AUTHORIZATION=f"Bearer {token}")
    if r.status_code != 200:
        raise Failed(f"userinfo: {r.status_code} {r.content[:300]!r}")


def package_of(filename: str) -> str:
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (C code, e.g. crypto, sockets)"
    path = filename.replace("\\", "/")
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    root = str(ROOT).replace("\\", "/") + "/"
    if path.startswith(root):
        return "canopy: " + path[len(root) :].split("/", 1)[0]
    if "/lib/python3" in path:
        return "python stdlib"
    return path


def summarize(prof: cProfile.Profile, n_requests: int, wall: float, top: int) -> dict[str, object]:
    stats = pstats.Stats(prof)
    raw = stats.stats  # type: ignore[attr-defined]
    total_tt = sum(v[2] for v in raw.values()) or 1e-9
    by_pkg: dict[str, float] = defaultdict(float)
    rows = []
    for (filename, line, func), (_cc, nc, tt, ct, _callers) in raw.items():
        by_pkg[package_of(filename)] += tt
        short = filename
        if "site-packages/" in short:
            short = short.split("site-packages/", 1)[1]
        elif short.startswith(str(ROOT)):
            short = short[len(str(ROOT)) + 1 :]
        rows.append({"func": f"{short}:{line}({func})", "calls": nc, "tottime": tt, "cumtime": ct})
    per = 1000.0 / n_requests
    top_self = sorted(rows, key=lambda r: r["tottime"], reverse=True)[:top]
    top_cum = sorted(rows, key=lambda r: r["cumtime"], reverse=True)
    # Skip the profiler/test-client plumbing at the top of the cumulative list.
    skip = ("django/test/", "cProfile", "canopy_profile.py", "<built-in method builtins.exec>")
    top_cum = [r for r in top_cum if not any(s in r["func"] for s in skip)][:top]
    own = ("idp/", "tenants/", "orgs/", "oauth2_provider/", "oauthlib/", "jwcrypto/")
    plumbing = ("idp/oidc/views.py", "oauth2_provider/views/", "endpoints/base.py")
    top_own = [
        r
        for r in sorted(rows, key=lambda r: r["cumtime"], reverse=True)
        if r["func"].startswith(own) and not r["func"].startswith(plumbing)
    ][:top]
    for r in top_self + top_cum + top_own:
        r["ms_per_request_self"] = round(r["tottime"] * per, 3)
        r["ms_per_request_cum"] = round(r["cumtime"] * per, 3)
        r["calls_per_request"] = round(r["calls"] / n_requests, 2)
    return {
        "requests": n_requests,
        "wall_ms_per_request": round(wall * per, 3),
        "profiled_ms_per_request": round(total_tt * per, 3),
        "self_time_by_package": [
            {"package": k, "ms_per_request": round(v * per, 3), "share": round(v / total_tt, 3)}
            for k, v in sorted(by_pkg.items(), key=lambda kv: kv[1], reverse=True)[:12]
        ],
        "top_self": top_self,
        "top_cumulative": top_cum,
        "top_canopy_dot_oauthlib": top_own,
    }


def sql_per_request(fn, n: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Run fn n times with a Django execute wrapper: which SQL statements one request runs."""
    from django.db import connection

    seen: dict[str, int] = defaultdict(int)

    def record(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        text = " ".join(str(sql).split())
        verb = text.split(" ", 1)[0].upper()
        table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?([A-Za-z0-9_]+)"?', text)
        key = f"{verb} {table.group(1) if table else ''}".strip()
        if verb == "SELECT" and " FOR UPDATE" in text:
            key += " FOR UPDATE"
        seen[key] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        for i in range(n):
            fn(i)
    total = sum(seen.values())
    return {
        "queries_per_request": round(total / n, 2),
        "statements": [
            {"statement": k, "per_request": round(v / n, 2)} for k, v in sorted(seen.items(), key=lambda kv: -kv[1])
        ],
    }


def timed(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    n = max(10, min(args.n, 5000))
    client = Client(HTTP_HOST="127.0.0.1")
    result: dict[str, object] = {}

    # Client credentials.
    try:
        for _ in range(10):
            cc_request(client)
        prof = cProfile.Profile()
        plain = timed(lambda _i: cc_request(client), n)  # unprofiled wall time
        prof.enable()
        wall = timed(lambda _i: cc_request(client), n)
        prof.disable()
        summary = summarize(prof, n, wall, args.top)
        summary["unprofiled_wall_ms_per_request"] = round(plain * 1000 / n, 3)
        summary["sql"] = sql_per_request(lambda _i: cc_request(client), min(n, 20))
        result["client_credentials"] = summary
    except Failed as exc:
        result["client_credentials"] = {"error": str(exc)}

    # Authorization code exchange + userinfo (one flow = 2 requests).
    try:
        with tempfile.NamedTemporaryFile("r", suffix=".codes") as f:
            canopy_seed.mint_codes(2 * n + 30, Path(f.name))
            pairs = [line.split() for line in Path(f.name).read_text().splitlines()]
        for code, verifier in pairs[:10]:
            code_flow(client, code, verifier)
        rest = pairs[10:]
        plain = timed(lambda i: code_flow(client, *rest[i]), n)
        prof = cProfile.Profile()
        prof.enable()
        wall = timed(lambda i: code_flow(client, *rest[n + i]), n)
        prof.disable()
        summary = summarize(prof, n, wall, args.top)
        summary["unprofiled_wall_ms_per_request"] = round(plain * 1000 / n, 3)
        summary["unit"] = "flow (token exchange + userinfo)"
        extra = rest[2 * n :]
        summary["sql"] = sql_per_request(lambda i: code_flow(client, *extra[i]), min(len(extra), 20))
        result["auth_code"] = summary
    except Failed as exc:
        result["auth_code"] = {"error": str(exc)}

    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: (v.get("error") or v.get("wall_ms_per_request")) for k, v in result.items()}))  # type: ignore[union-attr]


if __name__ == "__main__":
    main()
