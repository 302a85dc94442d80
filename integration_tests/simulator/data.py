"""Deterministic, seeded generation of a fake Segment workspace (stdlib only).

Everything the simulator serves comes from a :class:`Workspace` instance. Big,
time-dependent data (usage snapshots, event volume) is computed lazily and
deterministically from (seed, key) so it never has to be materialised up front.
"""
from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import random
import string
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Set, Tuple

UTC = dt.timezone.utc
ALNUM = string.ascii_letters + string.digits
_ID_TABLE = bytes(ord((ALNUM * 5)[i]) for i in range(256))

SIZES: Dict[str, Dict[str, int]] = {
    # n_* = counts; history_days = how long before "today" the workspace was created
    "tiny": dict(sources=4, destinations=5, warehouses=2, catalog=5, plans=3, rules=5, users=5, groups=3, roles=4,
                 invites=3, labels=4, transformations=3, functions=2, spaces=1, models=3, regulations=4, audit=30,
                 subscriptions=2, filters=2, history_days=425),
    "small": dict(sources=50, destinations=80, warehouses=2, catalog=40, plans=10, rules=30, users=40, groups=6,
                  roles=10, invites=12, labels=15, transformations=20, functions=6, spaces=3, models=10,
                  regulations=40, audit=500, subscriptions=3, filters=3, history_days=425),
    "medium": dict(sources=500, destinations=800, warehouses=20, catalog=60, plans=40, rules=40, users=400, groups=30,
                   roles=15, invites=60, labels=40, transformations=150, functions=30, spaces=8, models=60,
                   regulations=300, audit=5000, subscriptions=3, filters=3, history_days=550),
    "large": dict(sources=2000, destinations=4000, warehouses=50, catalog=80, plans=100, rules=40, users=1000,
                  groups=60, roles=20, invites=200, labels=80, transformations=600, functions=80, spaces=20,
                  models=200, regulations=1000, audit=30000, subscriptions=3, filters=3, history_days=730),
}

FUNCTION_TYPES = ["DESTINATION", "INSERT_DESTINATION", "INSERT_SOURCE", "INSERT_TRANSFORMATION", "SOURCE"]
CATALOG_STATUS = ["PUBLIC", "PUBLIC", "PUBLIC", "PUBLIC_BETA", "DEPRECATED", "PRIVATE_BETA", "PRIVATE_BUILDING",
                  "PRIVATE_SUBMITTED", "UNAVAILABLE"]
PLAN_TYPES = ["LIVE", "LIVE", "LIVE", "PROPERTY_LIBRARY", "RULE_LIBRARY", "TEMPLATE", "ENGAGE"]
REG_STATUS = ["FAILED", "FINISHED", "INITIALIZED", "INVALID", "NOT_SUPPORTED", "PARTIAL_SUCCESS", "RUNNING"]
REG_TYPES = ["DELETE_INTERNAL", "DELETE_ONLY", "SUPPRESS_ONLY", "SUPPRESS_WITH_DELETE",
             "SUPPRESS_WITH_DELETE_INTERNAL", "UNSUPPRESS"]
RULE_TYPES = ["COMMON", "GROUP", "IDENTIFY", "PAGE", "SCREEN", "TRACK"]
AUDIT_TYPES = ["Source Created", "Source Modified", "Source Deleted", "Destination Created", "Destination Modified",
               "Destination Filter Created", "Tracking Plan Modified", "Warehouse Created", "Access Token Created",
               "User Invited", "Violations Detected", "Schema Event Blocked", "Integration Modified"]
AUDIT_RESOURCES = ["source", "destination", "warehouse", "tracking_plan", "workspace", "user", "function",
                   "destination_filter"]

# Names deliberately mix ASCII, accents, CJK and emoji.
NAME_WORDS = ["prod", "staging", "dev", "web", "ios", "android", "backend", "Café", "Ünïcödé", "données",
              "日本語", "数据", "서울", "🚀 launch", "💳 payments", "naïve", "Zürich", "marketing", "growth",
              "São Paulo", "test", "legacy", "ÆØÅ", "Ελληνικά", "Кириллица", "emoji 🎉", "mobile", "server"]
SOURCE_KINDS = [("javascript", "Javascript", "Website"), ("ios", "iOS", "Mobile"), ("android", "Android", "Mobile"),
                ("http-api", "HTTP API", "Server"), ("node-js", "Node.js", "Server"), ("python", "Python", "Server"),
                ("stripe", "Stripe", "Payments"), ("zendesk", "Zendesk", "Helpdesk"),
                ("salesforce", "Salesforce", "CRM"), ("hubspot", "HubSpot", "CRM"),
                ("react-native", "React Native", "Mobile"), ("go", "Go", "Server")]
DEST_KINDS = [("google-analytics", "Google Analytics"), ("amplitude", "Amplitude"), ("mixpanel", "Mixpanel"),
              ("webhooks", "Webhooks"), ("braze", "Braze"), ("intercom", "Intercom"), ("slack", "Slack"),
              ("facebook-pixel", "Facebook Pixel"), ("customer-io", "Customer.io"), ("actions-amplitude",
              "Actions Amplitude 📈"), ("hubspot", "HubSpot"), ("google-ads", "Google Ads Conversions")]
WH_KINDS = [("snowflake", "Snowflake"), ("bigquery", "BigQuery"), ("redshift", "Redshift"),
            ("postgres", "Postgres"), ("databricks", "Databricks"), ("azuresqldw", "Azure SQL DW")]
EVENT_NAMES = ["Order Completed", "Product Viewed", "Signed Up", "Checkout Started", "Cart Viewed",
               "Video Played", "Button Clicked", "注文完了", "Pédido Criado", "🎉 Celebrated"]


def iso(ts: dt.datetime, frac: bool = False) -> str:
    """ISO-8601 UTC with a Z; with or without milliseconds."""
    return ts.replace(tzinfo=None).isoformat(timespec="milliseconds" if frac else "seconds") + "Z"


