"""`billdb cost --refresh`: read Microsoft's public Retail Prices API for the plan's meters and
cache the answer with the date it was read (state dir, prices-cache.json). Offline it says so
in one line; `--require-fresh` makes that an error (exit 1)."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

from billdb import fsutil
from billdb.cost_meters import Meter

API = "https://prices.azure.com/api/retail/prices"


def cache_path() -> Path:
    from billdb.azure import state

    return state.directory() / "prices-cache.json"


def load_cache() -> dict[str, Any]:
    path = cache_path()
    try:
        return json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        return {}


def _query(m: Meter, timeout: float) -> float | None:
    flt = (f"serviceName eq '{m.service}' and armRegionName eq '{m.region}' and "
           f"productName eq '{m.product}' and meterName eq '{m.meter}' and "
           "priceType eq 'Consumption'")
    url = f"{API}?{urllib.parse.urlencode({'$filter': flt})}"
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        items = json.loads(resp.read()).get("Items") or []
    return items[0]["retailPrice"] if items else None


def refresh(meters: list[Meter], timeout: float = 5.0) -> tuple[bool, str]:
    """(fresh, one line saying what happened). Never raises for a network failure."""
    prices: dict[str, Any] = {}
    try:
        for m in meters:
            price = _query(m, timeout)
            if price is not None:
                prices[m.key] = {"price": price, "product": m.product, "meter": m.meter}
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return False, (f"prices not refreshed: {API} unreachable ({reason}); every price "
                       "below is the plan table's, not fetched")
    missing = [m.key for m in meters if m.key not in prices]
    fsutil.write_atomic(cache_path(), json.dumps(
        {"read_on": date.today().isoformat(), "source": API, "prices": prices}, indent=1))
    if missing:
        return False, (f"prices refreshed for {len(prices)} meters; not found: "
                       f"{', '.join(missing)} (the plan table's, not fetched)")
    return True, f"prices refreshed for {len(prices)} meters on {date.today()}"