def month_start(d: dt.date) -> dt.date:
    return d.replace(day=1)


def add_months(d: dt.date, n: int) -> dt.date:
    m = d.month - 1 + n
    return dt.date(d.year + m // 12, m % 12 + 1, 1)


def h64(*parts: Any) -> int:
    """Stable 64-bit hash of the parts (independent of PYTHONHASHSEED)."""
    return int.from_bytes(hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


_M64 = (1 << 64) - 1


def _mix64(x: int) -> int:
    """splitmix64 finaliser: cheap, well-mixed 64-bit integer hash."""
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def u01(*parts: Any) -> float:
    return h64(*parts) / 2.0 ** 64


class _Gen:
    def __init__(self, rng: random.Random):
        self.r = rng

    def id(self, n: int = 22) -> str:
        return self.r.randbytes(n).translate(_ID_TABLE).decode()

    def name(self, base: str) -> str:
        r = self.r
        w = r.choice(NAME_WORDS)
        return f"{base} {w}" if r.random() < 0.6 else f"{w} {base} {r.randint(1, 999)}"

    def ts(self, start: dt.datetime, end: dt.datetime) -> str:
        span = (end - start).total_seconds()
        t = start + dt.timedelta(seconds=self.r.random() * span)
        return iso(t, frac=self.r.random() < 0.5)

    def email(self, name: str) -> str:
        local = "".join(c for c in name.lower() if c in string.ascii_lowercase) or "user"
        return f"{local}.{self.id(5).lower()}@{self.r.choice(['example.com', 'acme.io', 'exämple.org', 'corp.test'])}"

    def settings(self, depth: int = 0) -> Dict[str, Any]:
        r = self.r
        s: Dict[str, Any] = {}
        if r.random() < 0.15 and depth == 0:
            return s
        for key in r.sample(["apiKey", "secretKey", "password", "token", "accessToken", "clientSecret"], r.randint(0, 2)):
            s[key] = self.id(r.randint(16, 40))
        for key in r.sample(["region", "endpoint", "trackNamedPages", "sampleRate", "siteId", "useBeacon",
                             "eventMappings", "dataCenter", "maxBatchSize", "notes"], r.randint(1, 4)):
            if key == "eventMappings":
                s[key] = [{"from": r.choice(EVENT_NAMES), "to": self.id(6)} for _ in range(r.randint(0, 3))]
            elif key in ("trackNamedPages", "useBeacon"):
                s[key] = r.random() < 0.5
            elif key in ("sampleRate", "maxBatchSize"):
                s[key] = r.choice([0.5, 1, 100, 1000, None])
            elif key == "notes":
                s[key] = r.choice(["", "ñandú 🐦", "多言語", None])
            else:
                s[key] = r.choice(["us-east-1", "eu-west-1", "https://api.example.com/v2", "EU", "US"])
        if depth == 0 and r.random() < 0.4:
            s["advanced"] = self.settings(depth + 1)
            if r.random() < 0.5:
                s["advanced"]["credentials"] = {"username": "svc", "password": self.id(20)}
        return s

    def logos(self) -> Dict[str, Any]:
        r = self.r
        lg: Dict[str, Any] = {"default": f"https://cdn.filepicker.io/api/file/{self.id(20)}"}
        x = r.random()
        if x < 0.4:
            lg["mark"] = f"https://cdn.filepicker.io/api/file/{self.id(20)}"
            lg["alt"] = f"https://cdn.filepicker.io/api/file/{self.id(20)}"
        elif x < 0.6:
            lg["mark"] = None
            lg["alt"] = None
        return lg

    def options(self) -> List[Dict[str, Any]]:
        r = self.r
        out = []
        for i in range(r.randint(0, 3)):
            o: Dict[str, Any] = {"name": r.choice(["apiKey", "region", "trackAllPages", "endpoint"]) + str(i),
                                 "required": r.random() < 0.5,
                                 "type": r.choice(["string", "boolean", "number", "array", "map"])}
            if r.random() < 0.7:
                o["description"] = r.choice(["Your API key", "Région de données", "", "追跡する"])
            if r.random() < 0.5:
                o["label"] = r.choice(["API Key", "Region", "Track pages"])
            if r.random() < 0.5:
                o["defaultValue"] = r.choice(["", False, 0, None, [], {}])
            out.append(o)
        return out



class UsageByPeriod(Mapping):
    """period "YYYY-MM-01" -> list of API-shaped daily cumulative rows; computed lazily and cached."""

    def __init__(self, ws: "Workspace", kind: str):
        self._ws, self._kind = ws, kind
        self._cache: Dict[str, List[Dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def periods(self) -> List[str]:
        out, p = [], self._ws.created_date.replace(day=1)
        while p <= self._ws.today:
            out.append(p.isoformat())
            p = add_months(p, 1)
        return out

    def __getitem__(self, period: str) -> List[Dict[str, Any]]:
        with self._lock:
            if period not in self._cache:
                if len(self._cache) > 64:
                    self._cache.clear()
                self._cache[period] = self._ws._usage_rows(self._kind, dt.date.fromisoformat(period))
            return self._cache[period]

    def __iter__(self) -> Iterator[str]:
        return iter(self.periods())

    def __len__(self) -> int:
        return len(self.periods())

    def __contains__(self, period: object) -> bool:
        return period in self.periods()


class EventVolume(Mapping):
    """(day "YYYY-MM-DD", sourceId, eventName, eventType) -> int; deterministic, computed on demand.

    Keys exist for every day in [history start, today] and every (source, event, type) triple of the workspace.
    """

    def __init__(self, ws: "Workspace"):
        self._ws = ws
        self.triples: List[Tuple[str, str, str]] = ws._event_triples
        self._triple_set = set(self.triples)
        self._profiles: Dict[Tuple[str, str, str], Tuple[int, int, bool]] = {}
        self._first, self._last = ws.created_date.toordinal(), ws.today.toordinal()

    def days(self) -> List[str]:
        d, out = self._ws.created_date, []
        while d <= self._ws.today:
            out.append(d.isoformat())
            d += dt.timedelta(days=1)
        return out

    def _profile(self, trip: Tuple[str, str, str]) -> Tuple[int, int, bool]:
        p = self._profiles.get(trip)
        if p is None:
            base = h64(self._ws.seed, "evbase", *trip)
            p = (base, 10 ** (base % 6), base % 7 == 0)  # (mix seed, daily scale 1..100k, sparse?)
            if trip[0] is None:
                # Sourceless groups cannot be reached by a sourceId filter; they are big (as traffic of a deleted
                # source would be) so a capped answer holds them; a connector must still verify that.
                p = (base, 10 ** 5, False)
            self._profiles[trip] = p
        return p

    def count(self, day: dt.date, source_id: str, event_name: str, event_type: str) -> int:
        """Events of that (source, name, type) on that UTC day; 0 outside the workspace history."""
        if day < self._ws.created_date or day > self._ws.today:
            return 0
        return self.count_ordinal(day.toordinal(), (source_id, event_name, event_type))

    def count_ordinal(self, ordinal: int, trip: Tuple[str, str, str]) -> int:
        if ordinal < self._first or ordinal > self._last:
            return 0
        base, scale, sparse = self._profile(trip)
        x = _mix64(base ^ (ordinal * 0x9E3779B97F4A7C15 & _M64))
        if sparse and x % 3:  # some triples only have events on ~1/3 of the days
            return 0
        weekday = 0.6 if (ordinal % 7) in (6, 0) else 1.0  # date.toordinal() % 7: 6 = Saturday, 0 = Sunday
        noise = 0.5 + (x >> 11) / 2.0 ** 53
        return int(scale * weekday * noise * 3)

    def __getitem__(self, key: Tuple[str, str, str, str]) -> int:
        day, sid, name, typ = key
        if (sid, name, typ) not in self._triple_set:
            raise KeyError(key)
        d = dt.date.fromisoformat(day)
        if d < self._ws.created_date or d > self._ws.today:
            raise KeyError(key)
        return self.count(d, sid, name, typ)

    def __iter__(self):
        for day in self.days():
            for t in self.triples:
                yield (day,) + t

    def __len__(self) -> int:
        return len(self.days()) * len(self.triples)


@dataclass
class Workspace:
    seed: int
    size: str
    today: dt.date
    # Legal-but-awkward answers the SDK models allow (issue 12): nameless/sourceless event volume groups,
    # functions without id, float periodStart/periodEnd, empty finishedAt. Decisions hash-based, so the
    # rest of the generated data stays identical to awkward=False.
    awkward: bool = False
    workspace: Dict[str, Any] = field(default_factory=dict)
    sources: List[Dict[str, Any]] = field(default_factory=list)
    destinations: List[Dict[str, Any]] = field(default_factory=list)
    warehouses: List[Dict[str, Any]] = field(default_factory=list)
    catalog_sources: List[Dict[str, Any]] = field(default_factory=list)
    catalog_destinations: List[Dict[str, Any]] = field(default_factory=list)
    catalog_warehouses: List[Dict[str, Any]] = field(default_factory=list)
    tracking_plans: List[Dict[str, Any]] = field(default_factory=list)
    users: List[Dict[str, Any]] = field(default_factory=list)
    user_details: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    groups: List[Dict[str, Any]] = field(default_factory=list)
    roles: List[Dict[str, Any]] = field(default_factory=list)
    invites: List[str] = field(default_factory=list)
    labels: List[Dict[str, Any]] = field(default_factory=list)
    transformations: List[Dict[str, Any]] = field(default_factory=list)
    functions: List[Dict[str, Any]] = field(default_factory=list)
    spaces: List[Dict[str, Any]] = field(default_factory=list)
    reverse_etl_models: List[Dict[str, Any]] = field(default_factory=list)
    regulations: List[Dict[str, Any]] = field(default_factory=list)
    audit_events: List[Dict[str, Any]] = field(default_factory=list)
    usage_api_calls_workspace: Any = None
    usage_api_calls_per_source: Any = None
    usage_mtu_workspace: Any = None
    usage_mtu_per_source: Any = None
    event_volume: Any = None
    source_connected_destinations: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)
    source_connected_warehouses: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)
    source_settings: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    warehouse_connected_sources: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)
    destination_subscriptions: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)
    destination_filters: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)
    delivery_metrics: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    tracking_plan_rules: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)
    tracking_plan_sources: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)
    group_users: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)
    deleted_ids: Dict[str, Set[str]] = field(default_factory=dict)
    created_date: dt.date = None  # type: ignore[assignment]
    source_by_id: Dict[str, Dict[str, Any]] = field(default_factory=dict, repr=False)
    destination_by_id: Dict[str, Dict[str, Any]] = field(default_factory=dict, repr=False)
    warehouse_by_id: Dict[str, Dict[str, Any]] = field(default_factory=dict, repr=False)
    plan_by_id: Dict[str, Dict[str, Any]] = field(default_factory=dict, repr=False)
    group_by_id: Dict[str, Dict[str, Any]] = field(default_factory=dict, repr=False)
    _event_triples: List[Tuple[str, str, str]] = field(default_factory=list, repr=False)
    _usage_profile: Dict[str, Tuple[float, float]] = field(default_factory=dict, repr=False)
    _audit_epochs: List[float] = field(default_factory=list, repr=False)

    def __repr__(self) -> str:
        return f"Workspace(size={self.size!r}, seed={self.seed}, sources={len(self.sources)}, destinations={len(self.destinations)})"

    # ------------------------------------------------------------------ usage
    def _usage_rows(self, kind: str, period: dt.date) -> List[Dict[str, Any]]:
        if period.day != 1:
            return []
        created_month = self.created_date.replace(day=1)
        if period < created_month or period > self.today:
            return []
        last_day = calendar.monthrange(period.year, period.month)[1]
        end = min(period.replace(day=last_day), self.today)
        days = [period + dt.timedelta(days=i) for i in range((end - period).days + 1)]
        next_month = add_months(period, 1)
        p_start = calendar.timegm(period.timetuple())
        p_end = calendar.timegm(next_month.timetuple())
        if self.awkward:  # MtuSnapshotV1 types them as JSON numbers: a float is legal
            p_start, p_end = float(p_start), float(p_end)
        per_source = kind.endswith("per_source")
        is_mtu = kind.startswith("mtu")
        rows: List[Dict[str, Any]] = []
        totals_by_day = [[0, 0, 0, 0] for _ in days]
        for s in self.sources:
            sid = s["id"]
            api_scale, mtu_scale = self._usage_profile[sid]
            cum = [0, 0, 0, 0]
            for i, d in enumerate(days):
                o = d.toordinal()
                if is_mtu:
                    # new unique users that day, split into the 4 MTU buckets
                    base = mtu_scale * (0.3 + u01(self.seed, "mtu", sid, o))
                    cum[0] += int(base * 0.5)
                    cum[1] += int(base * 0.1)
                    cum[2] += int(base * 0.3)
                    cum[3] += int(base * 0.45)
                else:
                    cum[0] += int(api_scale * (0.2 + u01(self.seed, "api", sid, o)))
                t = totals_by_day[i]
                for k in range(4):
                    t[k] += cum[k]
                if per_source:
                    rows.append(self._usage_row(is_mtu, cum, d, p_start, p_end, sid))
        if not per_source:
            rows = [self._usage_row(is_mtu, t, d, p_start, p_end, None) for t, d in zip(totals_by_day, days)]
        else:
            rows.sort(key=lambda r: (r["timestamp"], r["sourceId"]))
        return rows

    @staticmethod
    def _usage_row(is_mtu, cum, d, p_start, p_end, sid):
        ts = d.strftime("%Y-%m-%dT00:00:00Z")
        row: Dict[str, Any] = {}
        if sid is not None:
            row["sourceId"] = sid
        if is_mtu:
            row.update(periodStart=p_start, periodEnd=p_end, anonymous=str(cum[0]), anonymousIdentified=str(cum[1]),
                       identified=str(cum[2]), neverIdentified=str(cum[3]))
        else:
            row["apiCalls"] = str(cum[0])
        row["timestamp"] = ts
        return row


def generate(seed: int, size: str, today: dt.date, deleted_parents: int = 0, awkward: bool = False) -> Workspace:
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; expected one of {sorted(SIZES)}")
    cfg = SIZES[size]
    rng = random.Random(f"segment-sim:{seed}:{size}")
    g = _Gen(rng)
    r = rng
    ws = Workspace(seed=seed, size=size, today=today)
    ws.awkward = awkward
    ws.created_date = month_start(today - dt.timedelta(days=cfg["history_days"]))
    now = dt.datetime.combine(today, dt.time(0), tzinfo=UTC)  # anchor: start of "today"
    t0 = dt.datetime.combine(ws.created_date, dt.time(0), tzinfo=UTC)
    ws_id = g.id()
    ws.workspace = {"id": ws_id, "slug": f"acme-{size}-{seed}", "name": f"Acme {size.title()} Wörkspace 🚀 #{seed}"}

    # ------------------------------------------------------------ catalogs
    n_cat = cfg["catalog"]
    for i in range(n_cat):
        slug, nm, cat = SOURCE_KINDS[i % len(SOURCE_KINDS)]
        if i >= len(SOURCE_KINDS):
            slug, nm = f"{slug}-{i}", f"{nm} {i}"
        m: Dict[str, Any] = {"id": g.id(10), "name": nm, "slug": slug,
                             "description": r.choice(["", "Collect events from " + nm, "Données 📊 " + nm]),
                             "logos": g.logos(), "options": g.options(),
                             "categories": [cat] + (["Analytics"] if r.random() < 0.3 else []),
                             "isCloudEventSource": cat not in ("Website", "Mobile", "Server"),
                             "status": r.choice(CATALOG_STATUS)}
        if r.random() < 0.3:
            m["partnerOwned"] = r.random() < 0.5
        ws.catalog_sources.append(m)
    for i in range(n_cat):
        slug, nm = DEST_KINDS[i % len(DEST_KINDS)]
        if i >= len(DEST_KINDS):
            slug, nm = f"{slug}-{i}", f"{nm} {i}"
        actions = []
        for j in range(r.randint(0, 3) if "actions" in slug or r.random() < 0.4 else 0):
            actions.append({"id": g.id(12), "slug": f"action{j}", "name": f"Send Event {j}",
                            "description": "Send an event", "platform": r.choice(["CLOUD", "WEB", "MOBILE"]),
                            "hidden": r.random() < 0.1, "defaultTrigger": r.choice(['type = "track"', None]),
                            "fields": [{"id": g.id(12), "sortOrder": k, "fieldKey": f"field{k}", "label": f"Field {k}",
                                        "type": r.choice(["STRING", "BOOLEAN", "OBJECT", "PASSWORD"]),
                                        "description": "", "required": r.random() < 0.3, "multiple": False,
                                        "dynamic": False, "allowNull": r.random() < 0.5}
                                       for k in range(r.randint(0, 2))]})
        m = {"id": g.id(10), "name": nm, "description": r.choice(["", "Send data to " + nm, "送信先 " + nm]),
             "slug": slug, "logos": g.logos(), "options": g.options(), "status": r.choice(CATALOG_STATUS),
             "previousNames": [nm] + ([nm + " (Legacy)"] if r.random() < 0.3 else []),
             "categories": r.sample(["Analytics", "Marketing Automation", "Email", "Advertising", "CRM"], r.randint(0, 2)),
             "website": f"https://{slug}.example.com",
             "components": [{"code": f"https://github.com/segmentio/{slug}", "type": r.choice(["BROWSER", "SERVER", "IOS", "ANDROID"]),
                             **({"owner": r.choice(["SEGMENT", "PARTNER"])} if r.random() < 0.7 else {})}
                            for _ in range(r.randint(0, 2))],
             "supportedFeatures": {k: v for k, v in {"cloudModeInstances": r.choice(["0", "1", "MULTIPLE", "NONE", "SINGLE"]),
                                                     "deviceModeInstances": r.choice(["0", "1", "NONE", "SINGLE"]),
                                                     "replay": r.random() < 0.5, "browserUnbundling": r.random() < 0.5,
                                                     "browserUnbundlingPublic": r.random() < 0.5}.items() if r.random() < 0.8},
             "supportedMethods": {k: r.random() < 0.7 for k in ("track", "pageview", "identify", "group", "alias")},
             "supportedPlatforms": {k: r.random() < 0.6 for k in ("browser", "server", "mobile")},
             "actions": actions,
             "presets": [{"actionId": a["id"], "name": "Default " + a["name"], "fields": {}, "trigger": 'type = "track"'}
                         for a in actions[:1]]}
        if r.random() < 0.3:
            m["contacts"] = [{"name": "Jöhn Partner", "email": "partner@example.com", "role": "Owner", "isPrimary": True}]
        if r.random() < 0.3:
            m["partnerOwned"] = r.random() < 0.5
        if r.random() < 0.3:
            m["supportedRegions"] = ["us-west-2", "eu-west-1"]
            m["regionEndpoints"] = ["US", "EU"]
        if r.random() < 0.2:
            m["multiInstanceSupportedVersion"] = r.choice(["SUPPORTED", "UNSUPPORTED"])
        ws.catalog_destinations.append(m)
    for i in range(max(2, min(n_cat, len(WH_KINDS) * 2))):
        slug, nm = WH_KINDS[i % len(WH_KINDS)]
        if i >= len(WH_KINDS):
            slug, nm = f"{slug}-{i}", f"{nm} {i}"
        ws.catalog_warehouses.append({"id": g.id(10), "name": nm, "slug": slug,
                                      "description": r.choice(["", "Load data into " + nm]),
                                      "logos": g.logos(), "options": g.options()})

    # ------------------------------------------------------------ labels
    for i in range(cfg["labels"]):
        lb: Dict[str, Any] = {"key": r.choice(["environment", "team", "région", "優先度", "tier"]) + ("" if i < 5 else str(i)),
                              "value": r.choice(["prod", "dev", "staging", "growth", "🔥hot", "低"]) + str(i)}
        if r.random() < 0.5:
            lb["description"] = r.choice(["", "Environment label", "Étiquette"])
        ws.labels.append(lb)

    # ------------------------------------------------------------ sources
    n_src = cfg["sources"]
    for i in range(n_src):
        meta = ws.catalog_sources[r.randrange(len(ws.catalog_sources))]
        src: Dict[str, Any] = {"id": g.id(), "slug": f"{meta['slug']}_{i}_{g.id(4).lower()}"}
        x = r.random()
        if x < 0.8:
            src["name"] = g.name(meta["name"])
        elif x < 0.9:
            src["name"] = None
        # else: name absent
        src.update(workspaceId=ws_id, enabled=r.random() < 0.85,
                   writeKeys=[g.id(32) for _ in range(r.choice([0, 1, 1, 1, 2]))],
                   metadata=meta, labels=r.sample(ws.labels, min(len(ws.labels), r.choice([0, 0, 1, 2]))))
        if r.random() < 0.85:
            src["settings"] = g.settings()
        ws.sources.append(src)
        ws.source_by_id[src["id"]] = src
        # usage profile: log-uniform scale; the first source is a big one so cumulative counts pass 2**31
        api_scale = 1.2e8 if i == 0 else 10 ** r.uniform(1, 7.5)
        ws._usage_profile[src["id"]] = (api_scale, 10 ** r.uniform(0.5, 5))

    # ------------------------------------------------------------ destinations
    src_ids = [s["id"] for s in ws.sources]
    for s in ws.sources:
        ws.source_connected_destinations[s["id"]] = []
    for i in range(cfg["destinations"]):
        meta = ws.catalog_destinations[r.randrange(len(ws.catalog_destinations))]
        # skew: some sources get many destinations, the last source gets none
        sid = src_ids[min(int(r.random() ** 2 * (len(src_ids) - 1)), len(src_ids) - 2)] if len(src_ids) > 1 else src_ids[0]
        d: Dict[str, Any] = {"id": g.id(), "enabled": r.random() < 0.8, "metadata": meta, "sourceId": sid,
                             "settings": g.settings()}
        x = r.random()
        if x < 0.8:
            d["name"] = g.name(meta["name"])
        elif x < 0.9:
            d["name"] = None
        ws.destinations.append(d)
        ws.destination_by_id[d["id"]] = d
        ws.source_connected_destinations[sid].append(d)

    # ------------------------------------------------------------ warehouses
    for i in range(cfg["warehouses"]):
        meta = ws.catalog_warehouses[r.randrange(len(ws.catalog_warehouses))]
        w = {"id": g.id(), "metadata": meta, "workspaceId": ws_id, "enabled": r.random() < 0.8,
             "settings": {"name": g.name(meta["name"]), "hostname": f"{g.id(8).lower()}.db.example.com",
                          "port": 5432, "username": "segment", "password": g.id(24), "database": "analytics"}}
        if r.random() < 0.2:
            w["settings"] = {}
        ws.warehouses.append(w)
        ws.warehouse_by_id[w["id"]] = w
    for s in ws.sources:
        ws.source_connected_warehouses[s["id"]] = []
    for w in ws.warehouses:
        conn = [] if (w is ws.warehouses[-1] and len(ws.warehouses) > 1) else \
            r.sample(ws.sources, min(len(ws.sources), r.randint(1, max(1, min(30, len(ws.sources) // 2)))))
        conn.sort(key=lambda s: src_ids.index(s["id"]) if len(src_ids) < 100 else 0)
        ws.warehouse_connected_sources[w["id"]] = conn
        for s in conn:
            ws.source_connected_warehouses[s["id"]].append(w)

    # ------------------------------------------------------------ source settings (schema settings)
    for s in ws.sources:
        st: Dict[str, Any] = {}
        if r.random() < 0.7:
            st["track"] = {k: v for k, v in {"allowUnplannedEvents": r.random() < 0.5,
                                             "allowUnplannedEventProperties": r.random() < 0.5,
                                             "allowEventOnViolations": r.random() < 0.5,
                                             "allowPropertiesOnViolations": r.random() < 0.5,
                                             "commonEventOnViolations": r.choice(["ALLOW", "BLOCK", "OMIT_PROPERTIES"])
                                             }.items() if r.random() < 0.85}
        for k in ("identify", "group"):
            if r.random() < 0.5:
                st[k] = {"allowTraitsOnViolations": r.random() < 0.5, "allowUnplannedTraits": r.random() < 0.5,
                         "commonEventOnViolations": r.choice(["ALLOW", "BLOCK", "OMIT_TRAITS"])}
        if r.random() < 0.3:
            st["forwardingViolationsTo"] = r.choice(src_ids)
        if r.random() < 0.2:
            st["forwardingBlockedEventsTo"] = r.choice(src_ids)
        ws.source_settings[s["id"]] = st

    # ------------------------------------------------------------ destination children
    n_sub = cfg["subscriptions"]
    n_fil = cfg["filters"]
    for d in ws.destinations:
        subs = []
        for j in range(r.randint(0, n_sub)):
            sub: Dict[str, Any] = {"id": g.id(), "name": r.choice(["Track Calls", "Identify → Upsert", "Page Views 📄"]) + f" {j}",
                                   "actionId": g.id(12), "actionSlug": r.choice(["trackEvent", "identifyUser", "pageView"]),
                                   "destinationId": d["id"], "enabled": r.random() < 0.8,
                                   "settings": {"mapping": {"event": {"@path": "$.event"}}, "batch_size": r.choice([100, None])},
                                   "trigger": r.choice(['type = "track"', 'type = "identify"', 'event = "Order Completed"'])}
            if r.random() < 0.2:
                sub["modelId"] = g.id()
                sub["reverseETLSchedule"] = {"strategy": "PERIODIC", "config": {"interval": "1h"}}
            subs.append(sub)
        ws.destination_subscriptions[d["id"]] = subs
        fils = []
        for j in range(r.randint(0, n_fil)):
            f: Dict[str, Any] = {"id": g.id(), "sourceId": d["sourceId"], "destinationId": d["id"],
                                 "if": r.choice(['event = "Order Completed"', 'type = "page"', "all"]),
                                 "actions": [r.choice([{"type": "DROP"}, {"type": "SAMPLE", "percent": 0.5, "path": ""},
                                                      {"type": "DROP_PROPERTIES", "fields": {"properties": ["email"]}},
                                                      {"type": "ALLOW_PROPERTIES", "fields": {"context": ["ip"]}}])],
                                 "title": r.choice(["Drop PII", "Sample 50%", "Filtre données 🧹"]) + f" {j}",
                                 "enabled": r.random() < 0.7}
            if r.random() < 0.6:
                f["description"] = r.choice(["", "Removes PII", "個人情報"])
            c = g.ts(t0, now)
            f["createdAt"] = c
            f["updatedAt"] = c if r.random() < 0.5 else g.ts(t0, now)
            fils.append(f)
        ws.destination_filters[d["id"]] = fils
        ws.delivery_metrics[d["id"]] = {"sourceId": d["sourceId"], "destinationMetadataId": d["metadata"]["id"],
                                        "metrics": _delivery_metrics_template(r)}

    # ------------------------------------------------------------ tracking plans + rules
    for i in range(cfg["plans"]):
        tp: Dict[str, Any] = {"id": "tp_" + g.id(), "type": PLAN_TYPES[i % len(PLAN_TYPES)] if i < len(PLAN_TYPES) else r.choice(PLAN_TYPES)}
        if r.random() < 0.9:
            tp["name"] = g.name("Tracking Plan")
        if r.random() < 0.7:
            tp["slug"] = f"plan-{i}"
        if r.random() < 0.5:
            tp["description"] = r.choice(["", "Main plan", "Plan de suivi ✨"])
        if r.random() < 0.9:
            c = g.ts(t0, now)
            tp["createdAt"] = c
            tp["updatedAt"] = g.ts(t0, now) if r.random() < 0.7 else c
        ws.tracking_plans.append(tp)
        ws.plan_by_id[tp["id"]] = tp
        n_rules = 0 if i == len(range(cfg["plans"])) - 1 else r.randint(cfg["rules"] // 2, cfg["rules"] * 3 // 2)
        rules, seen = [], set()
        for j in range(n_rules):
            typ = r.choice(RULE_TYPES + ["TRACK", "TRACK", "TRACK"])
            key = r.choice(EVENT_NAMES) + ("" if r.random() < 0.5 else f" v{j}") if typ == "TRACK" else \
                (None if r.random() < 0.5 else r.choice(["traits", "context", "properties"]))
            ver = r.choice([1, 1, 1, 2, 3])
            if (typ, key, ver) in seen:
                continue
            seen.add((typ, key, ver))
            rule: Dict[str, Any] = {"type": typ}
            if key is not None:
                rule["key"] = key
            rule["jsonSchema"] = r.choice([
                {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                 "properties": {"properties": {"type": "object", "properties": {
                     "revenue": {"type": ["number", "null"]}, "currency": {"enum": ["USD", "EUR", "¥"]},
                     "items": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string"}}}}},
                     "required": ["revenue"]}}},
                {"type": "object", "properties": {"traits": {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}}}},
                {}, None])
            rule["version"] = ver
            if r.random() < 0.9:
                c = g.ts(t0, now)
                rule["createdAt"] = c
                rule["updatedAt"] = g.ts(t0, now) if r.random() < 0.5 else c
            if r.random() < 0.1:
                rule["deprecatedAt"] = g.ts(t0, now)
            rules.append(rule)
        ws.tracking_plan_rules[tp["id"]] = rules
        ws.tracking_plan_sources[tp["id"]] = [] if r.random() < 0.3 else r.sample(ws.sources, min(len(ws.sources), r.randint(1, 4)))

    # ------------------------------------------------------------ roles, users, groups, invites
    role_names = ["Workspace Owner", "Workspace Member", "Source Admin", "Source Read-only", "Tracking Plan Admin",
                  "Tracking Plan Read-only", "Warehouse Admin", "Entities Admin", "Engage User", "Functions Admin",
                  "Unify and Engage Admin", "Personas Read-only", "Privacy Admin", "Billing Admin", "Rôle spécial"]
    for i in range(cfg["roles"]):
        nm = role_names[i % len(role_names)] + ("" if i < len(role_names) else f" {i}")
        ws.roles.append({"id": g.id(), "name": nm, "description": r.choice(["", f"Grants {nm} access", "権限"])})

    def permissions() -> List[Dict[str, Any]]:
        out = []
        for _ in range(r.randint(0, 2)):
            role = r.choice(ws.roles)
            res = [{"id": ws_id, "type": "WORKSPACE"}] if r.random() < 0.5 else \
                [{"id": r.choice(ws.sources)["id"], "type": "SOURCE", **({"labels": r.sample(ws.labels, 1)} if r.random() < 0.2 else {})}]
            p: Dict[str, Any] = {"roleName": role["name"], "roleId": role["id"], "resources": res}
            if r.random() < 0.2:
                p["labels"] = r.sample(ws.labels, min(1, len(ws.labels)))
            out.append(p)
        return out

    for i in range(cfg["users"]):
        nm = r.choice(["Ana", "Björn", "Chloé", "Dmitri", "Eun-ji", "Fátima", "Giorgos", "Hiroshi", "Ingrid", "José",
                       "王芳", "Zoë", "Łukasz", "Ñusta"]) + " " + r.choice(["Smith", "Müller", "Dubois", "García", "佐藤", "O'Brien", "Nguyễn"])
        u = {"id": g.id(), "name": nm, "email": g.email(nm)}
        full = dict(u, permissions=permissions())
        ws.user_details[u["id"]] = full
        ws.users.append(full if r.random() < 0.5 else u)
    for i in range(cfg["groups"]):
        members = [] if i == cfg["groups"] - 1 else r.sample(ws.users, min(len(ws.users), r.randint(1, max(1, len(ws.users) // 3))))
        grp: Dict[str, Any] = {"id": g.id(), "name": r.choice(["Engineering", "Marketing 📣", "Données", "Analytics", "サポート"]) + f" {i}",
                               "memberCount": len(members)}
        if r.random() < 0.7:
            grp["permissions"] = permissions()
        ws.groups.append(grp)
        ws.group_by_id[grp["id"]] = grp
        ws.group_users[grp["id"]] = [{"id": m["id"], "name": m["name"], "email": m["email"]} for m in members]
    ws.invites = [g.email(r.choice(["new", "pending", "invitee", "contractor"])) for _ in range(cfg["invites"])]

    # ------------------------------------------------------------ transformations, functions, spaces, models, regulations
    for i in range(cfg["transformations"]):
        t: Dict[str, Any] = {"id": g.id(), "name": g.name("Transform"), "sourceId": r.choice(src_ids),
                             "enabled": r.random() < 0.7, "if": r.choice(['event = "Order Completed"', 'type = "identify"', "all"])}
        if r.random() < 0.5:
            t["destinationMetadataId"] = r.choice(ws.catalog_destinations)["id"]
        if r.random() < 0.3:
            t["newEventName"] = r.choice(EVENT_NAMES)
        if r.random() < 0.5:
            t["propertyRenames"] = [{"oldName": "ip", "newName": "ip_address"}] if r.random() < 0.8 else []
        if r.random() < 0.2:
            t["drop"] = r.random() < 0.5
        if r.random() < 0.2:
            t["allowProperties"] = r.sample(["email", "plan", "revenue", "nom_complet"], r.randint(0, 3))
        if r.random() < 0.2:
            t["fqlDefinedProperties"] = [{"fql": "lowercase(properties.email)", "propertyName": "properties.email_lc"}]
        if r.random() < 0.1:
            t["propertyValueTransformations"] = [{"propertyPaths": ["properties.plan"], "propertyValue": "🆓 free"}]
        ws.transformations.append(t)
    for typ in FUNCTION_TYPES:
        for j in range(max(0 if typ.startswith("INSERT_T") and size == "tiny" else 1, r.randint(cfg["functions"] // 2, cfg["functions"]))):
            fn: Dict[str, Any] = {"id": g.id(), "resourceType": typ}
            if r.random() < 0.9:
                fn["createdAt"] = g.ts(t0, now)
            if r.random() < 0.8:
                fn["createdBy"] = r.choice(ws.users)["id"]
            if r.random() < 0.9:
                fn["displayName"] = g.name("Function")
            if r.random() < 0.5:
                fn["description"] = r.choice(["", "Enriches events", "Fonction ✨"])
            if r.random() < 0.4:
                fn["logoUrl"] = f"https://cdn.example.com/{g.id(8)}.png"
            if r.random() < 0.5:
                fn["catalogId"] = g.id(10)
            if awkward and (j == 0 and typ == "SOURCE" or u01(seed, "fn-noid", fn["id"]) < 0.15):
                del fn["id"]  # ListFunctionItemV1: every field optional
            ws.functions.append(fn)
    for i in range(cfg["spaces"]):
        ws.spaces.append({"id": "spa_" + g.id(), "slug": f"space-{i}", "name": g.name("Space")})
    for i in range(cfg["models"]):
        ws.reverse_etl_models.append({"id": g.id(), "sourceId": r.choice(src_ids), "name": g.name("Model"),
                                      "description": r.choice(["", "Daily users", "Modèle"]), "enabled": r.random() < 0.7,
                                      "query": "SELECT id, email FROM users WHERE updated_at > now() - interval '1 day'",
                                      "queryIdentifierColumn": "id"})
    for i in range(cfg["regulations"]):
        st = r.choice(REG_STATUS)
        reg: Dict[str, Any] = {"id": g.id(), "subjectType": r.choice(["USER_ID", "ANONYMOUS_ID", "OBJECT_ID"]),
                               "subjects": [g.id(12) for _ in range(r.randint(1, 3))], "status": st,
                               "createdAt": g.ts(now - dt.timedelta(days=89), now),
                               "regulationType": r.choice(REG_TYPES)}
        if st in ("FINISHED", "FAILED", "PARTIAL_SUCCESS"):
            reg["finishedAt"] = g.ts(now - dt.timedelta(days=10), now)
        elif awkward and u01(seed, "reg-empty", reg["id"]) < 0.3:
            reg["finishedAt"] = ""  # a plain string in the SDK: empty is legal
        ws.regulations.append(reg)

    # ------------------------------------------------------------ audit events (any order in the list)
    users_sample = ws.users[:50]
    start90 = now.timestamp() - 90 * 86400
    span = 90 * 86400
    resources = [("source", s) for s in ws.sources[:200]] + [("destination", d) for d in ws.destinations[:200]]
    n_res, n_usr, n_typ = len(resources), len(users_sample), len(AUDIT_TYPES)
    ids = r.randbytes(cfg["audit"] * 27).translate(_ID_TABLE).decode()
    rand = r.random
    for i in range(cfg["audit"]):
        x = start90 + rand() * span
        frac = rand() < 0.5
        x = int(x * 1000) / 1000.0 if frac else float(int(x))
        t = dt.datetime.fromtimestamp(x, UTC).replace(tzinfo=None)
        rtype, res = resources[int(rand() * n_res)]
        actor = users_sample[int(rand() * n_usr)]
        ev: Dict[str, Any] = {"id": ids[i * 27:(i + 1) * 27],
                              "timestamp": t.isoformat(timespec="milliseconds" if frac else "seconds") + "Z",
                              "type": AUDIT_TYPES[int(rand() * n_typ)], "actor": actor["id"] if rand() < 0.9 else "system"}
        if rand() < 0.8:
            ev["actorEmail"] = actor["email"]
        ev["resourceId"] = res["id"]
        ev["resourceType"] = rtype
        ev["resourceName"] = res.get("name") or ""
        ws.audit_events.append(ev)
        ws._audit_epochs.append(x)

    # ------------------------------------------------------------ event volume universe
    types = ["track"] * 4 + ["identify", "page", "screen", "group"]
    for s in ws.sources:
        for name in r.sample(EVENT_NAMES, r.randint(1, 4)):
            ws._event_triples.append((s["id"], name, "track"))
        for t in r.sample(types[4:], r.randint(0, 2)):
            # identify/page/screen/group calls have no event name (SourceEventVolumeV1.eventName is optional)
            ws._event_triples.append((s["id"], None if awkward else t, t))
        if awkward and u01(seed, "alias", s["id"]) < 0.2:
            ws._event_triples.append((s["id"], None, "alias"))
    if awkward and ws.sources:
        # Groups without a source, and one without an event type: the SDK makes both optional.
        ws._event_triples.extend([(None, EVENT_NAMES[0], "track"), (None, None, "identify"),
                                  (ws.sources[0]["id"], None, None)])
    ws.event_volume = EventVolume(ws)
    ws.usage_api_calls_workspace = UsageByPeriod(ws, "api_workspace")
    ws.usage_api_calls_per_source = UsageByPeriod(ws, "api_per_source")
    ws.usage_mtu_workspace = UsageByPeriod(ws, "mtu_workspace")
    ws.usage_mtu_per_source = UsageByPeriod(ws, "mtu_per_source")

    # ------------------------------------------------------------ deleted parents (still listed; children 404)
    n = max(0, int(deleted_parents))
    pick = random.Random(f"deleted:{seed}")
    ws.deleted_ids = {
        "sources": {s["id"] for s in pick.sample(ws.sources, min(n, len(ws.sources)))},
        "destinations": {d["id"] for d in pick.sample(ws.destinations, min(n, len(ws.destinations)))},
        "warehouses": {w["id"] for w in pick.sample(ws.warehouses, min(n, len(ws.warehouses)))},
        "tracking_plans": {t["id"] for t in pick.sample(ws.tracking_plans, min(n, len(ws.tracking_plans)))},
        "groups": {x["id"] for x in pick.sample(ws.groups, min(n, len(ws.groups)))},
    }
    from .history import ensure_reverse_etl_subscription  # issue 13: every workspace holds reverse-ETL syncs

    ensure_reverse_etl_subscription(ws)
    return ws


def _delivery_metrics_template(r: random.Random) -> List[Dict[str, Any]]:
    out = []
    for name in ("successes", "failures", "retries", "discarded"):
        total = r.randint(0, 100000)
        m: Dict[str, Any] = {"metricName": name, "total": total}
        if name in ("failures", "discarded") and total:
            a = r.randint(0, total)
            m["breakdown"] = [{"metricName": "Bad Request", "value": a}, {"metricName": "Rate Limited", "value": total - a}]
        out.append(m)
    return out
